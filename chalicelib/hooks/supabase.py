"""Supabase Auth's Send SMS Hook (https://supabase.com/docs/guides/auth/auth-hooks/send-sms-hook),
as supabase/auth sends it (internal/hooks/hookshttp/hookshttp.go; the body is
internal/hooks/v0hooks/v0hooks.go's SendSMSInput: ``metadata`` {uuid, time, name, ip_address},
``user`` (models.User, ``phone`` without the ``+``), ``sms`` {otp, sms_type, phone}).

Signed with Standard Webhooks under each of the hook's secrets (``v1,whsec_...``), the
signatures joined by ", "; a new ``webhook-id`` on each of its retries (up to 3, 2 s apart, on
a timeout or a 429/503 with ``retry-after``). How it reads the answer (hookshttp.go,
internal/hooks/hookserrors/hookserrors.go): 200/202 with a JSON body, which may be
``{"error": {"http_code", "message"}}`` (then the user gets that status and message), or 204;
400, 401 and 403 become its own 500 ("Invalid payload sent to hook", "Hook requires
authorization token"); 429 and 503 with ``retry-after`` are retried.

So: a refusal the user should read (a limit that lasts, a number the Service does not allow)
is 200 with the error object; a short wait (at most RETRY_WITHIN seconds, which Supabase's
retries can outlast) or an outage is 429/503 with ``retry-after``; a request that is not
Supabase's is 401, a body that is not its format 400.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.hooks.core import HookRefused, HookStarts, e164
from chalicelib.networks import client_network
from chalicelib.settings.hooks import supabase_key
from chalicelib.events import TOLERANCE_SECONDS, InvalidWebhook, verify
from chalicelib import twilio_v2 as wire  # its public face: TwilioError, from_domain
from chalicelib.twilio_v2 import CUSTOM_CODE

PLATFORM = "supabase"
MAX_BODY_BYTES = 64 * 1024  # the user object (identities, metadata) with room; Supabase's own limit is 200 KB
RETRY_WITHIN = 4  # Supabase retries 3 times, 2 s apart: a wait longer than this is the user's to read


def send_sms(hooks: HookStarts, headers: Any, raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of Supabase's answer."""
    try:
        to, code, ip = _read(hooks, headers, raw)
        hooks.start(PLATFORM, to, code, ip)
    except HookRefused as refused:
        return refused.status, error(refused.status, refused.message), {}
    except wire.TwilioError as exc:
        return answer_refusal(exc)
    return 200, {}, {}


def answer_refusal(exc: wire.TwilioError) -> tuple[int, dict[str, Any], dict[str, str]]:
    wait = exc.retry_after
    if exc.status >= 500:
        return 503, error(503, exc.message), {"retry-after": str(wait or 1)}
    if exc.status == 429 and wait is not None and wait <= RETRY_WITHIN:
        return 429, error(429, exc.message), {"retry-after": str(wait)}
    return 200, error(exc.status, exc.message), {}


def error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"http_code": status, "message": message}}


def _read(hooks: HookStarts, headers: Any, raw: bytes) -> tuple[str, str, str | None]:
    if len(raw) > MAX_BODY_BYTES:
        raise HookRefused(400, f"The request body must be at most {MAX_BODY_BYTES} bytes")
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    wanted = {name: headers.get(name) or "" for name in names}
    # Supabase joins its signatures with ", " (one per secret); the spec's separator is a space.
    wanted["webhook-signature"] = " ".join(s.rstrip(",") for s in wanted["webhook-signature"].split())
    secret = hooks.secret(PLATFORM)
    keys = [supabase_key(part) for part in secret.split("|") if part.strip()]
    now = hooks.now()
    for key in keys:
        try:
            verify(key, wanted, raw, now=now)
            break
        except InvalidWebhook as exc:
            reason = str(exc)
    else:
        raise HookRefused(401, f"The request is not signed by this hook's secret ({reason})")
    # The id is remembered while its timestamp is accepted: a replay within that time is refused.
    if not hooks.replay.first(PLATFORM, wanted["webhook-id"],
                              int(wanted["webhook-timestamp"]) + TOLERANCE_SECONDS + 60):
        raise HookRefused(401, "This webhook-id was delivered already")
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise HookRefused(400, "The request body is not JSON") from None
    sms = body.get("sms") if isinstance(body, dict) else None
    user = body.get("user") if isinstance(body, dict) else None
    if not isinstance(sms, dict) or not isinstance(user, dict | type(None)):
        raise HookRefused(400, "The body is Supabase's {user, sms: {otp}}")
    # sms.phone (newer bodies: the number being verified, a new one on a phone change, an MFA
    # factor's) before user.phone (the account's).
    to = e164(sms.get("phone") or (user or {}).get("phone"))
    code = sms.get("otp")
    if to is None:
        raise HookRefused(400, "No phone number in sms.phone or user.phone (E.164 digits)")
    if not isinstance(code, str) or not CUSTOM_CODE.fullmatch(code):  # v2's CustomCode rule
        raise HookRefused(400, "sms.otp must be 4-10 ASCII letters or digits")
    # The end user's address (Supabase's metadata.ip_address): the per-IP limit counts it.
    metadata = body.get("metadata")
    ip = metadata.get("ip_address") if isinstance(metadata, dict) else None
    return to, code, ip if client_network(ip) is not None else None
