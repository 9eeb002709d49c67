"""Sinch SMS delivery reports (``callback_url`` and ``client_reference`` on the batch).

Sinch signs SMS callbacks only by arrangement with an account manager (basic auth, OAuth 2.0,
mutual TLS, or HMAC set per service plan: developers.sinch.com/docs/sms/api-reference/sms/tag/Webhooks/);
no signature is on by default. So this deployment does not accept a Sinch report without its
own secret in the URL: ``token`` = HMAC of the server secret, handed out inside callback_url,
compared in constant time. Anyone holding that URL could post a report; what they could do
is mark one of this deployment's sends delivered or undelivered, nothing more.
"""

from __future__ import annotations

import hmac
import json
from typing import Mapping

from chalicelib.delivery.callbacks import CallbackRequest, InvalidSignature, Receipt

STATUSES = {
    "Dispatched": "sent",
    "Delivered": "delivered",
    "Expired": "undelivered",
    "Failed": "failed",
    "Rejected": "failed",
    "Aborted": "failed",
}


def url_token(token_key: bytes) -> str:
    import hashlib

    return hmac.new(token_key, b"callback-token\x00sinch", hashlib.sha256).hexdigest()[:32]


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    given = request.query_value("token") or ""
    if not request.token_key or not hmac.compare_digest(
        url_token(request.token_key).encode(), given.encode("utf-8")
    ):
        raise InvalidSignature("missing or wrong URL token")
    try:
        report = json.loads(request.body)
    except ValueError:
        raise InvalidSignature("unreadable body") from None
    if not isinstance(report, dict) or report.get("type") != "recipient_delivery_report_sms":
        return []
    status = STATUSES.get(str(report.get("status", "")))
    reference = report.get("client_reference")
    if status is None or not isinstance(reference, str) or not reference:
        return []
    code = report.get("code")
    return [Receipt(reference, status, str(code) if code is not None else None, False)]
