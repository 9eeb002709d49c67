"""The hooks of platforms that read only the HTTP status (Logto's HTTP SMS connector, ZITADEL's
HTTP SMS provider): any 2xx is sent, anything else a failure whose body the platform shows or
logs as it is. So a refusal is its HTTP status with this service's v1 error object
(``{"error": {"code", "message"}}``, docs/api.md) and ``Retry-After`` when there is a wait."""

from __future__ import annotations

import json
from typing import Any, Callable

from chalicelib.hooks.core import HookRefused, HookStarts, e164
from chalicelib import twilio_v2 as wire  # its public face: TwilioError, from_domain
from chalicelib.twilio_v2 import CUSTOM_CODE

MAX_BODY_BYTES = 16 * 1024
Answer = tuple[int, dict[str, Any], dict[str, str]]


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def run(hooks: HookStarts, platform: str, read: Callable[[], tuple[str, str, str | None]]) -> Answer:
    """``read``: the number, the code and the end user's address (None: the platform sends none)."""
    try:
        to, code, ip = read()
        hooks.start(platform, to, code, ip)
    except HookRefused as refused:
        name = {400: "invalid_request", 401: "unauthorized"}.get(refused.status, "invalid_request")
        return refused.status, error(name, refused.message), {}
    except wire.TwilioError as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        name = "rate_limited" if exc.status == 429 else "unavailable" if exc.status >= 500 else "refused"
        return exc.status, error(name, exc.message), headers
    return 200, {"sent": True}, {}


def json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HookRefused(400, "The request body is not JSON") from None
    if not isinstance(body, dict):
        raise HookRefused(400, "The request body must be a JSON object")
    return body


def end_user_ip(raw: object) -> str | None:
    """The end user's address when the platform passes one (the per-IP limit counts it)."""
    from chalicelib.networks import client_network

    return raw if isinstance(raw, str) and client_network(raw) is not None else None


def number_and_code(to: object, code: object, where: str) -> tuple[str, str]:
    number = e164(to)
    if number is None:
        raise HookRefused(400, f"{where}: the number must be E.164")
    if not isinstance(code, str) or not CUSTOM_CODE.fullmatch(code):  # v2's CustomCode rule
        raise HookRefused(400, f"{where}: the code must be 4-10 ASCII letters or digits")
    return number, code
