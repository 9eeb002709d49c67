"""Twilio's Safe List (``/v2/SafeList/Numbers``, ``GN``: https://www.twilio.com/docs/verify/api/
safe-list; Twilio's OpenAPI document twilio_verify_v2's ``verify.v2.safelist``) over the account's
Safe List (chalicelib/verify/safe_list.py: what a safe number passes, and what it does not).

The list is the account's, not a Service's: only a credential for every Service changes or
reads it (a key limited to some Services gets 20403, as for RiskCheckOptOutEnabled: a safe
number passes the pumping breakers of every Service). Errors: 60200 for a ``PhoneNumber`` that
is not a valid E.164 number, 60411 for one on the list already
(https://www.twilio.com/docs/api/errors/60411), 20404 for one that is not on it."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalicelib import errors
from chalicelib.twilio_v2 import wire

PATH = "/v2/SafeList/Numbers"


class SafeListResources:
    def __init__(self, api: Any, safe_list: Any, now: Any) -> None:
        self._api = api
        self._list = safe_list
        self._now = now

    def create(self, form: dict[str, str], base: str) -> dict[str, Any]:
        for name in sorted(form):
            if name != "PhoneNumber":
                raise wire.invalid(name, "not supported by this service")
        e164 = _e164(form.get("PhoneNumber"))
        if not self._list.add(e164, int(self._now())):
            raise wire.TwilioError(60411, 400, "Phone Number already exists in the SafeList")
        return self.body(e164, base)

    def fetch(self, raw: str, base: str) -> dict[str, Any]:
        e164 = _e164(_path(raw))
        if not self._list.contains(e164):
            raise wire.not_found("The Phone Number in the SafeList")
        return self.body(e164, base)

    def delete(self, raw: str) -> None:
        if not self._list.remove(_e164(_path(raw)), int(self._now())):
            raise wire.not_found("The Phone Number in the SafeList")

    def body(self, e164: str, base: str) -> dict[str, Any]:
        return {"sid": self._list.sid(e164), "phone_number": e164, "url": f"{base}{PATH}/{e164}"}


def _path(raw: str) -> str:
    """The path's number: the SDKs send the ``+`` as is; ``%2B`` is decoded once (a path, not a
    form: never ``+`` as a space)."""
    return unquote(raw) if "%" in raw else raw


def _e164(raw: str | None) -> str:
    """The canonical E.164 form (the list's key): Twilio asks for E.164, so a number must start
    with ``+`` and be valid (phonenumbers); its spelling (spaces, dashes) does not make another."""
    from chalicelib.channels import parse_phone_number

    if not raw:
        raise wire.invalid("PhoneNumber", "is required")
    if not raw.strip().startswith("+"):
        raise wire.invalid("PhoneNumber", "must be in E.164 format (+ and the country code)")
    try:
        return parse_phone_number(raw, "ZZ").e164
    except errors.ServiceError:
        raise wire.invalid("PhoneNumber", "is not a valid phone number in E.164 format") from None
