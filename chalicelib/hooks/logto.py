"""Logto's HTTP SMS connector (logto-io/logto packages/connectors/connector-http-sms,
src/index.ts): ``POST`` of ``{"to", "type", "payload": {"code"}}`` with the connector's static
``Authorization`` header value (its README: "an optional authorization token"); any 2xx is
sent, anything else a ConnectorError carrying the raw body.

Logto signs nothing and sends no id or timestamp, so a captured request can be replayed: what
holds then is the constant-time compare of the whole ``Authorization`` value (a wrong one
learns nothing of the right one), TLS (the value never crosses in clear), and the limits of
every start: a replay is a resend of the number's pending verification (5 sends at most), then
the number's, the prefix's and the budget's limits (docs/identity-platforms.md)."""

from __future__ import annotations

import hmac
from typing import Any

from chalicelib.hooks import plain
from chalicelib.hooks.core import HookRefused, HookStarts

PLATFORM = "logto"
# connector-kit's TemplateType values (packages/toolkit/connector-kit/src/types/passwordless.ts)
# all ask for a code; "Test" is the console's "send a test message".


def send_sms(hooks: HookStarts, headers: Any, raw: bytes) -> plain.Answer:
    def read() -> tuple[str, str, str | None]:
        if len(raw) > plain.MAX_BODY_BYTES:
            raise HookRefused(400, f"The request body must be at most {plain.MAX_BODY_BYTES} bytes")
        given = (headers.get("authorization") or "").encode("utf-8")
        if not hmac.compare_digest(given, hooks.secret(PLATFORM).encode("utf-8")):
            raise HookRefused(401, "The Authorization value is not this hook's")
        body = plain.json_body(raw)
        payload = body.get("payload")
        if not isinstance(payload, dict) or not isinstance(body.get("type"), str):
            raise HookRefused(400, "The body is Logto's {to, type, payload: {code}}")
        to, code = plain.number_and_code(body.get("to"), payload.get("code"), "Logto's body")
        return to, code, plain.end_user_ip(body.get("ip"))  # newer connector-kits pass the user's ip

    return plain.run(hooks, PLATFORM, read)
