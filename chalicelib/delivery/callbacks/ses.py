"""Amazon SES events, as a configuration set's SNS event destination publishes them (the SNS
notification's ``Message``), read into receipts.

The format: "Contents of event data that Amazon SES publishes to Amazon SNS" and its
examples (docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html,
.../event-publishing-retrieving-sns-examples.html): ``eventType`` (Bounce, Complaint,
Delivery, Send, Reject, Open, Click, Rendering Failure, DeliveryDelay, Subscription) and
``mail.tags``, which holds the message's tags (ours: ``verify_ref``, chalicelib/channels/providers/
ses.py) as lists of strings.

What each means for the send:
    Send               sent
    Delivery           delivered
    Bounce             undelivered; permanent when ``bounce.bounceType`` is "Permanent" (the
                       address does not exist, or is on the suppression list): the next
                       resend to it answers 422, as for a number a provider calls unreachable
    Complaint          undelivered, permanent: the person marked the code as spam; sending
                       again would be sending to someone who asked not to be written to
    Reject, Rendering Failure  failed (SES did not send it; not about the address)
Others (Open, Click, DeliveryDelay, Subscription) change nothing.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.delivery.callbacks import MAX_BODY_BYTES, Receipt

REFERENCE_TAG = "verify_ref"  # the tag chalicelib/channels/providers/ses.py sets


def read_event(message: str) -> list[Receipt]:
    """The receipts in one event; [] for anything unreadable or not about one of our sends."""
    if not isinstance(message, str) or len(message) > 4 * MAX_BODY_BYTES:
        return []
    try:
        event = json.loads(message)
    except (ValueError, RecursionError):
        return []
    if not isinstance(event, dict):
        return []
    kind = event.get("eventType") or event.get("notificationType")  # the latter without a configuration set
    reference = _reference(event.get("mail"))
    if reference is None or not isinstance(kind, str):
        return []
    outcome = _outcome(kind, event)
    if outcome is None:
        return []
    status, error_code, permanent = outcome
    return [Receipt(reference, status, error_code, permanent)]


def _reference(mail: Any) -> str | None:
    tags = mail.get("tags") if isinstance(mail, dict) else None
    values = tags.get(REFERENCE_TAG) if isinstance(tags, dict) else None
    if isinstance(values, list) and len(values) == 1 and isinstance(values[0], str):
        return values[0]
    return None


def _object(event: dict[str, Any], name: str) -> dict[str, Any]:
    value = event.get(name)
    return value if isinstance(value, dict) else {}


def _outcome(kind: str, event: dict[str, Any]) -> tuple[str, str | None, bool] | None:
    if kind == "Send":
        return "sent", None, False
    if kind == "Delivery":
        return "delivered", None, False
    if kind == "Bounce":
        bounce = _object(event, "bounce")
        bounce_type, sub_type = str(bounce.get("bounceType", "")), str(bounce.get("bounceSubType", ""))
        return "undelivered", f"{bounce_type}/{sub_type}"[:64], bounce_type == "Permanent"
    if kind == "Complaint":
        complaint = _object(event, "complaint")
        return "undelivered", f"Complaint/{complaint.get('complaintFeedbackType', '')}"[:64], True
    if kind in ("Reject", "Rendering Failure"):
        return "failed", kind, False
    return None
