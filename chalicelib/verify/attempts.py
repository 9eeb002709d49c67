"""Verification attempts (one per send) and their conversion, for Twilio's Attempts list and
Summary (chalicelib/twilio_v2/attempts.py): the conversion view. On unless OTP_ATTEMPTS=false.

Storage: small items whose size does not grow with the day's volume.

    pk = "at#<attempt SID>"   one attempt (~300 bytes: 1 WCU to write, 1 to convert):
                              ``ve`` verification, ``svc`` Service ("" = the stage's own app),
                              ``to``, ``cc`` country, ``ch`` channel, ``at`` seconds, ``cv``
                              once converted, ``expires_at`` (TTL: RETENTION_DAYS after it), and
                              the keys of the table's ``attempts`` index: ``ak`` =
                              "at#<shard>" (SHARDS partitions, from the verification's id) and
                              ``as`` = "<at_ms, 13 digits>#<SID>" (newest first, by time).
    pk = "ac#<day>#<shard>"  the Summary's counters of a UTC day and shard: ``t#<svc>#<cc>#<ch>``
                              attempts and ``c#<svc>#<cc>#<ch>`` conversions (ADD), so a summary
                              reads SHARDS items a day by key and no attempt. Its size grows with
                              the distinct (Service, country, channel) of the day, never with
                              the number of attempts.

A list is a Query of each shard of the index (sparse: only attempts carry ``ak``), newest
first, at once, merged by ``as``; its page token is the ``as`` where the page stopped, so
each page reads at most SHARDS x READ_BUDGET index entries whatever the day's volume. A
verification's attempts are found by key (their SIDs derive from its id). No Scan anywhere.

An attempt and its counter are written beside the send's counters (the provider's call runs
meanwhile), a conversion and its counter beside the approval's other writes: no sequential
round trip is added. Both kinds of write recognise a retry of themselves (botocore's, after a
lost answer): the attempt by its own item, a counter by ``wid``, the token of the last write
(the attempt's SID), which a retry finds unless another attempt of the same day and shard
was counted in between (at volume; then that one lost answer counts once more).

Items of the earlier layout (one item per day and shard holding up to 1,000 attempts,
``pk = "at#<day>#<shard>"``) are no longer read: they expire by TTL within RETENTION_DAYS.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from chalicelib import concurrency
from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, DynamoDBTable
from chalicelib.verify.models import Verification

log = logging.getLogger("verify")

INDEX = "attempts"  # the table's global secondary index: ak (hash), as (range); all attributes
# Index partitions and counter items a day. Each takes ~1,000 writes a second (one index key
# value is one partition's throughput; an index that cannot keep up throttles the table's own
# writes): 32 hold 32,000 sends a second, past docs/scale.md's 10,000. Was 8 (8,000 a second:
# under that rate). Reads cover every shard, so the attempts of the earlier 8 (shards 0 to 7,
# the same keys) are still found; a verification's shard is fixed by its id.
SHARDS = 32
READ_BUDGET = 250  # index entries one page reads per shard at most: 8,000 a page (a filtered list's bound)
MAX_SENDS = 20  # OTP_MAX_SENDS' bound: the attempts a verification can have
RETENTION_DAYS = 30
DAY = 86400
DEFAULT_SCOPE = "~"  # the stage's own app (the default Service) in the counters' names
_SID = frozenset("0123456789abcdef")


def attempt_sid(verification_id: str, index: int, at_ms: int = 0) -> str:
    """The SID of a verification's ``index``-th send (Twilio's ``VL`` + 32 hex); ``at_ms`` is
    not part of it (kept for callers): a verification's attempts are found from its id."""
    return "VL" + hashlib.sha256(f"{verification_id}:{index}".encode()).hexdigest()[:32]


def is_attempt_sid(sid: str) -> bool:
    return len(sid) == 34 and sid.startswith("VL") and set(sid[2:]) <= _SID


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
    at_ms: int = 0

    @property
    def position(self) -> str:
        """Its sort key in the index (the list's order and page token)."""
        return position(self.at_ms, self.sid)


@dataclass(frozen=True)
class Counts:
    total: int
    converted: int


