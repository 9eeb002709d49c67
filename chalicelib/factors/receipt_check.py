"""This service reading its own receipts back: a passkey registration is bound to the number's
verification by the receipt POST /v1/verifications/check answered (chalicelib/passkeys/).

As a consumer checks one (examples/receipt_check.py), without PyJWT or ``cryptography``: the
signature (ES256, raw r||s) against the keys the JWKS publishes, with ``ecdsa`` (imported on
use: only the passkey routes read receipts), the issuer, the expiry, and what it proves (a
verified phone number)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any


class InvalidReceipt(ValueError):
    """Not a receipt of this service, or no longer valid; the message says which."""


def _b64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidReceipt("not a compact JWS") from None


def check_receipt(signer: Any, token: object, now: float) -> dict[str, Any]:
    """The claims of ``token`` if this service (``signer``: its ReceiptSigner) signed it, it is
    unexpired, and it proves a phone number (``phone_number_verified``)."""
    import ecdsa

    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 2:
        raise InvalidReceipt("not a compact JWS")
    head, body, signature = token.split(".")
    try:
        header, claims = json.loads(_b64(head)), json.loads(_b64(body))
    except (ValueError, UnicodeDecodeError):
        raise InvalidReceipt("not a compact JWS") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "ES256":
        raise InvalidReceipt("not an ES256 receipt")
    keys = {k["kid"]: k for k in signer.jwks()["keys"]}
    key = keys.get(header.get("kid"))
    if key is None:
        raise InvalidReceipt("signed by a key this service does not publish")
    point = _b64(key["x"]) + _b64(key["y"])
    verifier = ecdsa.VerifyingKey.from_string(point, curve=ecdsa.NIST256p, hashfunc=hashlib.sha256)
    try:
        verifier.verify(_b64(signature), f"{head}.{body}".encode("ascii"))
    except (ecdsa.BadSignatureError, ValueError, AssertionError):
        raise InvalidReceipt("the signature does not verify") from None
    if claims.get("iss") != signer.issuer:
        raise InvalidReceipt("issued by another deployment")
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise InvalidReceipt("expired")
    if claims.get("phone_number_verified") is not True or not isinstance(claims.get("phone_number"), str) \
            or not isinstance(claims.get("jti"), str):
        raise InvalidReceipt("not a phone number's receipt")
    return claims
