"""Fixed-window counters (``pk = "rl#..."``) for the limiter: one item per window, each
change a single conditional ADD (see ``DynamoDBCounterStore``).

A breaker's counter (prefix, country) keeps, beside ``n`` (every channel's sends: the limit),
each channel's own sends, approvals and suspension on the same item: ``n_sms``,
``approvals_whatsapp``, ``suspended_voice`` (``per_channel``). So one channel's conversion
never suspends another, and a send still costs one write."""

from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, DynamoDBTable


class CounterFull(Exception):
    """A counter is at its limit (or its window is suspended); ``item`` is its state."""

    def __init__(self, item: dict[str, int | bool]) -> None:
        super().__init__("counter full")
        self.item = item


def per_channel(attribute: str, channel: str) -> str:
    """A breaker counter's attribute for one channel: ``per_channel("n", "sms") == "n_sms"``."""
    return f"{attribute}_{channel}"


class CounterStore(abc.ABC):
    @abc.abstractmethod
    def increment(
        self, key: str, limit: int, expires_at: int, honour_suspension: bool = True,
        channel: str | None = None, sampled: bool = True,
    ) -> dict[str, int]:
        """Add one to ``key``'s count unless it reached ``limit`` or is suspended (unless told
        to pass a suspension); returns the item's counts after the write. Raises CounterFull.
        With a ``channel``, the send also counts on that channel's own count, and only that
        channel's suspension refuses it; ``sampled`` False: ``n`` only (the channel's
        suspension still refuses it), kept out of the channel's conversion sample."""

    @abc.abstractmethod
    def add(self, key: str, attribute: str, expires_at: int) -> None:
        """Add one to another count on ``key`` (no limit)."""

    @abc.abstractmethod
    def suspend(self, key: str, expires_at: int, channel: str | None = None) -> None:
        """Mark ``key``'s window suspended (for ``channel`` only, when given): ``increment``
        refuses until the window ends. The send that trips it is refused, so its count (``n``
        and the channel's) is given back in the same write."""

    @abc.abstractmethod
    def release(self, key: str, channel: str | None = None) -> None:
        """Give back every count that ``increment`` added (``n`` and, with ``channel``, the
        channel's) for a request that was then refused."""

    def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]]:
        """The counts of ``keys``' items (one consistent read of them all; an absent item
        reads as no counts): a sharded breaker's sum (chalicelib/verify/limits.py)."""
        raise NotImplementedError

    def mark_suspended(self, key: str, expires_at: int, channel: str | None = None) -> None:
        """Mark ``key``'s window suspended (for ``channel``) without giving anything back: the
        other shards of a counter whose breaker tripped on one of them."""
        raise NotImplementedError

    def increment_windows(self, key: str, windows: Sequence[tuple[str, str, int]],
                          expires_at: int) -> dict[str, int]:
        """Add one to each of ``key``'s window counts (``(attribute, old attribute, limit)``:
        one per bucket), all or none: none when any reached its limit; drops each old
        window's count. Returns the item's counts after the write (the windows before, for a
        sliding count: chalicelib/verify/rate_buckets.py). Raises CounterFull."""
        raise NotImplementedError

    def release_windows(self, key: str, attributes: Sequence[str]) -> None:
        """Give back what ``increment_windows`` added to ``attributes`` (at most once)."""
        raise NotImplementedError


