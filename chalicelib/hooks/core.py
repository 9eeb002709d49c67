"""What every identity platform's hook shares (docs/identity-platforms.md): its secret (the
variable or its SSM parameter, read once per container), the replay guard for a scheme that
names each message, and the start itself, which is a custom-code start of the hook's Service
through the /v2 use case (twilio_v2/api.py ``start``): the same Service rules, limits,
breakers, budget, providers and message templates; no rule is written here a second time.

A hook's refusal is a Twilio error (wire.TwilioError: status, message, retry_after); each
platform's module turns it into that platform's own error shape."""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Callable

from chalicelib import errors
from chalicelib.dynamodb import ConditionFailed, DynamoDBTable
from chalicelib import twilio_v2 as wire  # its public face: TwilioError, from_domain

log = logging.getLogger("verify")


class HookRefused(Exception):
    """The request is not the platform's (no or a wrong signature or token, a stale timestamp,
    a replay) or not in its format; ``status``: 401 or 400 (413 for a body over the limit)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ReplayGuard(DynamoDBTable):
    """One conditional write per message id: the first delivery of an id passes, any other
    (a replay, the platform's own resend of one id) is refused. The item expires when the
    signature's timestamp stops being accepted, so the table keeps no more than that."""

    def first(self, platform: str, message_id: str, expires_at: int) -> bool:
        digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:32]
        try:
            # token: a retry after a lost answer finds its own write, not a replay.
            self._update(f"hook#{platform}#{digest}", "SET expires_at = :expires", "attribute_not_exists(pk)",
                         {":expires": expires_at}, token=True)
        except ConditionFailed:
            return False
        return True


class HookStarts:
    """The hooks' one way in: a custom-code start of the platform's Service."""

    def __init__(self, config: Any, get_twilio: Callable[[], Any], replay: ReplayGuard,
                 read_secret: Callable[[str, str], str]) -> None:
        self._config = config
        self._get_twilio = get_twilio
        self.replay = replay
        self._read_secret = read_secret
        self._secrets: dict[str, str] = {}

    def now(self) -> float:
        return float(self._get_twilio()._service.now())

    def enabled(self, platform: str) -> bool:
        return bool(self._config.hooks.of(platform).enabled)

    def secret(self, platform: str) -> str:
        """The platform's secret: the variable's value, or its SSM parameter's (read once)."""
        hook = self._config.hooks.of(platform)
        if hook.secret is not None:
            return str(hook.secret)
        if platform not in self._secrets:
            self._secrets[platform] = self._read_secret(f"OTP_HOOK_{platform.upper()}_SECRET_PARAMETER",
                                                        hook.secret_parameter)
        return self._secrets[platform]

    def start(self, platform: str, to: str, code: str, device_ip: str | None = None,
              locale: str | None = None) -> None:
        """Send ``code`` to ``to`` (E.164) by SMS for the platform's Service: a new verification,
        or a resend of the pending one (at most 5 sends, as on /v2). ``locale``: the message's
        (v2's ``Locale``, checked there), when the platform names the user's. Raises wire.TwilioError."""
        api = self._get_twilio()
        sid = self._config.hooks.of(platform).service or api.default_sid
        form = {"To": to, "Channel": "sms", "CustomCode": code}
        if device_ip is not None:
            form["DeviceIp"] = device_ip  # the end user's address: the per-IP limit counts it
        if locale is not None:
            form["Locale"] = locale
        try:
            api.start(sid, form, "", platform=True)
        except errors.ServiceError as exc:
            raise wire.from_domain(exc) from None
        log.info("hook %s start sent", platform)


def e164(raw: object) -> str | None:
    """A platform's number as E.164: ``+`` and 6-15 digits, or the same digits without the
    ``+`` (Supabase stores them so), read as international: never through a default region,
    which would turn ``447700900123`` into a US number."""
    if not isinstance(raw, str):
        return None
    digits = raw[1:] if raw.startswith("+") else raw
    if not (digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15) or digits[0] == "0":
        return None
    return "+" + digits
