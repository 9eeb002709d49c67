"""Values that cross layers: the verification record, and the API's request models.

Request parsing is strict: a body is a JSON object of at most 4 KiB with only known fields,
each of the right type. Anything else is ``invalid_request``, never a 500.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from chalicelib.codes import macs_equal
from chalicelib.errors import InvalidRequest, VerificationNotFound
# What a receipt is bound to is every factor's (chalicelib/factors/binding.py); a request's JSON
# body is the HTTP kernel's (chalicelib/http.py): both re-exported here for the v1 parsers.
from chalicelib.factors import ReceiptBinding as ReceiptBinding
from chalicelib.factors import parse_binding as parse_binding
from chalicelib.http import MAX_BODY_BYTES as MAX_BODY_BYTES
from chalicelib.http import decode_json_object as decode_json_object

CHANNELS = ("sms", "voice", "whatsapp", "email")
# What a start may ask for: a channel, or "auto" (the stage's order for the number's country,
# moving on after an undelivered send: docs/channels.md).
REQUEST_CHANNELS = (*CHANNELS, "auto")

# The codes a verification keeps live (every code it sent, up to this many, whatever
# OTP_MAX_SENDS says): docs/security.md, "the guessing odds".
MAX_LIVE_CODES = 5

# 34 characters (Twilio's SID) or 50 (ids issued before: chalicelib/factors/sid_links.py)
_ID = re.compile(r"VE[0-9a-f]{32}(?:[0-9a-f]{16})?", re.ASCII)
_LOCALE = re.compile(r"[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?", re.ASCII)


@dataclass(frozen=True)
class SendAttempt:
    channel: str
    provider: str
    at_ms: int
    # From the provider's delivery receipts (chalicelib/callbacks): accepted (no receipt yet),
    # sent, delivered, read (WhatsApp), undelivered or failed; never moves backwards.
    status: str = "accepted"
    error_code: str | None = None
    permanent: bool = False  # the undelivered reason is about the number itself

    @property
    def at_iso(self) -> str:
        return datetime.fromtimestamp(self.at_ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def item_value(self) -> dict[str, Any]:
        """The send as the number's item holds it (chalicelib/dynamodb.py's ItemValue); its
        rank keeps a late receipt from moving the status backwards (chalicelib/delivery)."""
        from chalicelib.delivery import STATUS_RANK

        return {"M": {"channel": {"S": self.channel}, "provider": {"S": self.provider},
                      "at_ms": {"N": str(self.at_ms)}, "status": {"S": self.status},
                      "rank": {"N": str(STATUS_RANK[self.status])}}}


@dataclass(frozen=True)
class Verification:
    """One verification as stored. Its status is derived, never stored:

    approved  the last guess's MAC equals the MAC of one of its live codes (set by the single
              check write; chalicelib/verify/store.py derives the same in its conditions)
    canceled  ``canceled_at`` is set
    expired   ``expires_at`` has passed (DynamoDB TTL deletes days late; reads check it)
    max_attempts_reached  ``attempts`` reached ``max_attempts`` without approval
    """

    id: str
    to: str
    channel: str
    code_mac: str
    created_at: int
    expires_at: int
    sent_at_ms: int
    send_count: int
    attempts: int
    max_attempts: int
    guess_mac: str | None = None
    canceled_at: int | None = None
    sends: tuple[SendAttempt, ...] = ()  # one per delivered send, with the provider that took it
    approved_at: int | None = None  # the number's last approval (any verification): the breaker trusts it
    binding: ReceiptBinding | None = None  # the last start's nonce and purpose, for the receipt
    # The Service whose item it is (the item's ``svc``): its SID; "" for the stage's own app
    # (and for an item made before ``svc`` existed: chalicelib/verify/store.py ``_of_scope``).
    scope: str = ""
    # A v2 start's Tags, Amount and Payee as JSON (twilio_v2/params.py), set by the create's
    # write and kept by resends (the item's ``meta``); None: none given.
    metadata: str | None = None
    # The MACs of the codes sent and still live, oldest first (at most MAX_LIVE_CODES; the
    # item's ``code_macs``). Empty for an item made before resends kept every code: its one
    # ``code_mac`` is then the list (``live_macs``).
    code_macs: tuple[str, ...] = ()

    @property
    def live_macs(self) -> tuple[str, ...]:
        return self.code_macs or (self.code_mac,)

    @property
    def provider(self) -> str | None:
        return self.sends[-1].provider if self.sends else None

    @property
    def approved(self) -> bool:
        """The guess's MAC is one of the live codes' MACs: compared with every one of them in
        constant time (hmac.compare_digest, no early exit), so timing tells nothing."""
        if self.guess_mac is None:
            return False
        matched = False
        for mac in self.live_macs:
            matched |= macs_equal(self.guess_mac, mac)
        return matched

    def status(self, now: float) -> str:
        if self.approved:
            return "approved"
        if self.canceled_at is not None:
            return "canceled"
        if now >= self.expires_at:
            return "expired"
        if self.attempts >= self.max_attempts:
            return "max_attempts_reached"
        return "pending"

    @property
    def attempts_remaining(self) -> int:
        return max(0, self.max_attempts - self.attempts)

    @property
    def expires_at_iso(self) -> str:
        return datetime.fromtimestamp(self.expires_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CheckLimit:
    """Checks per number per window, across its verifications: what strangers who know a
    number can spend guessing its codes, and so how long they can keep it locked (one window).
    The count lives on the number's item (``checks_<window length>_<window>``), so starting
    over does not reset it and it costs no extra write."""

    max_checks: int
    window_seconds: int

    def attribute(self, now: float, back: int = 0) -> str:
        return f"checks_{self.window_seconds}_{int(now) // self.window_seconds - back}"

    def used(self, item: dict[str, Any] | None, now: float) -> bool:
        count = (item or {}).get(self.attribute(now), {}).get("N")
        return count is not None and int(count) >= self.max_checks

    def retry_after(self, now: float) -> int:
        window_end = (int(now) // self.window_seconds + 1) * self.window_seconds
        return max(1, math.ceil(window_end - now))


@dataclass(frozen=True)
class SendLimit:
    """Sends per number per window, across its verifications (docs/limits.md): with no wait
    between a verification's sends, what keeps a number from being bombed (rule 10). The count
    lives on the number's item (``sent_<window length>_<window>``), in the write the start or
    the resend makes anyway: starting over does not reset it and it costs no extra write."""

    max_sends: int
    window_seconds: int

    def attribute(self, now: float, back: int = 0) -> str:
        return f"sent_{self.window_seconds}_{int(now) // self.window_seconds - back}"

    def window_end(self, now: float) -> int:
        return (int(now) // self.window_seconds + 1) * self.window_seconds

    def used(self, item: dict[str, Any] | None, now: float) -> bool:
        count = (item or {}).get(self.attribute(now), {}).get("N")
        return count is not None and int(count) >= self.max_sends

    def retry_after(self, now: float) -> int:
        return max(1, math.ceil(self.window_end(now) - now))


def valid_locale(locale: str) -> bool:
    """A language tag such as "en" or "pt-BR" (v1's ``locale``, v2's ``Locale``)."""
    return bool(_LOCALE.fullmatch(locale))


def require_verification_id(raw: object) -> str:
    """An id of the right shape (``VE`` + 32 hex, or 48 before 34-character SIDs); any other
    value is simply not found."""
    if not isinstance(raw, str) or not _ID.fullmatch(raw):
        raise VerificationNotFound()
    return raw


@dataclass(frozen=True)
class StartRequest:
    to: str
    country: str | None
    channel: str
    locale: str
    binding: ReceiptBinding | None = None
    metadata: str | None = None  # Verification.metadata for a new verification
    risk_check: bool = True  # False: this send passes the pumping defences (v2's RiskCheck=disable)
    buckets: tuple[Any, ...] = ()  # rate_buckets.BucketCount: the v2 Service's rate limits it names
    # The caller's code (v2's CustomCode, an identity platform's hook), sent instead of a new
    # one; kept as its MAC only, like every code. Never in a repr (a log line).
    custom_code: str | None = field(default=None, repr=False)
    # False: the platform checks the code elsewhere and never reports the outcome (a hook), so
    # this send is kept out of the conversion breakers' sample (Limiter.reserve_send).
    sampled: bool = True


@dataclass(frozen=True)
class CheckRequest:
    code: object  # validated by codes.parse_code, so its error is invalid_code_format
    to: str | None
    country: str | None
    verification_id: str | None


def _fields(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown[:5])}.")


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string.")
    return value


def parse_start_request(raw: bytes | None) -> StartRequest:
    body = decode_json_object(raw)
    _fields(body, ("to", "country", "channel", "locale", "nonce", "purpose"))
    to = _optional_str(body, "to")
    if to is None:
        raise InvalidRequest("'to' is required.")
    channel = _optional_str(body, "channel") or "sms"
    locale = _optional_str(body, "locale") or "en"
    if not valid_locale(locale):
        raise InvalidRequest("'locale' must be a language tag such as \"en\" or \"pt-BR\".")
    return StartRequest(to, _optional_str(body, "country"), channel, locale, parse_binding(body))


def parse_check_request(raw: bytes | None) -> CheckRequest:
    body = decode_json_object(raw)
    _fields(body, ("to", "country", "id", "code"))
    to = _optional_str(body, "to")
    verification_id = _optional_str(body, "id")
    if (to is None) == (verification_id is None):
        raise InvalidRequest("Give exactly one of 'to' and 'id'.")
    if "code" not in body:
        raise InvalidRequest("'code' is required.")
    return CheckRequest(body["code"], to, _optional_str(body, "country"), verification_id)
