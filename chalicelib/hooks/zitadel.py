"""ZITADEL's HTTP SMS provider (AddSMSProviderHTTP, which returns the provider's
``signingKey``). How ZITADEL calls it, from zitadel/zitadel's source:
internal/notification/channels/webhook/channel.go POSTs the JSON message with
``ZITADEL-Signature`` = pkg/actions/signing.go ``ComputeSignatureHeader``: ``t=<unix
seconds>,v1=<hex HMAC-SHA256(signingKey, "<t>.<body>")>`` (a ``v1`` per key), and takes any 2xx
as sent. Its own check (``ValidatePayload``) refuses a timestamp older than 300 s; this one
refuses one 300 s away either side.

The body (ZITADEL's notification-providers guide): ``contextInfo.recipientPhoneNumber`` and the
code in ``args.code``; ``templateData`` (ZITADEL's text) is never sent: the message is this
service's template. The signature names no message id, so the replay guard keys what was
signed (the timestamp and the body's MAC): one request, once, while its timestamp is accepted."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from chalicelib.hooks import plain
from chalicelib.hooks.core import HookRefused, HookStarts
from chalicelib.events import TOLERANCE_SECONDS

PLATFORM = "zitadel"


def signature_header(key: str, at: int, body: bytes) -> str:
    """What ZITADEL sends (pkg/actions/signing.go), for tests and for ``verify``."""
    digest = hmac.new(key.encode("utf-8"), f"{at}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(key: str, header: str, body: bytes, now: float) -> tuple[int, str]:
    """The header's timestamp and the signature that matched, or HookRefused (401)."""
    stamp, signatures = None, []
    for pair in header.split(","):
        name, sep, value = pair.partition("=")
        if not sep:
            raise HookRefused(401, "ZITADEL-Signature is t=<seconds>,v1=<hex>")
        if name == "t" and value.isascii() and value.isdigit() and len(value) <= 12:
            stamp = int(value)
        elif name == "v1":
            signatures.append(value.encode("ascii", "replace"))
    if stamp is None or not signatures:
        raise HookRefused(401, "ZITADEL-Signature has no timestamp or no v1 signature")
    if abs(now - stamp) > TOLERANCE_SECONDS:
        raise HookRefused(401, "ZITADEL-Signature's timestamp is outside the tolerance")
    expected = signature_header(key, stamp, body).split("v1=", 1)[1].encode("ascii")
    if not any(hmac.compare_digest(candidate, expected) for candidate in signatures):
        raise HookRefused(401, "The request is not signed by this hook's signing key")
    return stamp, expected.decode("ascii")


def send_sms(hooks: HookStarts, headers: Any, raw: bytes) -> plain.Answer:
    def read() -> tuple[str, str, str | None]:
        if len(raw) > plain.MAX_BODY_BYTES:
            raise HookRefused(400, f"The request body must be at most {plain.MAX_BODY_BYTES} bytes")
        header = headers.get("zitadel-signature") or ""
        stamp, signature = verify(hooks.secret(PLATFORM), header, raw, hooks.now())
        # Keyed by what was signed (the timestamp and the body's MAC), never the header as sent:
        # a replay with another v1 added, or the pairs reordered, is the same request.
        if not hooks.replay.first(PLATFORM, f"{stamp}.{signature}", stamp + TOLERANCE_SECONDS + 60):
            raise HookRefused(401, "This signed request was delivered already")
        body = plain.json_body(raw)
        context, args = body.get("contextInfo"), body.get("args")
        if not isinstance(context, dict) or not isinstance(args, dict):
            raise HookRefused(400, "The body is ZITADEL's {contextInfo: {recipientPhoneNumber}, "
                                   "args: {code}}")
        to, code = plain.number_and_code(context.get("recipientPhoneNumber"), args.get("code"),
                                         "ZITADEL's body")
        return to, code, None  # ZITADEL passes no end user's address

    return plain.run(hooks, PLATFORM, read)