class DynamoDBCounterStore(DynamoDBTable, CounterStore):
    """Counts through ``client``; gives back (``release``, ``suspend``) through the client
    ``give_back_client`` makes, on the first give-back (the refusal path only), which botocore
    never retries: a give-back whose answer was lost is never applied twice (see ``release``).
    Without it (scripts, tests), the one client."""

    def __init__(self, client: Any, table_name: str,
                 give_back_client: Callable[[], Any] | None = None) -> None:
        super().__init__(client, table_name)
        self._give_back_client = give_back_client
        self._give_backs: DynamoDBTable | None = None

    def give_backs(self) -> DynamoDBTable:
        if self._give_backs is None:
            client = self._give_back_client() if self._give_back_client is not None else self._client
            self._give_backs = DynamoDBTable(client, self._table)
        return self._give_backs

    def increment(
        self, key: str, limit: int, expires_at: int, honour_suspension: bool = True,
        channel: str | None = None, sampled: bool = True,
    ) -> dict[str, int]:
        # Condition: under the limit (``n``, every channel) and (unless a trusted number
        # passes a breaker's suspension) the send's own channel not suspended. DynamoDB
        # serialises writes on the item, so N concurrent increments succeed exactly
        # min(N, limit - count) times, whatever their channels; the channel's count is in
        # the same ADD, so it never drifts from ``n``.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry would count the request a
        # second time (or, at the limit, refuse it on its own count): the token makes it find
        # its own write. If another request's increment lands between t0 and t2 (the token is
        # then theirs), the retry counts again: one over-count, the conservative side, only
        # when a lost answer meets a concurrent request on the same counter.
        under_limit = "(attribute_not_exists(n) OR n < :limit)"
        names: dict[str, str] = {}
        if honour_suspension:
            names["#suspended"] = _suspended(channel)
        if channel is not None and sampled:
            names["#sends"] = per_channel("n", channel)
        add = "ADD n :one, #sends :one" if "#sends" in names else "ADD n :one"
        try:
            item = self._update(
                key,
                f"{add} SET expires_at = :expires",
                f"attribute_not_exists(#suspended) AND {under_limit}" if honour_suspension else under_limit,
                {":one": 1, ":limit": limit, ":expires": expires_at},
                names=names or None,
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

    def release(self, key: str, channel: str | None = None) -> None:
        # Every count our increment added, in one write: ``n`` and the channel's own sends (a
        # refused send left on ``n_sms`` lowered SMS's conversion and tripped the country's
        # breaker for real users: issue 28). Condition: the count is above zero. A
        # compensating write for our own increment of this window, so the item exists unless
        # TTL removed it meanwhile; then the condition fails (n does not exist) and nothing is
        # written: a give-back never makes an item nor a negative count. Concurrent
        # increments and give-backs commute (ADD).
        # At most once: a write token cannot make a give-back exact (a retry recognises its
        # token only if no other write landed on the item between the lost answer and the
        # retry; on a busy counter one does, and the retry would give back a count another
        # request made, letting one send past the limit). So a give-back is one attempt,
        # never retried (``give_backs``): a lost answer, a throttle or an error leaves this
        # request counted, the conservative side, as a failed send does.
        self._give_back(key, "ADD n :minus_one", {":minus_one": -1, ":zero": 0}, channel)

    def increment_windows(self, key: str, windows: Sequence[tuple[str, str, int]],
                          expires_at: int) -> dict[str, int]:
        # One item per rate limit and key, a count per bucket and window: the write counts
        # this start in every bucket (the condition caps each window's own count at its
        # bucket's max: all or none), drops the windows before last and returns the ones
        # before, in one UpdateItem. The token makes a retry after a lost answer find its
        # write (as ``increment``).
        names: dict[str, str] = {}
        values: dict[str, Any] = {":one": 1, ":expires": expires_at}
        conditions, adds, removes = [], [], []
        for i, (attribute, old, limit) in enumerate(windows):
            names[f"#w{i}"], names[f"#o{i}"], values[f":m{i}"] = attribute, old, limit
            conditions.append(f"(attribute_not_exists(#w{i}) OR #w{i} < :m{i})")
            adds.append(f"#w{i} :one")
            removes.append(f"#o{i}")
        try:
            item = self._update(
                key, f"ADD {', '.join(adds)} SET expires_at = :expires REMOVE {', '.join(removes)}",
                " AND ".join(conditions), values, names=names, returns=True, token=True,
            )
        except ConditionFailed as exc:
            raise CounterFull(_counts(exc.item)) from None
        return _counts(item)

    def release_windows(self, key: str, attributes: Sequence[str]) -> None:
        # One attempt, never retried, as ``release``: a lost give-back leaves the start counted.
        names = {f"#w{i}": attribute for i, attribute in enumerate(attributes)}
        try:
            self.give_backs()._update(
                key, "ADD " + ", ".join(f"{name} :minus_one" for name in names),
                " AND ".join(f"{name} > :zero" for name in names), {":minus_one": -1, ":zero": 0},
                names=names)
        except (ConditionFailed, StoreUnavailable):
            pass

    def suspend(self, key: str, expires_at: int, channel: str | None = None) -> None:
        # The suspension and the give-back of the send that tripped it, in the one write the
        # suspension makes anyway (no extra round trip): the refused send counts nowhere.
        # Not retried either (see ``release``): a suspension lost with its answer is set again
        # by the next send of the channel, which finds the same conversion.
        self._give_back(key, "ADD n :minus_one SET #suspended = :yes, expires_at = :expires",
                        {":minus_one": -1, ":zero": 0, ":yes": 1, ":expires": expires_at}, channel,
                        {"#suspended": _suspended(channel)})

    def read_counts(self, keys: Sequence[str]) -> list[dict[str, int]]:
        # One BatchGetItem (at most 100 keys: OTP_BUDGET_SHARDS is at most 100), consistent:
        # a shard's count read after its increment includes it.
        found: dict[str, dict[str, int]] = {}
        request: dict[str, Any] = {self._table: {"Keys": [{"pk": {"S": key}} for key in keys],
                                                 "ConsistentRead": True}}
        while request:
            try:  # no TableName parameter: not through _call
                answer = self._client.batch_get_item(RequestItems=request)
            except self._botocore_errors as exc:
                raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
            for item in answer.get("Responses", {}).get(self._table, []):
                found[item["pk"]["S"]] = _counts(item)
            request = answer.get("UnprocessedKeys") or {}
        return [found.get(key, {}) for key in keys]

    def mark_suspended(self, key: str, expires_at: int, channel: str | None = None) -> None:
        # No condition: setting the flag twice is the same flag (a retry is harmless); an
        # absent shard is made with the flag alone, so its first send is refused too.
        self._update(key, "SET #suspended = :yes, expires_at = :expires", "",
                     {":yes": 1, ":expires": expires_at}, names={"#suspended": _suspended(channel)})

    def _give_back(self, key: str, update: str, values: dict[str, Any], channel: str | None,
                   names: dict[str, str] | None = None) -> None:
        names = dict(names or {})
        if channel is not None:
            names["#sends"] = per_channel("n", channel)
            update = update.replace("ADD n :minus_one", "ADD n :minus_one, #sends :minus_one")
        try:
            self.give_backs()._update(key, update, "n > :zero", values, names=names or None)
        except (ConditionFailed, StoreUnavailable):
            pass  # nothing of ours to give back, or not given back: counted (see release)


def _suspended(channel: str | None) -> str:
    return per_channel("suspended", channel) if channel is not None else "suspended"


def _counts(item: dict[str, Any] | None) -> dict[str, int]:
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v}

