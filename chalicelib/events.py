"""Events to the deployment's own backend: every state change of a verification, POSTed as
JSON with Standard Webhooks headers, at least once, through SQS.

The request path only enqueues (one SendMessage, no wait on the customer's server). The queue's
Lambda handler (``app.py``: ``on_sqs_message``) POSTs with a short timeout and raises on any
failure, so SQS redelivers the message after its visibility timeout and, after the redrive
policy's maxReceiveCount, moves it to the dead-letter queue (scripts/events_resources.py). The
``webhook-id`` is fixed when the event is made, so every retry carries the same one and a
receiver de-duplicates on it. No code ever; the number is masked unless OTP_EVENTS_INCLUDE_NUMBER.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from chalicelib import telemetry

log = logging.getLogger("verify")
POST_TIMEOUT_SECONDS = 3
TYPES = ("verification.started", "verification.resent", "verification.approved", "verification.failed",
         "verification.canceled", "verification.expired", "delivery.updated", "totp.factor_suspended")


class EventSink(Protocol):
    def emit(self, event_type: str, verification: Any, send_index: int | None = None) -> None: ...

    def emit_data(self, event_type: str, data: dict[str, Any]) -> None: ...


class _NoEvents:
    def emit(self, event_type: str, verification: Any, send_index: int | None = None) -> None:
        return None

    def emit_data(self, event_type: str, data: dict[str, Any]) -> None:
        return None


NO_EVENTS = _NoEvents()


def _masked(e164: str) -> str:
    keep_head = min(5, len(e164) - 2)
    return e164[:keep_head] + "*" * (len(e164) - keep_head - 2) + e164[-2:]


def event_body(event_type: str, verification: Any, now: float, include_number: bool,
               send_index: int | None = None) -> dict[str, Any]:
    """The event as POSTed. Built from the stored verification: it holds no code (only MACs,
    which are left out too)."""
    sends = verification.sends
    index = len(sends) - 1 if send_index is None else send_index
    data: dict[str, Any] = {
        "id": verification.id,
        "to": verification.to if include_number else _masked(verification.to),
        "channel": verification.channel,
        "status": verification.status(now),
        "send_count": verification.send_count,
        "attempts": verification.attempts,
    }
    if 0 <= index < len(sends):
        send = sends[index]
        data["send"] = {"index": index, "provider": send.provider, "status": send.status,
                        "error_code": send.error_code}
    stamp = datetime.fromtimestamp(int(now), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": event_type, "timestamp": stamp, "data": data}


class SqsEvents:
    """Enqueues each event with one SendMessage. A failure to enqueue is logged and counted,
    never raised: the user's verification must not fail because the event queue did."""

    def __init__(self, sqs: Callable[[], Any], queue: str, include_number: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self._sqs = sqs
        self._queue = queue
        self._queue_url: str | None = None
        self._include_number = include_number
        self._clock = clock

    def emit(self, event_type: str, verification: Any, send_index: int | None = None) -> None:
        now = self._clock()
        body = event_body(event_type, verification, now, self._include_number, send_index)
        self._enqueue(event_type, now, body)

    def emit_data(self, event_type: str, data: dict[str, Any]) -> None:
        """An event about something other than a verification (a TOTP factor), same envelope."""
        now = self._clock()
        stamp = datetime.fromtimestamp(int(now), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._enqueue(event_type, now, {"type": event_type, "timestamp": stamp, "data": data})

    def _enqueue(self, event_type: str, now: float, body: dict[str, Any]) -> None:
        message = {"webhook_id": "msg_" + secrets.token_urlsafe(18), "timestamp": int(now), "body": body}
        try:
            if self._queue_url is None:  # once per container
                self._queue_url = self._sqs().get_queue_url(QueueName=self._queue)["QueueUrl"]
            self._sqs().send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(message))
        except Exception as exc:  # noqa: BLE001 - botocore errors and timeouts alike
            log.error("event not enqueued type=%s error=%s", event_type, type(exc).__name__)
            telemetry.metric("EventsNotEnqueued")
            return
        telemetry.metric("EventsEnqueued")


class DeliveryFailed(Exception):
    """A receiver did not answer 2xx in time: SQS will deliver the message again."""


def deliver(message_body: str, urls: tuple[str, ...], secret: str, post: Callable[..., Any]) -> None:
    """POST one queued event to every receiver; raise DeliveryFailed if any did not take it
    (the whole message is retried: receivers de-duplicate on webhook-id)."""
    from chalicelib.standard_webhooks import headers

    message = json.loads(message_body)
    body = json.dumps(message["body"], separators=(",", ":")).encode("utf-8")
    # Signed at each attempt (receivers refuse timestamps older than five minutes); the id
    # stays the one fixed at enqueue time.
    signed = headers(secret, message["webhook_id"], int(time.time()), body)
    failed = []
    for url in urls:
        try:
            response = post(url, data=body, timeout=POST_TIMEOUT_SECONDS, allow_redirects=False,
                            headers={**signed, "Content-Type": "application/json",
                                     "User-Agent": "phone-verify-events"})
            ok = 200 <= response.status_code < 300
        except Exception as exc:  # noqa: BLE001 - connection errors and timeouts
            log.warning("event POST failed id=%s error=%s", message["webhook_id"], type(exc).__name__)
            ok = False
        if not ok:
            failed.append(url)
    if failed:
        raise DeliveryFailed(f"{len(failed)} receiver(s) did not take {message['webhook_id']}")
