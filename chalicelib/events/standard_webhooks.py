"""Standard Webhooks signatures (https://www.standardwebhooks.com, spec/standard-webhooks.md in
github.com/standard-webhooks/standard-webhooks): sign what this service POSTs, verify what it
receives.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds), ``webhook-signature``: a
space-separated list of ``v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>``. The key is
the secret's bytes: ``whsec_`` + base64. Receivers refuse timestamps more than five minutes
away from their clock (the reference libraries' tolerance).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time


# The secret's format is configuration (checked at start-up): chalicelib/settings/events.py.
from chalicelib.settings.events import PREFIX as PREFIX
from chalicelib.settings.events import secret_bytes as secret_bytes

TOLERANCE_SECONDS = 300


class InvalidWebhook(Exception):
    """Missing headers, a stale or future timestamp, or no matching signature."""


def new_secret() -> str:
    """A fresh secret in the spec's serialisation (24 to 64 random bytes; 32 here)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one secret: ``v1,<base64>``."""
    signed = f"{msg_id}.{int(timestamp)}.".encode("utf-8") + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }


def verify(
    secret: str, request_headers: dict[str, str], body: bytes, now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise InvalidWebhook unless one ``v1`` signature matches and the timestamp is fresh.
    Call it on the raw body, before parsing anything."""
    lowered = {k.lower(): v for k, v in request_headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp")
    signatures = lowered.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        raise InvalidWebhook("missing webhook headers")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise InvalidWebhook("invalid webhook-timestamp")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > tolerance:
        raise InvalidWebhook("webhook-timestamp outside the tolerance")
    expected = sign(secret, msg_id, int(stamp), body).encode("ascii")
    for candidate in signatures.split(" "):
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode("utf-8"), expected):
            return
    raise InvalidWebhook("no matching signature")
