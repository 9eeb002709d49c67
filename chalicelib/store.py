"""Storage: abstract stores and their DynamoDB implementations, on one table.

Verifications: one item per phone number (``pk = "v#" + keyed hash of the number``), so every
rule about a number ("one live verification", "resend not too soon", "attempts under the
limit", "starts and checks per day") is a condition on one item, enforced by DynamoDB in one
conditional write. No read-then-write anywhere.

A "live" verification is one that exists, is not canceled, not approved and not expired:
    attribute_exists(vid) AND code_expires_at > :now AND attribute_not_exists(canceled_at)
    AND (attribute_not_exists(guess_mac) OR guess_mac <> code_mac)
Approval is derived: the check write stores the MAC of the guess, and the verification is
approved when that equals the MAC of the code (compared in code with hmac.compare_digest).
``expires_at`` is the item's TTL: the later of the code's expiry and the end of the day whose
counters the item holds. TTL only cleans up; every condition and read checks expiry itself.

Counters (``pk = "rl#..."``): fixed-window counts, one item per window, each a single
conditional ADD (see ``DynamoDBCounterStore``).

Callers never see botocore errors: a failed condition raises ``ConditionFailed`` carrying the
item as it was (from ReturnValuesOnConditionCheckFailure, or one consistent read where the
server does not support that, e.g. dynalite); anything else raises ``StoreUnavailable``.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

from chalicelib.callbacks import STATUS_RANK
from chalicelib.models import SendAttempt, Verification

DAY = 86_400

_LIVE = (
    "attribute_exists(vid) AND code_expires_at > :now AND attribute_not_exists(canceled_at)"
    " AND (attribute_not_exists(guess_mac) OR guess_mac <> code_mac)"
)


class ConditionFailed(Exception):
    """The write's condition did not hold; ``item`` is the raw item as it was (or None) and
    ``current`` the verification in it, if any."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item
        self.current = _to_verification(item)


class StoreUnavailable(Exception):
    """The store could not be reached or refused the call for a reason other than a condition."""


def number_pk(number_key: str) -> str:
    return "v#" + number_key


def day_of(now: int) -> int:
    return now // DAY


@dataclass(frozen=True)
class CheckLimit:
    """Checks per number per window, across its verifications: what strangers who know a
    number can spend guessing its codes, and so how long they can keep it locked (one window).
    The count lives on the number's item (``checks_<window length>_<window>``), so starting
    over does not reset it and it costs no extra write."""

    max_checks: int
    window_seconds: int

    def attribute(self, now: float, back: int = 0) -> str:
        return f"checks_{self.window_seconds}_{int(now) // self.window_seconds - back}"

    def used(self, item: dict[str, Any] | None, now: float) -> bool:
        count = (item or {}).get(self.attribute(now), {}).get("N")
        return count is not None and int(count) >= self.max_checks

    def retry_after(self, now: float) -> int:
        window_end = (int(now) // self.window_seconds + 1) * self.window_seconds
        return max(1, math.ceil(window_end - now))


class VerificationStore(abc.ABC):
    @abc.abstractmethod
    def create(
        self, number_key: str, v: Verification, now: int, max_starts_per_day: int, checks: CheckLimit
    ) -> int | None:
        """Store ``v`` unless the number has a live verification, used its starts today or
        its checks this window; returns when the number was last approved (None: never)."""

    @abc.abstractmethod
    def mark_approved(self, number_key: str, verification_id: str, now: int) -> None:
        """Note on the number's item that it was approved at ``now`` (the breaker trusts it)."""

    @abc.abstractmethod
    def resend(
        self, number_key: str, v: Verification, *, now: int, min_sent_at_ms: int, max_sends: int,
        checks: CheckLimit,
    ) -> Verification:
        """Replace the code of the live verification ``v.id`` and count the send."""

    @abc.abstractmethod
    def undo_send(self, number_key: str, failed: Verification, previous: Verification | None) -> None:
        """After a failed or refused delivery, put back what ``create``/``resend`` replaced."""

    @abc.abstractmethod
    def record_provider(self, number_key: str, v: Verification, provider: str) -> None:
        """After a failover, name the provider that actually took the latest send."""

    @abc.abstractmethod
    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int,
        checks: CheckLimit,
    ) -> Verification:
        """Count one attempt on the live verification and store the guess; returns the item."""

    @abc.abstractmethod
    def cancel(self, number_key: str, verification_id: str, now: int) -> Verification:
        """Cancel the live verification ``verification_id``."""

    def record_delivery(
        self, number_key: str, verification_id: str, index: int, provider: str, status: str,
        error_code: str | None, permanent: bool,
    ) -> Verification | None:
        """Raise a send's delivery status from a provider's receipt (never lower it)."""
        raise NotImplementedError

    @abc.abstractmethod
    def get(self, number_key: str) -> Verification | None:
        """The number's verification, whatever its state (callers check expiry)."""


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


