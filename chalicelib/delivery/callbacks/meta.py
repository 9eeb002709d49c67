"""WhatsApp message statuses: Meta's webhooks (POST /v1/callbacks/meta) and End User Messaging
Social's events (SNS), which carry the same webhook entry.

Meta, "Webhooks" (developers.facebook.com/docs/graph-api/webhooks/getting-started): the
verification request is a GET with ``hub.mode=subscribe``, ``hub.verify_token`` (the token
set in the app dashboard: META_VERIFY_TOKEN) and ``hub.challenge``, answered with the
challenge; every POST carries ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the
raw body under the app secret (META_APP_SECRET), checked here before the body is parsed.

The payload ("Status messages webhook", developers.facebook.com/docs/whatsapp/cloud-api/
webhooks/payload-examples): ``{"object": "whatsapp_business_account", "entry": [{"id",
"changes": [{"field": "messages", "value": {"statuses": [{"id": "wamid...", "status":
"sent"|"delivered"|"read"|"failed", "biz_opaque_callback_data", "errors": [{"code", ...}]}]}}]}]}``.
Each send puts its reference in ``biz_opaque_callback_data``, which Meta echoes in the status.

End User Messaging Social ("WhatsApp events", docs.aws.amazon.com/social-messaging/latest/
userguide/managing-event-destination-dlrs.html): the SNS message is JSON whose
``whatsAppWebhookEntry`` is the same entry, as a JSON string.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Mapping

from chalicelib.delivery.callbacks import MAX_BODY_BYTES, CallbackRequest, InvalidSignature, Receipt, require

# "read" stays itself: channel "auto" moves a resend on after a WhatsApp nobody opened.
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "failed": "failed"}
# Meta's error codes that are about the recipient (chalicelib/channels/providers/whatsapp.py).
PERMANENT_ERRORS = {131026}


def handshake(query: Mapping[str, str], settings: Mapping[str, str]) -> str:
    """The challenge to answer, when the mode and the verify token are right."""
    token = require(settings, "verify_token")
    given = query.get("hub.verify_token", "")
    challenge = query.get("hub.challenge", "")
    if (query.get("hub.mode") != "subscribe" or not challenge or len(challenge) > 256
            or not hmac.compare_digest(given.encode(), token.encode())):
        raise InvalidSignature("bad verify token or mode")
    return challenge


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    if request.method != "POST":
        raise InvalidSignature("statuses come by POST")
    secret = require(settings, "app_secret")
    header = request.header("x-hub-signature-256") or ""
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(header.encode(), expected.encode()):
        raise InvalidSignature("X-Hub-Signature-256 mismatch")
    payload = _json(request.body)
    entries = payload.get("entry") if isinstance(payload, dict) else None
    return [r for entry in (entries if isinstance(entries, list) else []) for r in _entry(entry)]


def read_social_event(message: str) -> list[Receipt]:
    """One End User Messaging Social SNS message (already authenticated: see the handler).

    Its shape ("Message and event format in AWS End User Messaging Social",
    docs.aws.amazon.com/social-messaging/latest/userguide/managing-event-destination-dlrs.html):
    a JSON object with the service's header (``context`` with the WABA's and the number's ids and
    ARNs, ``aws_account_id``, ``message_timestamp``, ``messageId``) and ``whatsAppWebhookEntry``,
    one entry of Meta's webhook (``{"id", "changes": [...]}``) as a JSON string."""
    event = _json(message.encode("utf-8")[: 4 * MAX_BODY_BYTES]) if isinstance(message, str) else None
    raw_entry = event.get("whatsAppWebhookEntry") if isinstance(event, dict) else None
    entry = _json(raw_entry.encode("utf-8")) if isinstance(raw_entry, str) else None
    return _entry(entry)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


def _entry(entry: Any) -> list[Receipt]:
    changes = entry.get("changes") if isinstance(entry, dict) else None
    receipts = []
    for change in changes if isinstance(changes, list) else []:
        value = change.get("value") if isinstance(change, dict) else None
        statuses = value.get("statuses") if isinstance(value, dict) else None
        for status in statuses if isinstance(statuses, list) else []:
            receipt = _receipt(status)
            if receipt is not None:
                receipts.append(receipt)
    return receipts


def _receipt(status: Any) -> Receipt | None:
    if not isinstance(status, dict):
        return None
    ours = STATUSES.get(str(status.get("status")))
    reference = status.get("biz_opaque_callback_data")
    if ours is None or not isinstance(reference, str):
        return None
    errors = status.get("errors")
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = first.get("code")
    permanent = ours == "failed" and code in PERMANENT_ERRORS
    return Receipt(reference, "undelivered" if permanent else ours, str(code) if code is not None else None,
                   permanent)