class Recording:
    """One attempt's writes (the attempt, its counter), on the pool beside the send counters."""

    def __init__(self, log: AttemptLog, verification: Verification, country: str, scope: str) -> None:
        index = len(verification.sends) - 1
        send = verification.sends[index]
        self.sid = attempt_sid(verification.id, index, send.at_ms)
        self.verification_id = verification.id
        self.counter = _counter_pk(send.at_ms // 1000 // DAY, verification.id)
        self.total = _counter("t", scope, country, send.channel)
        self._log = log
        self._futures = [concurrency.submit(log._record, self, verification, country, scope),
                         concurrency.submit(log._count, self.counter, {self.total: 1}, "t" + self.sid,
                                            send.at_ms // 1000 // DAY)]

    def cancel(self) -> None:
        """The send was refused: the attempt and its count taken back once written (on the
        pool, beside the undo)."""
        self._futures.append(concurrency.submit(self._forget))

    def _forget(self) -> None:
        attempt, count = self._futures[0], self._futures[1]
        concurrency.wait_quietly(attempt)
        concurrency.wait_quietly(count)
        undo: list[Callable[[], None]] = []
        if attempt.exception() is None:
            undo.append(functools.partial(self._log._forget, self.sid, self.verification_id))
        if count.exception() is None:
            undo.append(functools.partial(self._log._count, self.counter, {self.total: -1}, "u" + self.sid,
                                          None))
        for outcome in concurrency.run_all(undo):
            if outcome.error is not None:
                raise outcome.error

    def settle(self) -> None:
        """Wait for the writes. A lost attempt must not fail the user's send: logged, not raised."""
        for future in self._futures:
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - the verification is unaffected
                log.error("attempt not recorded: %s", type(exc).__name__)


class AttemptLog(DynamoDBTable):
    def record(self, verification: Verification, country: str, scope: str) -> Recording:
        """Write the verification's latest send as an attempt, on the pool; the caller
        writes the send counters meanwhile and collects it with ``settle``."""
        return Recording(self, verification, country, scope)

    def _record(self, recording: Recording, verification: Verification, country: str, scope: str) -> None:
        send = verification.sends[-1]
        # No empty strings (dynalite refuses them): the stage's own app is DEFAULT_SCOPE, and
        # an address (no country) has no ``cc``.
        values = {":ve": verification.id, ":svc": scope or DEFAULT_SCOPE, ":to": verification.to,
                  ":ch": send.channel, ":at": send.at_ms // 1000, ":ak": f"at#{_shard(verification.id)}",
                  ":as": position(send.at_ms, recording.sid), ":exp": _expiry(send.at_ms // 1000 // DAY)}
        sets = "ve = :ve, svc = :svc, #to = :to, ch = :ch, #at = :at, ak = :ak, #as = :as, expires_at = :exp"
        if country:
            sets, values[":cc"] = sets + ", cc = :cc", country
        try:
            self._update("at#" + recording.sid, "SET " + sets, "attribute_not_exists(pk)", values,
                         names={"#to": "to", "#at": "at", "#as": "as"})
        except ConditionFailed as exc:
            if (exc.item or {}).get("ve", {}).get("S") != verification.id:
                raise
            # botocore's retry of our own write after a lost answer: it had landed.

    def _forget(self, sid: str, verification_id: str) -> None:
        """Deleted, not only taken out of the index: an attempt names its recipient, and one
        left until its TTL could no longer be found once the number's item dropped its
        verification (scripts/data/personal_data.py finds attempts by key and by the index). A
        retry after a lost answer finds it gone: nothing to do."""
        try:
            self._call("delete_item", pk="at#" + sid, Key={"pk": {"S": "at#" + sid}},
                       ConditionExpression="ve = :ve", ReturnValuesOnConditionCheckFailure="ALL_OLD",
                       ExpressionAttributeValues={":ve": {"S": verification_id}})
        except ConditionFailed:
            pass

    def _count(self, pk: str, adds: dict[str, int], token: str, day: int | None) -> None:
        """ADD to a counter item; ``token`` names this write (a retry of it finds it, see the
        module's docstring). ``day``: (re)set the item's expiry."""
        names = {f"#n{i}": name for i, name in enumerate(adds)}
        values: dict[str, Any] = {":w": token, **{f":k{i}": k for i, k in enumerate(adds.values())}}
        sets = "wid = :w"
        if day is not None:
            sets, values[":exp"] = sets + ", expires_at = :exp", _expiry(day)
        update = f"SET {sets} ADD " + ", ".join(f"#n{i} :k{i}" for i in range(len(adds)))
        try:
            self._update(pk, update, "attribute_not_exists(wid) OR wid <> :w", values, names=names)
        except ConditionFailed:
            pass  # our own write, landed before botocore's retry

    def conversions(self, verification: Verification, country: str, scope: str) -> list[Callable[[], None]]:
        """The writes that mark the verification's attempts converted, and their counters (one
        per day its sends span: almost always one), to run beside the approval's other
        writes. Counted on the attempt's own Service only: ``scope`` must be the
        verification's (which the approval's conditional write proved), and each attempt's
        write checks its own ``svc`` again; handed another Service's, nothing is written."""
        if scope != verification.scope:
            return []
        writes: list[Callable[[], None]] = []
        by_day: dict[int, dict[str, int]] = {}
        for index, send in enumerate(verification.sends):
            writes.append(functools.partial(self._convert, attempt_sid(verification.id, index), scope))
            counters = by_day.setdefault(send.at_ms // 1000 // DAY, {})
            name = _counter("c", scope, country, send.channel)
            counters[name] = counters.get(name, 0) + 1
        writes += [functools.partial(self._count, _counter_pk(day, verification.id), adds,
                                     f"c{verification.id}#{day}", day) for day, adds in by_day.items()]
        return writes

    def _convert(self, sid: str, scope: str) -> None:
        # A retry after a lost answer finds ``cv`` set: our own success. An attempt never
        # recorded (refused, or from before attempts were on) is not created here, and
        # another Service's attempt is not touched.
        try:
            self._update("at#" + sid, "SET cv = :one",
                         "attribute_exists(ak) AND attribute_not_exists(cv) AND svc = :svc",
                         {":svc": scope or DEFAULT_SCOPE, ":one": 1})
        except ConditionFailed:
            pass

    # -- reading ------------------------------------------------------------------------------

    def get(self, sid: str) -> Attempt | None:
        item = self._get("at#" + sid) if is_attempt_sid(sid) else None
        return _attempt(item) if item and "ak" in item else None

    def of_verification(self, verification_id: str) -> list[Attempt]:
        """A verification's attempts, by key (their SIDs follow from its id): five at once,
        the next five only if all five were there (OTP_MAX_SENDS may allow up to 20)."""
        found: list[Attempt] = []
        for start in range(0, MAX_SENDS, 5):
            sids = [attempt_sid(verification_id, i) for i in range(start, start + 5)]
            outcomes = concurrency.run_all([functools.partial(self.get, sid) for sid in sids])
            for outcome in outcomes:
                if outcome.error is not None:
                    raise outcome.error
            batch = [o.value for o in outcomes if o.value is not None]
            found += batch
            if len(batch) < 5:
                break
        return found

    def page(self, low_ms: int, high_ms: int, before: str | None, size: int,
             keep: Callable[[Attempt], bool]) -> tuple[list[Attempt], str | None]:
        """The newest ``size`` attempts kept by ``keep`` with ``low_ms <= at_ms < high_ms`` and a
        position below ``before`` (a page token), and the next page's token (None: done)."""
        upper = before or position(high_ms, "")
        lower = position(low_ms, "")
        outcomes = concurrency.run_all([functools.partial(self._shard_page, shard, lower, upper, size, keep)
                                        for shard in range(SHARDS)])
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        # Each shard read down to ``reached`` (None: to ``lower``); below the highest of those,
        # another shard was not read yet: the page stops there.
        stops = [reached for _, reached in (o.value for o in outcomes) if reached is not None]
        boundary = max(stops) if stops else None
        found = sorted((a for matches, _ in (o.value for o in outcomes) for a in matches
                        if boundary is None or a.position >= boundary),
                       key=lambda a: a.position, reverse=True)
        if len(found) > size:
            return found[:size], found[size - 1].position
        return found, boundary

    def _shard_page(self, shard: int, lower: str, upper: str, size: int,
                    keep: Callable[[Attempt], bool]) -> tuple[list[Attempt], str | None]:
        matches: list[Attempt] = []
        read = 0
        params: dict[str, Any] = {
            "IndexName": INDEX, "ScanIndexForward": False,
            "KeyConditionExpression": "ak = :ak AND #as BETWEEN :low AND :high",
            "ExpressionAttributeNames": {"#as": "as"},
            "ExpressionAttributeValues": {":ak": {"S": f"at#{shard}"}, ":low": {"S": lower},
                                          ":high": {"S": upper}},
        }
        while True:
            answer = self._call("query", Limit=min(size + 1, READ_BUDGET - read), **params)
            items = answer.get("Items", [])
            read += len(items)
            for item in items:
                attempt = _attempt(item)
                if attempt.position < upper and keep(attempt):
                    matches.append(attempt)
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return matches, None
            if len(matches) > size or read >= READ_BUDGET:
                return matches, last["as"]["S"]
            params["ExclusiveStartKey"] = last

    def items(self, days: Iterable[int]) -> list[dict[str, Any]]:
        """The counter items of the days (SHARDS a day), by key: BatchGetItem, 100 keys a
        call, the calls at once (a month's range is ten)."""
        keys = [{"pk": {"S": f"ac#{day}#{shard}"}} for day in days for shard in range(SHARDS)]
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

    def counts(self, days: Iterable[int], keep: Callable[[str, str, str], bool]) -> Counts:
        """Summed counters of the days whose (scope, country, channel) ``keep`` accepts. A
        conversion of a verification started before its attempt was recorded (the upgrade's
        day) has no attempt: conversions count at most the attempts."""
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
        return Counts(total, min(converted, total))


def position(at_ms: int, sid: str) -> str:
    return f"{at_ms:013d}#{sid}"


def _attempt(item: dict[str, Any]) -> Attempt:
    at_ms = int(item["as"]["S"].split("#", 1)[0])
    scope = item["svc"]["S"]
    return Attempt(item["pk"]["S"][3:], item["ve"]["S"], "" if scope == DEFAULT_SCOPE else scope,
                   item["to"]["S"], item.get("cc", {}).get("S", ""), item["ch"]["S"], int(item["at"]["N"]),
                   "cv" in item, at_ms)


def _shard(verification_id: str) -> int:
    return int(hashlib.sha256(verification_id.encode()).hexdigest()[:8], 16) % SHARDS


def _counter_pk(day: int, verification_id: str) -> str:
    return f"ac#{day}#{_shard(verification_id)}"


def _counter(kind: str, scope: str, country: str, channel: str) -> str:
    return f"{kind}#{scope or DEFAULT_SCOPE}#{country}#{channel}"


def _expiry(day: int) -> int:
    return (day + 1 + RETENTION_DAYS) * DAY