class _DynamoDBTable:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        from botocore.exceptions import BotoCoreError, ClientError

        self._client_error = ClientError
        self._botocore_errors = (BotoCoreError, ClientError)

    def _update(
        self,
        pk: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        returns: bool = False,
        old: bool = False,
    ) -> dict[str, Any] | None:
        params: dict[str, Any] = {
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": _marshal(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            params["ExpressionAttributeNames"] = names
        if returns:
            params["ReturnValues"] = "ALL_NEW"
        elif old:  # the item as it was: free, part of the write
            params["ReturnValues"] = "ALL_OLD"
        return self._call("update_item", pk=pk, **params).get("Attributes")

    def _get(self, pk: str) -> dict[str, Any] | None:
        return self._call("get_item", Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")

    def _call(self, operation: str, pk: str | None = None, **params: Any) -> dict:
        try:
            return getattr(self._client, operation)(TableName=self._table, **params)
        except self._client_error as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                if "Item" in exc.response:
                    raise ConditionFailed(exc.response["Item"]) from None
                # Servers without ReturnValuesOnConditionCheckFailure: one consistent read,
                # on the failure path only.
                raise ConditionFailed(self._get(pk) if pk is not None else None) from None
            raise StoreUnavailable(f"DynamoDB {operation} failed: {error.get('Code')}") from None
        except self._botocore_errors as exc:
            raise StoreUnavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from None


class DynamoDBCounterStore(_DynamoDBTable, CounterStore):
    def increment(
        self, key: str, limit: int, expires_at: int, honour_suspension: bool = True
    ) -> dict[str, int]:
        # Condition: under the limit and (unless a trusted number passes a breaker's
        # suspension) not suspended. DynamoDB serialises writes on the item, so N concurrent
        # increments succeed exactly min(N, limit - count) times.
        under_limit = "(attribute_not_exists(n) OR n < :limit)"
        try:
            item = self._update(
                key,
                "ADD n :one SET expires_at = :expires",
                f"attribute_not_exists(suspended) AND {under_limit}" if honour_suspension else under_limit,
                {":one": 1, ":limit": limit, ":expires": expires_at},
                returns=True,
            )
        except ConditionFailed as exc:
            raise CounterFull(_counts(exc.item)) from None
        return _counts(item)

    def add(self, key: str, attribute: str, expires_at: int) -> None:
        self._call(
            "update_item",
            Key={"pk": {"S": key}},
            UpdateExpression="ADD #a :one SET expires_at = :expires",
            ExpressionAttributeNames={"#a": attribute},
            ExpressionAttributeValues=_marshal({":one": 1, ":expires": expires_at}),
        )

    def release(self, key: str) -> None:
        # Condition: the count is above zero. A compensating write for our own increment of
        # this window, so the item exists unless TTL removed it meanwhile; then the
        # condition fails (n does not exist) and nothing is written: a give-back never makes
        # an item nor a negative count. Concurrent increments and give-backs commute (ADD).
        try:
            self._update(key, "ADD n :minus_one", "n > :zero", {":minus_one": -1, ":zero": 0})
        except ConditionFailed:
            pass

    def suspend(self, key: str, expires_at: int) -> None:
        self._call(
            "update_item",
            Key={"pk": {"S": key}},
            UpdateExpression="SET suspended = :yes, expires_at = :expires",
            ExpressionAttributeValues=_marshal({":yes": 1, ":expires": expires_at}),
        )


def _counts(item: dict[str, Any] | None) -> dict[str, int]:
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v}


class DynamoDBVerificationStore(_DynamoDBTable, VerificationStore):

    # -- writes ---------------------------------------------------------------------------

    def create(
        self, number_key: str, v: Verification, now: int, max_starts_per_day: int, checks: CheckLimit
    ) -> int | None:
        # Condition: NOT live, today's starts under the limit and this window's checks too (no
        # SMS whose code could not be checked). Two concurrent first
        # requests for one number both see "no live item"; DynamoDB serialises the writes on
        # the item and the second one fails (it now sees the first's live verification) and
        # becomes a resend. An UpdateItem, not a PutItem: the number's daily counters survive
        # a new verification (starting over must not reset them).
        day = day_of(now)
        old = self._update(
            number_pk(number_key),
            "SET vid = :vid, #to = :to, channel = :channel, code_mac = :code_mac,"
            " created_at = :created, code_expires_at = :code_expires, expires_at = :item_expires,"
            " sent_at_ms = :sent, send_count = :one, attempts = :zero,"
            " max_attempts = :max_attempts, sends = :sends"
            " ADD #starts :one"
            " REMOVE guess_mac, canceled_at, #old_starts, #old_checks",
            f"NOT ({_LIVE}) AND (attribute_not_exists(#starts) OR #starts < :max_starts)"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)",
            {
                ":vid": v.id,
                ":to": v.to,
                ":channel": v.channel,
                ":code_mac": v.code_mac,
                ":created": v.created_at,
                ":code_expires": v.expires_at,
                ":item_expires": max(v.expires_at, (day + 1) * DAY),
                ":sent": v.sent_at_ms,
                ":one": 1,
                ":zero": 0,
                ":max_attempts": v.max_attempts,
                ":sends": list(v.sends),
                ":max_starts": max_starts_per_day,
                ":max_checks": checks.max_checks,
                ":now": now,
            },
            names={
                "#to": "to",
                "#starts": f"starts_{day}",
                "#old_starts": f"starts_{day - 1}",
                "#checks": checks.attribute(now),
                "#old_checks": checks.attribute(now, back=1),
            },
            old=True,
        )
        return _approved_at(old)

    def mark_approved(self, number_key: str, verification_id: str, now: int) -> None:
        # Condition: the item still holds this verification (no item is made if TTL removed
        # it). Out of order with a later approval it may set an earlier time: harmless, the
        # marker only says "approved within the trust period".
        try:
            self._write(number_key, "SET approved_at = :now", "vid = :vid",
                        {":vid": verification_id, ":now": now})
        except ConditionFailed:
            pass

    def resend(
        self, number_key: str, v: Verification, *, now: int, min_sent_at_ms: int, max_sends: int,
        checks: CheckLimit,
    ) -> Verification:
        # Condition: the same verification, still live, not locked by failed checks, the
        # number's checks this window not used up, under the send limit and past the resend
        # interval. Concurrent resends race on the item;
        # only the first passes `sent_at_ms <= :min_sent`, so one interval gives one SMS.
        # The attempts counter is left alone: a resend never resets the guessing budget.
        return self._write(
            number_key,
            "SET code_mac = :code_mac, sent_at_ms = :sent, code_expires_at = :code_expires,"
            " expires_at = :item_expires, channel = :channel, sends = list_append(sends, :send)"
            " ADD send_count :one",
            f"vid = :vid AND {_LIVE} AND attempts < max_attempts"
            " AND send_count < :max_sends AND sent_at_ms <= :min_sent"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)",
            {
                ":vid": v.id,
                ":code_mac": v.code_mac,
                ":sent": v.sent_at_ms,
                ":code_expires": v.expires_at,
                ":item_expires": max(v.expires_at, (day_of(now) + 1) * DAY),
                ":channel": v.channel,
                ":send": [v.sends[-1]],
                ":one": 1,
                ":max_sends": max_sends,
                ":min_sent": min_sent_at_ms,
                ":max_checks": checks.max_checks,
                ":now": now,
            },
            names={"#checks": checks.attribute(now)},
            returns=True,
        )

    def undo_send(self, number_key: str, failed: Verification, previous: Verification | None) -> None:
        # Condition: the item still holds the code we failed to deliver and no check has
        # landed since that send (attempts unchanged). If anything wrote since (a concurrent
        # resend that did deliver, a check, an approval), leave its state alone: undoing after
        # an approval would bring the old code back to life.
        try:
            if previous is None or previous.id != failed.id:
                # A new verification: remove it and give back the day's start; the item's
                # other counters stay.
                self._write(
                    number_key,
                    "REMOVE vid, #to, channel, code_mac, created_at, code_expires_at, sent_at_ms,"
                    " send_count, attempts, max_attempts, sends ADD #starts :minus_one",
                    "vid = :vid AND code_mac = :code_mac AND attempts = :attempts",
                    {":vid": failed.id, ":code_mac": failed.code_mac, ":minus_one": -1,
                     ":attempts": failed.attempts},
                    names={"#to": "to", "#starts": f"starts_{day_of(failed.created_at)}"},
                )
            else:
                self._write(
                    number_key,
                    "SET code_mac = :old_mac, sent_at_ms = :old_sent,"
                    " code_expires_at = :old_expires, channel = :old_channel"
                    f" REMOVE sends[{len(failed.sends) - 1}]"
                    " ADD send_count :minus_one",
                    "vid = :vid AND code_mac = :code_mac AND attempts = :attempts",
                    {
                        ":vid": failed.id,
                        ":code_mac": failed.code_mac,
                        ":attempts": failed.attempts,
                        ":old_mac": previous.code_mac,
                        ":old_sent": previous.sent_at_ms,
                        ":old_expires": previous.expires_at,
                        ":old_channel": previous.channel,
                        ":minus_one": -1,
                    },
                )
        except ConditionFailed:
            pass

    def record_provider(self, number_key: str, v: Verification, provider: str) -> None:
        # Condition: the item still holds this send's code. Only on failover (the first write
        # named the chain's first provider), so the common path stays one write.
        try:
            self._write(
                number_key,
                f"SET sends[{len(v.sends) - 1}].provider = :provider",
                "vid = :vid AND code_mac = :code_mac",
                {":vid": v.id, ":code_mac": v.code_mac, ":provider": provider},
            )
        except ConditionFailed:
            pass

    def record_delivery(
        self, number_key: str, verification_id: str, index: int, provider: str, status: str,
        error_code: str | None, permanent: bool,
    ) -> Verification | None:
        """Set send ``index``'s status from a receipt; None when it changed nothing."""
        # Condition: the same verification, a send at that index made by this provider, and a
        # lower status rank than the receipt's. Late, duplicated or out-of-order receipts
        # (delivered, then sent; two final receipts racing) fail it and change nothing, so a
        # status never moves backwards and a replay is a no-op.
        send = f"sends[{int(index)}]"
        values: dict[str, Any] = {":vid": verification_id, ":provider": provider, ":status": status,
                                  ":rank": STATUS_RANK[status], ":permanent": int(permanent)}
        update = f"SET {send}.#status = :status, {send}.#rank = :rank, {send}.permanent = :permanent"
        if error_code:
            update += f", {send}.error_code = :code"
            values[":code"] = error_code[:32]
        try:
            return self._write(
                number_key, update,
                f"vid = :vid AND {send}.provider = :provider"
                f" AND (attribute_not_exists({send}.#rank) OR {send}.#rank < :rank)",
                values, names={"#status": "status", "#rank": "rank"}, returns=True,
            )
        except ConditionFailed:
            return None

    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int,
        checks: CheckLimit,
    ) -> Verification:
        # Condition: live, under the verification's attempt limit and under the number's
        # checks for the window. The attempt is counted in the same write that stores the guess,
        # so N concurrent guesses get at most max_attempts successful writes, hence at most
        # max_attempts comparisons. A correct guess makes the item approved (guess_mac =
        # code_mac), which the condition then refuses: a code succeeds once even under 20
        # concurrent correct submissions. The day's count lives on the number's item, so a
        # new verification does not reset it.
        condition = (
            f"{_LIVE} AND attempts < max_attempts"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)"
        )
        values: dict[str, Any] = {
            ":guess": guess_mac, ":one": 1, ":now": now, ":max_checks": checks.max_checks
        }
        if verification_id is not None:
            condition = "vid = :vid AND " + condition
            values[":vid"] = verification_id
        return self._write(
            number_key,
            "SET guess_mac = :guess ADD attempts :one, #checks :one",
            condition,
            values,
            names={"#checks": checks.attribute(now)},
            returns=True,
        )

    def cancel(self, number_key: str, verification_id: str, now: int) -> Verification:
        # Condition: the same verification, live and not locked by failed checks (canceling a
        # locked one and starting over would reset the guessing). Cancel and approve race on
        # one item; whichever write lands first makes the other's condition fail.
        return self._write(
            number_key,
            "SET canceled_at = :now",
            f"vid = :vid AND {_LIVE} AND attempts < max_attempts",
            {":vid": verification_id, ":now": now},
            returns=True,
        )

    # -- reads ----------------------------------------------------------------------------

    def get(self, number_key: str) -> Verification | None:
        return _to_verification(self._get(number_pk(number_key)))

    # -- plumbing -------------------------------------------------------------------------

    def _write(self, number_key: str, *args: Any, **kwargs: Any) -> Verification:
        return _to_verification(self._update(number_pk(number_key), *args, **kwargs))  # type: ignore[return-value]


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, SendAttempt):
        return {"M": {"channel": {"S": v.channel}, "provider": {"S": v.provider},
                      "at_ms": {"N": str(v.at_ms)}, "status": {"S": v.status},
                      "rank": {"N": str(STATUS_RANK[v.status])}}}
    if isinstance(v, list):
        return {"L": [_value(x) for x in v]}
    if isinstance(v, int) and not isinstance(v, bool):
        return {"N": str(v)}
    return {"S": str(v)}


