"""GatewayAPI delivery status notifications (``callback_url`` on the message).

Signature (gatewayapi.com/docs, "Webhooks / Authentication token"): with a token set on the
webhook, ``X-Gwapi-Signature`` is a JWT signed HS256 with that token, and its claims are the
whole status notification (id, msisdn, time, status, error, code, userref, ...): the body is
ignored and only the signed claims are read. No expiry claim: replays are harmless
(idempotent, monotonic writes). The reference is ``userref``.
"""

from __future__ import annotations

from typing import Mapping

from chalicelib.delivery.callbacks import CallbackRequest, Receipt, require
from chalicelib.delivery.callbacks.jwt_hs import verify_hs

STATUSES = {"ENROUTE": "sent", "BUFFERED": "sent", "ACCEPTED": "sent", "DELIVERED": "delivered",
            "EXPIRED": "undelivered", "UNDELIVERABLE": "undelivered", "REJECTED": "failed",
            "SKIPPED": "failed", "DELETED": "failed"}


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    claims = verify_hs(request.header("x-gwapi-signature"), require(settings, "webhook_secret"))
    status = STATUSES.get(str(claims.get("status", "")).upper())
    reference = claims.get("userref")
    if status is None or not isinstance(reference, str) or not reference:
        return []
    code = claims.get("code")
    # GatewayAPI documents no per-number permanence in its DLR codes: treat all as transient.
    return [Receipt(reference, status, str(code) if code else None, False)]
