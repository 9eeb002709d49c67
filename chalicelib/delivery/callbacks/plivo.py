"""Plivo message status callbacks (the ``url`` parameter of Send Message).

Signature V3 (plivo-python, plivo/utils/signature_v3.py): ``X-Plivo-Signature-V3`` holds one
or more comma-separated base64(HMAC-SHA256(auth token, base + "." + nonce)) values, the nonce
in ``X-Plivo-Signature-V3-Nonce``. For a POST, base is the URL without its query, then ``?``
and the query's ``key=value`` pairs sorted and joined by ``&``, then ``.`` (only when there is
a query), then every POST parameter as ``keyvalue`` sorted by key. No timestamp: replays are
harmless (idempotent, monotonic writes). The reference is the ``ref`` query parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from chalicelib.delivery.callbacks import (
    CallbackRequest,
    InvalidSignature,
    Receipt,
    form_params,
    require,
    require_documented,
)

STATUSES = {"sent": "sent", "delivered": "delivered", "undelivered": "undelivered",
            "failed": "failed", "rejected": "failed"}
# Plivo SMS error codes (plivo.com/docs/messaging/troubleshooting/error-codes): 50 invalid
# destination number, 70 destination permanently unavailable, 200 blocked by the user's STOP.
PERMANENT = {"50", "70", "200"}
# The message status callback's attributes (plivo.com/docs/messaging/api/message/
# message-status-callbacks, "passed to the status update URL with every status change event").
FIELDS = frozenset({
    "MessageUUID", "To", "From", "Type", "Status", "Units", "TotalRate", "TotalAmount", "MCC", "MNC",
    "ErrorCode", "ParentMessageUUID", "PartInfo", "Sequence", "MessageTime", "QueuedTime", "SentTime",
    "DeliveryReportTime", "requester_ip", "PowerpackUUID", "ConversationExpirationTimestamp",
    "ConversationOrigin", "ConversationID",
})
QUERY = frozenset({"ref"})  # the callback URL's own query (chalicelib/delivery/tracker.py delivery_report)


def _sorted_pairs(pairs: list[tuple[str, str]], template: str, joiner: str) -> str:
    out = []
    for key in sorted({k for k, _ in pairs}):
        out.append(joiner.join(template.format(key, v) for v in sorted(v for k, v in pairs if k == key)))
    return joiner.join(out)


def base_string(url: str, params: list[tuple[str, str]]) -> str:
    from urllib.parse import parse_qsl

    parts = urlsplit(url)
    base = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    query = _sorted_pairs(parse_qsl(parts.query, keep_blank_values=True), "{}={}", "&")
    if not params:
        return base + ("?" + query if query else "")
    return base + "?" + query + ("." if query else "") + _sorted_pairs(params, "{}{}", "")


def signature(token: str, url: str, params: list[tuple[str, str]], nonce: str) -> str:
    message = f"{base_string(url, params)}.{nonce}".encode("utf-8")
    return base64.b64encode(hmac.new(token.encode("utf-8"), message, hashlib.sha256).digest()).decode()


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    token = require(settings, "auth_token")
    given, nonce = request.header("x-plivo-signature-v3"), request.header("x-plivo-signature-v3-nonce")
    if not given or not nonce:
        raise InvalidSignature("missing signature headers")
    params = form_params(request.body)
    require_documented((name for name, _ in params), FIELDS)  # before the signature, as re-cut ones verify
    require_documented((name for name, _ in request.query), QUERY)
    expected = signature(token, request.url, params, nonce).encode()
    if not any(hmac.compare_digest(expected, s.strip().encode("utf-8")) for s in given.split(",")):
        raise InvalidSignature("bad signature")
    fields = dict(params)
    status = STATUSES.get(fields.get("Status", ""))
    reference = request.query_value("ref")
    if status is None or not reference:
        return []
    code = fields.get("ErrorCode") or None
    code = None if code == "000" else code
    return [Receipt(reference, status, code, code in PERMANENT)]