def _marshal(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: _value(v) for k, v in values.items()}


def _send_attempt(value: dict[str, Any]) -> SendAttempt:
    m = value["M"]
    return SendAttempt(
        m["channel"]["S"], m["provider"]["S"], int(m["at_ms"]["N"]),
        status=m.get("status", {}).get("S", "accepted"), error_code=m.get("error_code", {}).get("S"),
        permanent=m.get("permanent", {}).get("N") == "1",
    )


def _approved_at(item: dict[str, Any] | None) -> int | None:
    value = (item or {}).get("approved_at", {}).get("N")
    return int(value) if value is not None else None


def _to_verification(item: dict[str, Any] | None) -> Verification | None:
    """The verification in a number's item; None for no item, a counter, or a removed one."""
    if not item or "vid" not in item:
        return None
    plain: dict[str, Any] = {
        k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in item.items() if "L" not in v
    }
    return Verification(
        id=plain["vid"],
        to=plain["to"],
        channel=plain["channel"],
        code_mac=plain["code_mac"],
        created_at=plain["created_at"],
        expires_at=plain["code_expires_at"],
        sent_at_ms=plain["sent_at_ms"],
        send_count=plain["send_count"],
        attempts=plain["attempts"],
        max_attempts=plain["max_attempts"],
        guess_mac=plain.get("guess_mac"),
        canceled_at=plain.get("canceled_at"),
        sends=tuple(_send_attempt(x) for x in item.get("sends", {}).get("L", [])),
        approved_at=_approved_at(item),
    )
