"""What the app's backend binds a receipt to: a nonce and a purpose, parsed the same way for a
phone or email verification (chalicelib/verify/models.py) and an authenticator code (TOTP)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import InvalidRequest

_NONCE = re.compile(r"[\x21-\x7e]{1,256}", re.ASCII)  # visible ASCII, as OIDC nonces are in practice


@dataclass(frozen=True)
class ReceiptBinding:
    """What the app's backend binds a receipt to (docs/security.md, receipts): ``nonce`` an
    opaque value tied to its session (OIDC's meaning), ``purpose`` why the user is verified."""

    nonce: str | None = None
    purpose: str | None = None

    def claims(self) -> dict[str, str]:
        return {k: v for k, v in (("nonce", self.nonce), ("purpose", self.purpose)) if v is not None}


def parse_binding(body: dict[str, Any]) -> ReceiptBinding | None:
    """``nonce`` (1-256 visible ASCII characters) and ``purpose`` (``login``, ``signup``,
    ``transaction`` or any 1-64 printable characters), both optional."""
    nonce, purpose = _optional_str(body, "nonce"), _optional_str(body, "purpose")
    if nonce is not None and not _NONCE.fullmatch(nonce):
        raise InvalidRequest("'nonce' must be 1-256 visible ASCII characters.")
    if purpose is not None and not (1 <= len(purpose) <= 64 and purpose.isprintable()):
        raise InvalidRequest("'purpose' must be 1-64 printable characters, such as \"login\".")
    return ReceiptBinding(nonce, purpose) if nonce is not None or purpose is not None else None


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.")
    return value
