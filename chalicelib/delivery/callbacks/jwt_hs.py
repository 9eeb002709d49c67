"""Verify an HMAC-signed JWT (HS256/384/512) with the standard library: the schemes of
GatewayAPI (X-Gwapi-Signature) and MessageBird (MessageBird-Signature-JWT). PyJWT is not in
the Lambda package, and this is all of it that is needed."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from chalicelib.delivery.callbacks import InvalidSignature

_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSignature("malformed token") from None


def verify_hs(token: str | None, secret: str, algorithms: tuple[str, ...] = ("HS256",)) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks out; InvalidSignature otherwise.
    The header's ``alg`` must be one of ``algorithms`` (never ``none``)."""
    if not token or token.count(".") != 2 or len(token) > 8192:
        raise InvalidSignature("missing or malformed token")
    header_b64, claims_b64, signature_b64 = token.split(".")
    try:
        header = json.loads(_b64url(header_b64))
    except ValueError:
        raise InvalidSignature("malformed token header") from None
    alg = header.get("alg") if isinstance(header, dict) else None
    if alg not in algorithms or alg not in _DIGESTS:
        raise InvalidSignature("unexpected algorithm")
    expected = hmac.new(secret.encode("utf-8"), f"{header_b64}.{claims_b64}".encode("ascii"),
                        _DIGESTS[alg]).digest()
    if not hmac.compare_digest(expected, _b64url(signature_b64)):
        raise InvalidSignature("bad token signature")
    try:
        claims = json.loads(_b64url(claims_b64))
    except ValueError:
        raise InvalidSignature("malformed token claims") from None
    if not isinstance(claims, dict):
        raise InvalidSignature("malformed token claims")
    return claims
