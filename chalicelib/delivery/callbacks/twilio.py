"""Twilio and SignalWire (Compatibility API) status callbacks.

Signature (twilio-python, twilio/request_validator.py): ``X-Twilio-Signature`` =
base64(HMAC-SHA1(auth token, URL + each POST parameter name and value, sorted by name)),
checked against the URL with and without its default port (Twilio's own signing is
inconsistent about it). A JSON body is covered by ``bodySHA256`` in the URL instead of the
parameters. SignalWire signs the same way with the project's Signing Key, in
``X-SignalWire-Signature`` (or ``X-Twilio-Signature``): developer.signalwire.com/guides/webhook-security.

The scheme has no timestamp: a replayed receipt is harmless because status writes are
idempotent and never move backwards. The reference is the ``ref`` query parameter of the
StatusCallback URL (signed with the URL).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from chalicelib.delivery.callbacks import CallbackRequest, InvalidSignature, Receipt, form_params, require

# "read": WhatsApp (and RCS) messages only, when the user opened it (twilio.com/docs/messaging/
# guides/outbound-message-status-in-status-callbacks); SMS never reports it.
STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read",
            "undelivered": "undelivered", "failed": "failed"}
# Delivery errors about the number itself (twilio.com/docs/api/errors): 30005 unknown
# destination handset, 30006 landline or unreachable carrier, 21610 unsubscribed (STOP).
# 30003 (handset off), 30007 (carrier filtering), 30008 (unknown) may pass elsewhere.
PERMANENT = {"30005", "30006", "21610"}


def signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = url
    names = sorted({name for name, _ in params})
    for name in names:
        for value in sorted({v for n, v in params if n == name}):
            data += name + value
    digest = hmac.new(token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    default = "443" if parts.scheme == "https" else "80"
    without = urlunsplit(parts._replace(netloc=host))
    with_port = url if parts.port else urlunsplit(parts._replace(netloc=f"{host}:{default}"))
    return [without, with_port]


def verify(token: str, url: str, params: list[tuple[str, str]], body: bytes, given: str | None) -> None:
    if not given:
        raise InvalidSignature("missing signature header")
    body_hash = dict(parse_query(url)).get("bodySHA256")
    if body_hash is not None:  # a JSON body: its hash is in the signed URL
        if not hmac.compare_digest(hashlib.sha256(body).hexdigest().encode(), body_hash.encode()):
            raise InvalidSignature("body hash mismatch")
        params = []
    ok = False
    for candidate in _port_variants(url):
        ok |= hmac.compare_digest(signature(token, candidate, params).encode(), given.encode("utf-8"))
    if not ok:
        raise InvalidSignature("bad signature")


def parse_query(url: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def _read(request: CallbackRequest, token: str, header_names: tuple[str, ...]) -> list[Receipt]:
    given = next((request.header(h) for h in header_names if request.header(h)), None)
    params = form_params(request.body) if request.query_value("bodySHA256") is None else []
    verify(token, request.url, params, request.body, given)
    fields = dict(params)
    status = STATUSES.get(fields.get("MessageStatus") or fields.get("SmsStatus") or "")
    reference = request.query_value("ref")
    if status is None or not reference:
        return []
    code = fields.get("ErrorCode") or None
    return [Receipt(reference, status, code, code in PERMANENT)]


def read_twilio(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    return _read(request, require(settings, "auth_token"), ("x-twilio-signature",))


def read_signalwire(request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    return _read(request, require(settings, "signing_key"), ("x-signalwire-signature", "x-twilio-signature"))
