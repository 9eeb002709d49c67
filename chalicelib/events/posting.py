"""Events to the deployment's own backend (docs/events.md): every state change of a
verification, POSTed as JSON with Standard Webhooks headers, at least once.

Events are not produced by the request path at all: they are read from the table's own
DynamoDB Stream (``NEW_AND_OLD_IMAGES``) by a Lambda event source mapping (``app.py``:
``table_events``), and each one is derived from a record's old and new images
(chalicelib/events/stream.py). So nothing can fail after a state change, and nobody can put an
event on the path: only the table writes its stream.

``deliver_batch`` POSTs a batch's events in the shard's order and reports the first record that
a receiver did not take (``ReportBatchItemFailures``): Lambda retries from that record on, so the
records before it are not repeated, and after the mapping's ``MaximumRetryAttempts`` or
``MaximumRecordAgeInSeconds`` it sends the record's position to the on-failure SQS queue (with an
alarm) and goes on. ``webhook-id`` comes from the stream record's ``eventID``: the same on every
retry. Several URLs: a URL that took an event is noted on the table (``DeliveryMarks``) when
another URL refused it, so the retry POSTs to the others only. No code ever; the number is
masked unless OTP_EVENTS_INCLUDE_NUMBER.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import deque
from typing import Any, Callable, Iterable, Mapping, Protocol

from chalicelib import concurrency, telemetry
from chalicelib.events.stream import StreamRecordError, events_of

log = logging.getLogger("verify")
POST_TIMEOUT_SECONDS = 3
# A receiver that refused: wait this long before reporting the failure, so that the mapping's
# MaximumRetryAttempts spans hours of an outage rather than seconds (Lambda retries a stream
# batch at once). A record that cannot be read at all is reported without a wait.
RETRY_PAUSE_SECONDS = 10


class DeliveryMarks(Protocol):
    """Which URLs already took an event (by webhook-id): kept only when another URL refused it."""

    def taken(self, webhook_id: str) -> set[str]: ...

    def note(self, webhook_id: str, url_keys: set[str]) -> None: ...


class NoMarks:
    """One URL: nothing to remember (a retry goes to that URL only anyway)."""

    def taken(self, webhook_id: str) -> set[str]:
        return set()

    def note(self, webhook_id: str, url_keys: set[str]) -> None:
        return None


class DynamoDBDeliveryMarks:
    """The marks on the table: ``pk = "wh#" + webhook-id``, a string set ``taken`` of URL keys,
    removed by TTL after MARK_SECONDS (longer than the stream keeps a record: 24 hours)."""

    MARK_SECONDS = 2 * 86_400

    def __init__(self, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        from chalicelib.dynamodb import DynamoDBTable

        self._table = DynamoDBTable(client, table)
        self._clock = clock

    def taken(self, webhook_id: str) -> set[str]:
        item = self._table._get("wh#" + webhook_id) or {}
        return set(item.get("taken", {}).get("SS", []))

    def note(self, webhook_id: str, url_keys: set[str]) -> None:
        # No condition: ADD to a string set is idempotent, so botocore's retry of a write whose
        # answer was lost adds nothing twice; and one shard's records are handled by one
        # invocation at a time (ParallelizationFactor 1), so no two writers race on a mark.
        self._table._call(
            "update_item", Key={"pk": {"S": "wh#" + webhook_id}},
            UpdateExpression="ADD taken :keys SET expires_at = :ttl",
            ExpressionAttributeValues={":keys": {"SS": sorted(url_keys)},
                                       ":ttl": {"N": str(int(self._clock()) + self.MARK_SECONDS)}},
        )


class InvocationMarks:
    """Marks read once per invocation: the events' URLs and the v2 Services' webhooks
    (chalicelib/twilio_v2/webhook_delivery.py) keep a record's marks in one item (its first
    event's webhook-id), so the record a retry starts from costs one read, not one per kind.
    ``begin`` forgets what was read (each invocation: another container may have noted since)."""

    def __init__(self, marks: DeliveryMarks) -> None:
        self._marks = marks
        self._read: dict[str, set[str]] = {}

    def begin(self) -> None:
        self._read.clear()

    def taken(self, webhook_id: str) -> set[str]:
        if webhook_id not in self._read:
            self._read[webhook_id] = self._marks.taken(webhook_id)
        return set(self._read[webhook_id])

    def note(self, webhook_id: str, url_keys: set[str]) -> None:
        self._marks.note(webhook_id, url_keys)
        self._read.setdefault(webhook_id, set()).update(url_keys)


def delivery_marks(urls: tuple[str, ...], client: Callable[[], Any], table: str) -> DeliveryMarks:
    """Marks on the table for several URLs; none (and no DynamoDB client) for one."""
    return DynamoDBDeliveryMarks(client(), table) if len(urls) > 1 else NoMarks()


def stream_pause(context: Any) -> Callable[[], None]:
    """Before reporting a receiver's refusal: RETRY_PAUSE_SECONDS, or less when the
    invocation has less time left (with room for the answer). No Lambda context (a local
    poller, a test): no pause, the caller paces its retries."""

    def pause() -> None:
        if context is not None:
            left = context.get_remaining_time_in_millis() / 1000 - 5
            time.sleep(max(0.0, min(RETRY_PAUSE_SECONDS, left)))

    return pause


def stream_time_left(context: Any) -> Callable[[], float]:
    """Seconds left in this invocation (Lambda's context); no limit without one."""
    if context is None:
        return lambda: float("inf")
    return lambda: context.get_remaining_time_in_millis() / 1000


def url_key(url: str) -> str:
    """A receiver's name in the marks: no URL (it may hold a token) is stored."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


class Poster:
    """POSTs one signed event to one URL; True when the receiver answered 2xx in time."""

    def __init__(self, secret: str, post: Callable[..., Any], clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._post = post
        self._clock = clock

    def __call__(self, url: str, webhook_id: str, body: dict[str, Any]) -> bool:
        from chalicelib.events.standard_webhooks import headers

        raw = json.dumps(body, separators=(",", ":")).encode("utf-8")
        # Signed at each attempt (receivers refuse timestamps older than five minutes); the id
        # is the stream record's, the same on every retry.
        signed = headers(self._secret, webhook_id, int(self._clock()), raw)
        try:
            response = self._post(url, data=raw, timeout=POST_TIMEOUT_SECONDS, allow_redirects=False,
                                  headers={**signed, "Content-Type": "application/json",
                                           "User-Agent": "phone-verify-events"})
            return bool(200 <= response.status_code < 300)
        except Exception as exc:  # noqa: BLE001 - connection errors and timeouts
            log.warning("event POST failed id=%s error=%s", webhook_id, type(exc).__name__)
            return False


# `make run` without OTP_EVENTS_URL (scripts/local/events.py): the events the local table's
# stream implies, newest first, for the page's inbox panel (/dev/events.json).
LOCAL_EVENTS: deque[dict[str, Any]] = deque(maxlen=50)


def keep_locally(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    for record in records:
        try:
            events = events_of(record, include_number=False, include_tags=False)  # the page: no app data
        except StreamRecordError:
            continue
        for webhook_id, body in events:
            LOCAL_EVENTS.appendleft({"webhook_id": webhook_id, **body})
    return {"batchItemFailures": []}


def deliver_batch(
    records: Iterable[Mapping[str, Any]],
    urls: tuple[str, ...],
    poster: Callable[[str, str, dict[str, Any]], bool],
    include_number: bool,
    marks: DeliveryMarks | None = None,
    pause: Callable[[], None] = lambda: None,
    time_left: Callable[[], float] = lambda: float("inf"),
    forgotten: Callable[[set[str]], set[str]] | None = None,
    also: Callable[[Mapping[str, Any], bool], bool] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """POST the events of a batch of stream records, in order, each to every URL; return the
    partial batch response (docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html):
    the first record not fully taken, so that Lambda retries from it and not before it. A
    record there is no time left for is handed back the same way, before the function's
    timeout would fail (and repeat) the whole batch. ``forgotten``: which of the batch's item
    keys ``make forget`` erased (chalicelib/events/forgotten.py); their records are skipped.
    ``also(record, first)``: another delivery of the record (the v2 Services' Webhooks,
    chalicelib/twilio_v2/webhook_delivery.py), after its events went to every URL; False: not
    all taken, and the record is the one Lambda retries from (``first``: it may have been
    taken in part before). The URLs' marks are then kept even for one URL, so that retry does
    not POST them again."""
    marks = marks or NoMarks()
    marking = len(urls) > 1 or (also is not None and len(urls) == 1)
    all_keys = {url_key(url) for url in urls}
    batch = list(records)
    skipped = forgotten(keys) if forgotten is not None and (keys := _item_keys(batch)) else set()
    first = True
    for record in batch:
        sequence = str((record.get("dynamodb") or {}).get("SequenceNumber", ""))
        if skipped and _item_key(record) in skipped:
            continue
        try:
            events = events_of(record, include_number)
        except StreamRecordError as exc:  # poisoned: retried, then to the on-failure queue
            log.error("stream record unreadable seq=%s: %s", sequence, exc)
            telemetry.metric("EventRecordsUnreadable")
            return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        delivered: list[str] = []
        for webhook_id, body in events:
            if time_left() < POST_TIMEOUT_SECONDS + 2:
                _note_taken(marks, marking, delivered, all_keys)
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            # Only the first record of an invocation can have been taken in part: a record
            # some URL refused is the one Lambda retries the batch from.
            taken = marks.taken(webhook_id) if first and marking else set()
            done = set(taken)
            # Several receivers: independent POSTs, made at once (chalicelib/concurrency.py).
            waiting = [url for url in urls if url_key(url) not in done]
            posts = [functools.partial(poster, url, webhook_id, body) for url in waiting]
            outcomes = concurrency.run_all(posts)
            done |= {url_key(url) for url, outcome in zip(waiting, outcomes) if outcome.value is True}
            if len(done) < len(urls):
                _note_taken(marks, marking, delivered, all_keys)
                if marking and done != taken:
                    marks.note(webhook_id, done - taken)
                telemetry.metric("EventsNotDelivered")
                pause()
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            delivered.append(webhook_id)
            telemetry.metric("EventsDelivered")
        if also is not None:
            if time_left() < POST_TIMEOUT_SECONDS + 2:
                _note_taken(marks, marking, delivered, all_keys)
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            try:
                taken_all = also(record, first)
            except StreamRecordError as exc:
                log.error("stream record unreadable seq=%s: %s", sequence, exc)
                telemetry.metric("EventRecordsUnreadable")
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
            if not taken_all:
                _note_taken(marks, marking, delivered, all_keys)
                telemetry.metric("EventsNotDelivered")
                pause()
                return {"batchItemFailures": [{"itemIdentifier": sequence}]}
        first = False
    return {"batchItemFailures": []}


def _item_key(record: Mapping[str, Any]) -> Any:
    return (((record.get("dynamodb") or {}).get("Keys") or {}).get("pk") or {}).get("S")


def _item_keys(records: list[Mapping[str, Any]]) -> set[str]:
    """The number and identity items' keys in a batch (only they imply events naming a
    recipient or an identity)."""
    return {key for key in map(_item_key, records) if isinstance(key, str) and key.startswith(("v#", "t#"))}


def _note_taken(marks: DeliveryMarks, marking: bool, delivered: list[str],
                all_keys: set[str]) -> None:
    """The retry starts at this record: its events every URL took are skipped then."""
    if marking and all_keys:
        for webhook_id in delivered:
            marks.note(webhook_id, all_keys)
