"""Passkeys' settings (chalicelib/passkeys/): OTP_PASSKEY_*.

The relying party is the site a passkey is bound to, for ever: a passkey made for the
``execute-api`` host is lost with that host, so a deployed stage names its own domain
(OTP_PASSKEY_RP_ID) and the origins its page and apps run on (docs/passkeys.md). Unset, the
page's relying party is the request's host and its origins the page's own and
OTP_ALLOWED_ORIGINS (local: http://127.0.0.1:$PORT)."""

from __future__ import annotations

import re
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import _choice, _int, _str, section

USER_VERIFICATION = ("required", "preferred", "discouraged")
_RP_ID = re.compile(r"(localhost|([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})", re.ASCII)
# https pages, http only on this machine, and Android apps (android:apk-key-hash:<base64url SHA-256>).
PASSKEY_ORIGIN = re.compile(r"https://[a-z0-9.-]+(:[0-9]{1,5})?|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?"
                            r"|android:apk-key-hash:[A-Za-z0-9_-]{43}", re.ASCII)


@section
class PasskeySettings:
    rp_id: str | None  # None: the request's host (the page's), as the browser sees it
    rp_name: str | None  # None: the brand (OTP_BRAND_NAME)
    origins: frozenset[str]  # besides the page's own and OTP_ALLOWED_ORIGINS
    challenge_ttl_seconds: int
    max_factors: int  # passkeys per number or identity
    user_verification: str  # what the page's ceremonies ask for (v1)
    per_ip_per_hour: int = 60  # v1's ceremonies from one network (the public door)
    per_number_per_hour: int = 20  # v1's registrations and challenges for one number

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "PasskeySettings":
        rp_id = _str(env, "OTP_PASSKEY_RP_ID")
        if rp_id is not None and not _RP_ID.fullmatch(rp_id.lower()):
            raise ConfigError(f"OTP_PASSKEY_RP_ID {rp_id!r} must be a domain name such as example.com "
                              "(no scheme, port or path)")
        name = _str(env, "OTP_PASSKEY_RP_NAME")
        if name is not None and (len(name) > 64 or not name.isprintable()):
            raise ConfigError("OTP_PASSKEY_RP_NAME must be at most 64 printable characters")
        return cls(
            rp_id=rp_id.lower() if rp_id else None, rp_name=name, origins=passkey_origins(
                _str(env, "OTP_PASSKEY_ORIGINS"), "OTP_PASSKEY_ORIGINS"),
            challenge_ttl_seconds=_int(env, "OTP_PASSKEY_CHALLENGE_TTL_SECONDS", 300, 5, 600),
            max_factors=_int(env, "OTP_PASSKEY_MAX_FACTORS", 10, 1, 20),
            user_verification=_choice(env, "OTP_PASSKEY_USER_VERIFICATION", USER_VERIFICATION, "preferred"),
            per_ip_per_hour=_int(env, "OTP_PASSKEY_MAX_PER_IP_PER_HOUR", 60, 1, 100000),
            per_number_per_hour=_int(env, "OTP_PASSKEY_MAX_PER_NUMBER_PER_HOUR", 20, 1, 1000),
        )


def passkey_origins(raw: str | None, name: str) -> frozenset[str]:
    """Comma-separated origins (a variable's, or a Service's Passkeys.RelyingParty.Origins)."""
    found = set()
    for part in (raw or "").split(","):
        origin = part.strip().rstrip("/")
        origin = origin if origin.startswith("android:") else origin.lower()
        if not origin:
            continue
        if not PASSKEY_ORIGIN.fullmatch(origin):
            raise ConfigError(f"{name} has {origin[:80]!r}: exact origins such as https://app.example.com "
                              "(http only for localhost) or android:apk-key-hash:<hash>")
        found.add(origin)
    return frozenset(found)
