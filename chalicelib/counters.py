"""Fixed-window counters (``pk = "rl#..."``) for the limiter: one item per window, each
change a single conditional ADD (see ``DynamoDBCounterStore``)."""

from __future__ import annotations

import abc
from typing import Any

from chalicelib.dynamodb import ConditionFailed, _DynamoDBTable, marshal


class CounterFull(Exception):
    """A counter is at its limit (or its window is suspended); ``item`` is its state."""

    def __init__(self, item: dict[str, int | bool]) -> None:
        super().__init__("counter full")
        self.item = item


class CounterStore(abc.ABC):
    @abc.abstractmethod
    def increment(
        self, key: str, limit: int, expires_at: int, honour_suspension: bool = True
    ) -> dict[str, int]:
        """Add one to ``key``'s count unless it reached ``limit`` or is suspended (unless told
        to pass a suspension); returns the item's counts after the write. Raises CounterFull."""

    @abc.abstractmethod
    def add(self, key: str, attribute: str, expires_at: int) -> None:
        """Add one to another count on ``key`` (no limit)."""

    @abc.abstractmethod
    def suspend(self, key: str, expires_at: int) -> None:
        """Mark ``key``'s window suspended: ``increment`` refuses until the window ends."""

    @abc.abstractmethod
    def release(self, key: str) -> None:
        """Give back one count that ``increment`` added for a request that was then refused."""


class DynamoDBCounterStore(_DynamoDBTable, CounterStore):
    def increment(
        self, key: str, limit: int, expires_at: int, honour_suspension: bool = True
    ) -> dict[str, int]:
        # Condition: under the limit and (unless a trusted number passes a breaker's
        # suspension) not suspended. DynamoDB serialises writes on the item, so N concurrent
        # increments succeed exactly min(N, limit - count) times.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry would count the request a
        # second time (or, at the limit, refuse it on its own count): the token makes it find
        # its own write. If another request's increment lands between t0 and t2 (the token is
        # then theirs), the retry counts again: one over-count, the conservative side, only
        # when a lost answer meets a concurrent request on the same counter.
        under_limit = "(attribute_not_exists(n) OR n < :limit)"
        try:
            item = self._update(
                key,
                "ADD n :one SET expires_at = :expires",
                f"attribute_not_exists(suspended) AND {under_limit}" if honour_suspension else under_limit,
                {":one": 1, ":limit": limit, ":expires": expires_at},
                returns=True,
                token=True,
            )
        except ConditionFailed as exc:
            raise CounterFull(_counts(exc.item)) from None
        return _counts(item)

    def add(self, key: str, attribute: str, expires_at: int) -> None:
        # No condition but the token's: a retry after a lost answer does not count twice.
        self._update(key, "ADD #a :one SET expires_at = :expires", "",
                     {":one": 1, ":expires": expires_at}, names={"#a": attribute}, token=True)

    def release(self, key: str) -> None:
        # Condition: the count is above zero. A compensating write for our own increment of
        # this window, so the item exists unless TTL removed it meanwhile; then the
        # condition fails (n does not exist) and nothing is written: a give-back never makes
        # an item nor a negative count. Concurrent increments and give-backs commute (ADD).
        # A retry after a lost answer finds its token and gives back nothing more.
        try:
            self._update(key, "ADD n :minus_one", "n > :zero", {":minus_one": -1, ":zero": 0},
                         token=True)
        except ConditionFailed:
            pass

    def suspend(self, key: str, expires_at: int) -> None:
        self._call(
            "update_item",
            Key={"pk": {"S": key}},
            UpdateExpression="SET suspended = :yes, expires_at = :expires",
            ExpressionAttributeValues=marshal({":yes": 1, ":expires": expires_at}),
        )


def _counts(item: dict[str, Any] | None) -> dict[str, int]:
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v}

