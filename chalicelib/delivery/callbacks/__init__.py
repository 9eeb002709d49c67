"""Delivery receipts from providers: each scheme checks the provider's own signature on the raw
request first (constant-time), and only then reads the receipts out of it.

A scheme module has ``read(request, settings) -> list[Receipt]`` and raises ``InvalidSignature``
for anything unsigned, badly signed or stale, ``NotConfigured`` when this deployment has no
secret to check the provider's signature with. Modules load on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping
from urllib.parse import urlencode

# Final statuses outrank "sent", which outranks "accepted" (the provider took the request);
# "read" (WhatsApp: the user opened the message) outranks them all, as it implies delivered
# (WhatsApp may send it without a "delivered" first). A write never lowers the rank, so late
# or out-of-order receipts cannot undo a final one, nor a "delivered" undo a "read".
STATUS_RANK = {"accepted": 0, "sent": 1, "delivered": 2, "undelivered": 2, "failed": 2, "read": 3}
UNDELIVERED = ("undelivered", "failed")
MAX_BODY_BYTES = 16_384

SCHEMES = {
    "twilio": "chalicelib.delivery.callbacks.twilio:read_twilio",
    "signalwire": "chalicelib.delivery.callbacks.twilio:read_signalwire",
    "plivo": "chalicelib.delivery.callbacks.plivo:read",
    "vonage": "chalicelib.delivery.callbacks.vonage:read",
    "gatewayapi": "chalicelib.delivery.callbacks.gatewayapi:read",
    "messagebird": "chalicelib.delivery.callbacks.messagebird:read",
    "sinch": "chalicelib.delivery.callbacks.sinch:read",
    "meta": "chalicelib.delivery.callbacks.meta:read",
}


class InvalidSignature(Exception):
    """Unsigned, badly signed, or stale: answer 403 and change nothing."""


class NotConfigured(Exception):
    """This deployment holds no secret to check the provider's signature: refuse (403)."""


@dataclass(frozen=True)
class CallbackRequest:
    method: str
    base_url: str  # OTP_PUBLIC_URL + the route's path: the URL handed to the provider
    query: tuple[tuple[str, str], ...]  # in the order received
    headers: Mapping[str, str]  # names lowercased
    body: bytes
    now: float
    token_key: bytes = field(default=b"", repr=False)  # for schemes with a secret in the URL

    @property
    def url(self) -> str:
        """The URL as the provider requested it (the query re-encoded in received order)."""
        return self.base_url + ("?" + urlencode(self.query) if self.query else "")

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


@dataclass(frozen=True)
class Receipt:
    reference: str  # the send reference handed to the provider (chalicelib.delivery.tracker)
    status: str  # one of STATUS_RANK
    error_code: str | None = None
    permanent: bool = False  # the reason is about the number itself: no resend helps

    @property
    def rank(self) -> int:
        return STATUS_RANK[self.status]


def read_receipts(provider: str, request: CallbackRequest, settings: Mapping[str, str]) -> list[Receipt]:
    module_name, _, function = SCHEMES[provider].partition(":")
    return getattr(importlib.import_module(module_name), function)(request, settings)


def form_params(body: bytes) -> list[tuple[str, str]]:
    """A form-encoded body's parameters (blank values kept: they are signed too)."""
    from urllib.parse import parse_qsl

    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise InvalidSignature("unreadable form body") from None


def require_documented(names: Iterable[str], documented: frozenset[str]) -> None:
    """Refuse parameter names a scheme cannot protect (docs/security.md rule 21). Vonage and Plivo
    sign names unescaped (``&name=value``, ``namevalue``): ``{"err-code=3&message-timestamp": T}``
    signs as ``{"err-code": "3", "message-timestamp": T}``, and Plivo's ``ErrorCode50From`` as
    ``ErrorCode=50`` followed by ``From``. A name with ``&`` or ``=``, or one the provider does not
    document, is a re-cut signature or a change of the provider's: refused either way (403)."""
    for name in names:
        if "&" in name or "=" in name or name not in documented:
            raise InvalidSignature("parameter name outside the provider's documented fields")


def require(settings: Mapping[str, str], key: str) -> str:
    value = settings.get(key)
    if not value:
        raise NotConfigured(key)
    return value
