"""MessageBird (Bird) SMS status reports (``reportUrl`` and ``reference`` on the message).

Signature (messagebird/python-rest-api, messagebird/request_validator.py; docs
developers.messagebird.com/docs/verify-http-requests): ``MessageBird-Signature-JWT`` is a JWT
(HS256/384/512, the account's signing key) with ``iss`` "MessageBird", ``nbf`` and ``exp``
(checked, one second of leeway: an expired token is stale), ``url_hash`` = SHA-256 hex of the
full requested URL and ``payload_hash`` = SHA-256 hex of the body when there is one. Reports
come as a GET whose query carries id, reference, recipient, status, statusErrorCode.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Mapping
from urllib.parse import urlencode

from chalicelib.delivery.callbacks import CallbackRequest, InvalidSignature, Receipt, require
from chalicelib.delivery.callbacks.jwt_hs import verify_hs

LEEWAY_SECONDS = 1
STATUSES = {
    "sent": "sent",
    "buffered": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "delivery_failed": "failed",
}


def check_claims(claims: Mapping[str, object], url_candidates: list[str], body: bytes, now: float) -> None:
    if claims.get("iss") != "MessageBird":
        raise InvalidSignature("wrong issuer")
    nbf, exp = claims.get("nbf"), claims.get("exp")
    if not isinstance(nbf, (int, float)) or not isinstance(exp, (int, float)):
        raise InvalidSignature("missing nbf or exp")
    if now + LEEWAY_SECONDS < nbf or now - LEEWAY_SECONDS >= exp:
        raise InvalidSignature("token not valid now (stale)")
    url_hash = str(claims.get("url_hash", "")).encode()
    if not any(
        hmac.compare_digest(hashlib.sha256(u.encode("utf-8")).hexdigest().encode(), url_hash)
        for u in url_candidates
    ):
        raise InvalidSignature("url_hash mismatch")
    payload_hash = claims.get("payload_hash")
    if bool(body) != bool(payload_hash):
        raise InvalidSignature("payload_hash and body disagree")
    if body and not hmac.compare_digest(
        hashlib.sha256(body).hexdigest().encode(), str(payload_hash).encode()
    ):
        raise InvalidSignature("payload_hash mismatch")


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    claims = verify_hs(
        request.header("messagebird-signature-jwt"),
        require(settings, "signing_key"),
        ("HS256", "HS384", "HS512"),
    )
    # API Gateway hands over the query decoded; rebuild it in received order, or sorted.
    sorted_url = request.base_url + ("?" + urlencode(sorted(request.query)) if request.query else "")
    check_claims(claims, [request.url, sorted_url], request.body, request.now)
    fields = dict(request.query)
    status = STATUSES.get(fields.get("status", ""))
    reference = fields.get("reference")
    if status is None or not reference:
        return []
    return [Receipt(reference, status, fields.get("statusErrorCode") or None, False)]
