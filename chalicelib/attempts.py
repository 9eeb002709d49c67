"""Verification attempts (one per send) and their conversion, for Twilio's Attempts list and
Summary (chalicelib/twilio_v2/attempts.py): the conversion view.

Storage: one item per day and shard, ``pk = "at#<day>#<shard>"`` (the shard from the
verification's id, so a verification's attempts of a day share an item), holding

    a_<attempt sid>   the attempt: verification id, Service, number, country, channel, time,
                      and ``cv`` once its verification was approved
    n                 how many attempts the item holds (at most PER_ITEM)
    t#<svc>#<cc>#<ch> attempts of one Service, country and channel: the summary's counters
    c#<svc>#<cc>#<ch> those converted
    expires_at        TTL: RETENTION_DAYS after the day

A list or a summary reads SHARDS items per day of its range, by key (BatchGetItem): no index,
no scan. An attempt is written beside its send (the provider's call runs meanwhile) and a
conversion beside the approval's other writes: neither adds a sequential round trip.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from chalicelib import concurrency
from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, _DynamoDBTable, marshal
from chalicelib.models import Verification

log = logging.getLogger("verify")

SHARDS = 8
PER_ITEM = 1000  # ~200 bytes each: well under DynamoDB's 400 KB item limit
RETENTION_DAYS = 30
DAY = 86400
DEFAULT_SCOPE = "~"  # the stage's own app (the default Service) in the counters' names
_ROOM = "attribute_not_exists(#a) AND (attribute_not_exists(n) OR n < :cap)"
_UNCONVERTED = "attribute_exists(#a0) AND attribute_not_exists(#a0.cv)"


def attempt_sid(verification_id: str, index: int, at_ms: int) -> str:
    """The SID of a verification's ``index``-th send (Twilio's ``VL`` + 32 hex): its day and
    shard, then a hash, so fetching an attempt by SID reads its one item."""
    day, shard = at_ms // 1000 // DAY, _shard(verification_id)
    digest = hashlib.sha256(f"{verification_id}:{index}".encode()).hexdigest()[:24]
    return f"VL{day:06x}{shard:02x}{digest}"


def split_attempt_sid(sid: str) -> tuple[int, int] | None:
    """(day, shard) of an attempt SID of this shape, or None."""
    if len(sid) != 34 or not sid.startswith("VL"):
        return None
    try:
        day, shard = int(sid[2:8], 16), int(sid[8:10], 16)
        int(sid[10:], 16)
    except ValueError:
        return None
    return (day, shard) if shard < SHARDS else None


@dataclass(frozen=True)
class Attempt:
    sid: str
    verification_id: str
    scope: str  # the Service's SID, or "" for the stage's own app
    to: str
    country: str
    channel: str
    at: int
    converted: bool


@dataclass(frozen=True)
class Counts:
    total: int
    converted: int


class Recording:
    """One attempt's write, running on the pool beside the send counters."""

    def __init__(self, log: AttemptLog, verification: Verification, country: str, scope: str) -> None:
        index = len(verification.sends) - 1
        send = verification.sends[index]
        self.pk = _pk(send.at_ms // 1000 // DAY, verification.id)
        self.sid = attempt_sid(verification.id, index, send.at_ms)
        self.total = _counter("t", scope, country, send.channel)
        self._log = log
        self._futures = [concurrency.submit(log._record, self, verification, country, scope)]

    def cancel(self) -> None:
        """The send was refused: remove the attempt once written (on the pool, beside the undo)."""
        self._futures.append(concurrency.submit(self._forget))

    def _forget(self) -> None:
        concurrency.wait_quietly(self._futures[0])
        self._log._forget(self)

    def settle(self) -> None:
        """Wait for the writes. A lost attempt must not fail the user's send: logged, not raised."""
        for future in self._futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - the verification is unaffected
                log.error("attempt not recorded: %s", type(exc).__name__)


class AttemptLog(_DynamoDBTable):
    def record(self, verification: Verification, country: str, scope: str) -> Recording:
        """Write the verification's latest send as an attempt, on the pool; the caller
        writes the send counters meanwhile and collects it with ``settle``."""
        return Recording(self, verification, country, scope)

    def _forget(self, recording: Recording) -> None:
        # Idempotent: a retry finds the attempt gone and changes nothing.
        try:
            self._update(recording.pk, "REMOVE #a ADD n :minus, #t :minus", "attribute_exists(#a)",
                         {":minus": -1}, names={"#a": "a_" + recording.sid, "#t": recording.total})
        except ConditionFailed:
            pass

    def _record(self, recording: Recording, verification: Verification, country: str, scope: str) -> None:
        send = verification.sends[-1]
        day = send.at_ms // 1000 // DAY
        sid, total = recording.sid, recording.total
        attempt = {"M": {"vid": {"S": verification.id}, "svc": {"S": scope}, "to": {"S": verification.to},
                         "cc": {"S": country}, "ch": {"S": send.channel},
                         "at": {"N": str(send.at_ms // 1000)}}}
        pk = recording.pk
        names = {"#a": "a_" + sid, "#t": total}
        # Retried by botocore after a lost answer: the condition then fails on our own attempt,
        # which is recognised as our success (counted once). A full item keeps counting
        # (counters only); only that path could count a retried write twice.
        try:
            self._call("update_item", pk=pk, Key={"pk": {"S": pk}},
                       UpdateExpression="SET #a = :a, expires_at = :exp ADD n :one, #t :one",
                       ConditionExpression=_ROOM, ExpressionAttributeNames=names,
                       ExpressionAttributeValues={
                           ":a": attempt, **marshal({":exp": _expiry(day), ":one": 1, ":cap": PER_ITEM})},
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            if "a_" + sid in (exc.item or {}):
                return
            self._update(pk, "SET expires_at = :exp ADD #t :one", "attribute_exists(pk)",
                         {":exp": _expiry(day), ":one": 1}, names={"#t": total})

    def conversions(self, verification: Verification, country: str, scope: str) -> list[Callable[[], None]]:
        """The writes that mark the verification's attempts converted (one per day its sends
        span: almost always one), to run beside the approval's other writes."""
        by_day: dict[int, list[tuple[str, str]]] = {}
        for index, send in enumerate(verification.sends):
            day = send.at_ms // 1000 // DAY
            by_day.setdefault(day, []).append((attempt_sid(verification.id, index, send.at_ms), send.channel))
        return [functools.partial(self._convert, day, verification.id, sends, country, scope)
                for day, sends in by_day.items()]

    def _convert(self, day: int, verification_id: str, sends: list[tuple[str, str]], country: str,
                 scope: str) -> None:
        pk = _pk(day, verification_id)
        names = {f"#a{i}": "a_" + sid for i, (sid, _) in enumerate(sends)}
        counters: dict[str, int] = {}
        for _, channel in sends:
            name = _counter("c", scope, country, channel)
            counters[name] = counters.get(name, 0) + 1
        names.update({f"#c{i}": name for i, name in enumerate(counters)})
        values: dict[str, Any] = {":one": 1, **{f":k{i}": count for i, count in enumerate(counters.values())}}
        adds = ", ".join(f"#c{i} :k{i}" for i in range(len(counters)))
        sets = ", ".join(f"#a{i}.cv = :one" for i in range(len(sends)))
        # Counted on the attempt's own Service only: the first attempt's ``svc`` is ``scope``, a
        # Service SID, or "" for the stage's own app: no Service SID ("VA...", and no empty
        # string in the expression, which dynalite's size() does not measure).
        if scope:
            own, values[":svc"] = "#a0.svc = :svc", scope
        else:
            own, values[":svc"] = "NOT begins_with(#a0.svc, :svc)", "VA"
        # An approval is written once (the check's conditional write); a retry after a lost
        # answer finds ``cv`` already set: our own success, not counted again. Another
        # Service's attempt fails the condition too, and counts nothing.
        try:
            self._update(pk, f"SET {sets} ADD {adds}", f"{_UNCONVERTED} AND {own}", values, names=names)
        except ConditionFailed as exc:
            if "a_" + sends[0][0] in (exc.item or {}):
                return
            # The attempts did not fit their item (PER_ITEM): the counters still count.
            counter_names = {k: v for k, v in names.items() if k.startswith("#c")}
            self._update(pk, f"ADD {adds}", "attribute_exists(pk)",
                         {k: v for k, v in values.items() if k.startswith(":k")}, names=counter_names)

    # -- reading ------------------------------------------------------------------------------

    def items(self, days: Iterable[int], shards: Iterable[int] = range(SHARDS)) -> list[dict[str, Any]]:
        """Every item of the days (SHARDS a day), by key: BatchGetItem, 100 keys a call, the
        calls at once (a month's range is three)."""
        keys = [{"pk": {"S": f"at#{day}#{shard}"}} for day in days for shard in shards]
        chunks = [keys[start:start + 100] for start in range(0, len(keys), 100)]
        outcomes = concurrency.run_all([functools.partial(self._batch, chunk) for chunk in chunks])
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [item for outcome in outcomes for item in outcome.value]

    def _batch(self, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request = {self._table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            try:  # no TableName parameter: not through _call
                answer = self._client.batch_get_item(RequestItems=request)
            except self._botocore_errors as exc:
                raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
            found += answer.get("Responses", {}).get(self._table, [])
            request = answer.get("UnprocessedKeys") or {}
        return found

    def attempts(self, days: Iterable[int], shards: Iterable[int] = range(SHARDS)) -> list[Attempt]:
        found = []
        for item in self.items(days, shards):
            for name, value in item.items():
                if name.startswith("a_") and "M" in value:
                    m = value["M"]
                    found.append(Attempt(name[2:], m["vid"]["S"], m["svc"]["S"], m["to"]["S"],
                                         m["cc"]["S"], m["ch"]["S"], int(m["at"]["N"]), "cv" in m))
        return found

    def counts(self, days: Iterable[int], keep: Callable[[str, str, str], bool]) -> Counts:
        """Summed counters of the days whose (scope, country, channel) ``keep`` accepts."""
        total = converted = 0
        for item in self.items(days):
            for name, value in item.items():
                if name[:2] in ("t#", "c#") and "N" in value:
                    _, scope, country, channel = name.split("#", 3)
                    if keep("" if scope == DEFAULT_SCOPE else scope, country, channel):
                        if name[0] == "t":
                            total += int(value["N"])
                        else:
                            converted += int(value["N"])
        return Counts(total, converted)


def _shard(verification_id: str) -> int:
    return int(hashlib.sha256(verification_id.encode()).hexdigest()[:8], 16) % SHARDS


def _pk(day: int, verification_id: str) -> str:
    return f"at#{day}#{_shard(verification_id)}"


def _counter(kind: str, scope: str, country: str, channel: str) -> str:
    return f"{kind}#{scope or DEFAULT_SCOPE}#{country}#{channel}"


def _expiry(day: int) -> int:
    return (day + 1 + RETENTION_DAYS) * DAY
