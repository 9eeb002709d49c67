"""Vonage SMS API delivery receipts, signed ("signed webhooks" on the account).

Signature (vonage-python-sdk, http_client/src/vonage_http_client/auth.py ``sign_params`` /
``check_signature``; the ``md5hash`` form from the 3.x SDK's ``vonage/client.py``): every
parameter but ``sig``, sorted by name, as ``&name=value`` with ``&`` and ``=`` in values
replaced by ``_``; ``sig`` is the hex HMAC (md5, sha1, sha256 or sha512) of that string with
the signature secret, or for ``md5hash`` the MD5 of the string followed by the secret. The
signed ``timestamp`` (Unix seconds) must be within five minutes. The DLR arrives as a GET
query, a POST form or POST JSON (the account's setting). The reference is ``client-ref``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Mapping

from chalicelib.delivery.callbacks import (
    CallbackRequest,
    InvalidSignature,
    Receipt,
    form_params,
    require,
    require_documented,
)

TOLERANCE_SECONDS = 300
METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
STATUSES = {"accepted": "sent", "buffered": "sent", "delivered": "delivered",
            "expired": "undelivered", "failed": "failed", "rejected": "failed"}
# DLR err-code (developer.vonage.com/en/messaging/sms/guides/delivery-receipts): 3 absent
# subscriber (permanent), 9 illegal number. 2 (absent, temporary), 6 (anti-spam), 11
# (unroutable) and the rest may pass through another provider.
PERMANENT = {"3", "9"}
# Every field of an SMS API delivery receipt, signed or not: developer.vonage.com/en/messaging/
# sms/guides/delivery-receipts, and vonage-dotnet-sdk Vonage/Messaging/DeliveryReceipt.cs (the
# SDK's model of the DLR, with the signed webhooks' timestamp, nonce and sig).
FIELDS = frozenset({"msisdn", "to", "network-code", "messageId", "price", "status", "scts", "err-code",
                    "message-timestamp", "api-key", "client-ref", "timestamp", "nonce", "sig"})


def signature(params: Mapping[str, object], secret: str, method: str = "md5hash") -> str:
    hasher: Any = hashlib.md5() if method == "md5hash" else hmac.new(secret.encode("utf-8"), digestmod=method)
    for key in sorted(params):
        if key == "sig":
            continue
        value = params[key]
        if isinstance(value, str):
            value = value.replace("&", "_").replace("=", "_")
        hasher.update(f"&{key}={value}".encode("utf-8"))
    if method == "md5hash":
        hasher.update(secret.encode("utf-8"))
    return hasher.hexdigest()


def _params(request: CallbackRequest) -> dict[str, object]:
    if request.method == "GET":
        return dict(request.query)
    content_type = (request.header("content-type") or "").lower()
    if content_type.startswith("application/json"):
        try:
            body = json.loads(request.body)
        except ValueError:
            raise InvalidSignature("unreadable JSON body") from None
        if not isinstance(body, dict):
            raise InvalidSignature("unexpected JSON body")
        return body
    return dict(form_params(request.body))


def read(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    secret = require(settings, "signature_secret")
    method = (settings.get("signature_method") or "md5hash").lower()
    if method not in METHODS:
        raise InvalidSignature("unsupported signature method")
    params = _params(request)
    require_documented(params, FIELDS)  # before the signature: a re-cut one would verify
    given = params.get("sig")
    if not isinstance(given, str) or not hmac.compare_digest(
        signature(params, secret, method).encode(), given.lower().encode("utf-8")
    ):
        raise InvalidSignature("bad signature")
    stamp = str(params.get("timestamp", ""))
    if not stamp.isdigit() or abs(request.now - int(stamp)) > TOLERANCE_SECONDS:
        raise InvalidSignature("stale or missing timestamp")
    status = STATUSES.get(str(params.get("status", "")))
    reference = params.get("client-ref")
    if status is None or not isinstance(reference, str) or not reference:
        return []
    code = str(params.get("err-code") or "") or None
    code = None if code == "0" else code
    return [Receipt(reference, status, code, code in PERMANENT)]
