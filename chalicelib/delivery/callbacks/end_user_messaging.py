"""AWS End User Messaging SMS delivery events, published by a configuration set's SNS event
destination to a topic that invokes the function directly (``app.delivery_status``, a Chalice
``on_sns_message`` handler; its Lambda permission names that topic only). No public HTTP and
so no signature: who may invoke is IAM's, who may publish to the topic its access policy's.

The body is documented at docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-format.html
(``eventType``, ``messageStatus``, ``isFinal``, ``messageId``, and ``context``: the map the send
passed as SendTextMessage's ``Context``, here ``{"ref": <send reference>}``); the event types at
docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-types.html.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.delivery.callbacks import Receipt

CONTEXT_KEY = "ref"
# TEXT_QUEUED and TEXT_PENDING say nothing a send's "accepted" does not: no receipt.
_STATUS = {
    "TEXT_SUCCESSFUL": "sent",  # accepted by the recipient's carrier
    "TEXT_DELIVERED": "delivered",
}
# Every other TEXT_ event is a failure to deliver; only TEXT_INVALID (the destination number is
# not valid) is about the number itself.
_UNDELIVERED = {
    "TEXT_BLOCKED", "TEXT_TTL_EXPIRED", "TEXT_CARRIER_UNREACHABLE", "TEXT_INVALID", "TEXT_INVALID_MESSAGE",
    "TEXT_CARRIER_BLOCKED", "TEXT_UNREACHABLE", "TEXT_SPAM", "TEXT_UNKNOWN", "TEXT_PROTECT_BLOCKED",
}
PERMANENT = {"TEXT_INVALID"}


def read_event(message: str) -> list[Receipt]:
    """The receipt in one published event; [] for anything else (a voice or MMS event, a send
    without our reference, a body that is not an event): SNS retries nothing that returns."""
    try:
        event: Any = json.loads(message)
    except (TypeError, ValueError, RecursionError):
        return []
    if not isinstance(event, dict):
        return []
    kind, context = event.get("eventType"), event.get("context")
    reference = context.get(CONTEXT_KEY) if isinstance(context, dict) else None
    if not isinstance(kind, str) or not isinstance(reference, str):
        return []
    if kind in _STATUS:
        return [Receipt(reference, _STATUS[kind])]
    if kind in _UNDELIVERED:
        return [Receipt(reference, "undelivered", kind[len("TEXT_"):], kind in PERMANENT)]
    return []
