"""Abuse and cost limits (README, "Limits"): OTP_MAX_*, OTP_ALLOWED_COUNTRIES, the breakers."""

from __future__ import annotations

from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import _REGION, _bool, _int, _str, section


SPECIAL_TYPES = ("voip", "personal", "non_geographic")


def _special_types(raw: str | None) -> frozenset[str]:
    types = frozenset(t.strip().lower() for t in (raw or "").split(",") if t.strip())
    unknown = sorted(types - set(SPECIAL_TYPES))
    if unknown:
        raise ConfigError(
            f"OTP_SMS_ALLOWED_SPECIAL_TYPES has {', '.join(unknown)}; known: {', '.join(SPECIAL_TYPES)}"
        )
    return types


@section
class Limits:
    """Abuse and cost limits (README, "Limits"). 0 turns an optional limit off."""

    verifications_per_number_per_day: int
    checks_per_number_per_window: int  # across verifications: what strangers can spend on a number
    number_check_window_seconds: int
    requests_per_ip_per_hour: int
    checks_per_ip_per_hour: int
    sends_per_prefix_per_hour: int
    allowed_countries: frozenset[str]
    sends_per_country_per_hour: int
    sends_per_hour: int  # the global budget of SMS, voice and WhatsApp together
    budget_shards: int
    breaker_min_sends: int
    breaker_min_conversion_percent: int
    breaker_country_wide: bool = False  # opt-in: one range's pumping must not refuse a whole country
    breaker_country_min_sends: int = 50
    sms_special_types: frozenset[str] = frozenset()  # opt-in: voip, personal, non_geographic
    emails_per_hour: int = 1000  # email's own budget: made-up addresses never refuse an SMS
    # Sends per number (or address) per window, across its verifications: rule 10 with no wait
    # between a verification's sends (v2). On the number's item, in the write the send makes.
    sends_per_number_per_window: int = 10
    number_send_window_seconds: int = 3600

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str = "local") -> "Limits":
        if _str(env, "OTP_MAX_CHECKS_PER_NUMBER_PER_DAY") is not None:
            raise ConfigError(
                "OTP_MAX_CHECKS_PER_NUMBER_PER_DAY was replaced by OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW "
                "(and OTP_NUMBER_CHECK_WINDOW_SECONDS, default 3600)"
            )
        raw_countries = _str(env, "OTP_ALLOWED_COUNTRIES")
        if raw_countries is None and stage == "prod":
            raise ConfigError(
                "OTP_ALLOWED_COUNTRIES is required in the 'prod' stage: list the countries you serve "
                "(US,CA,GB), or * for every country (SMS pumping targets the countries you forgot)"
            )
        raw_countries = "" if raw_countries == "*" else raw_countries
        countries = frozenset(c.strip().upper() for c in (raw_countries or "").split(",") if c.strip())
        for country in countries:
            if not _REGION.fullmatch(country):
                raise ConfigError(f"OTP_ALLOWED_COUNTRIES has {country!r}: use ISO codes such as US,GB")
        return cls(
            verifications_per_number_per_day=_int(
                env, "OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY", 10, 1, 1000
            ),
            checks_per_number_per_window=_int(env, "OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW", 10, 1, 1000),
            sends_per_number_per_window=_int(env, "OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW", 10, 1, 1000),
            number_send_window_seconds=_int(env, "OTP_NUMBER_SEND_WINDOW_SECONDS", 3600, 60, 86400),
            number_check_window_seconds=_int(env, "OTP_NUMBER_CHECK_WINDOW_SECONDS", 3600, 60, 86400),
            requests_per_ip_per_hour=_int(env, "OTP_MAX_REQUESTS_PER_IP_PER_HOUR", 20, 1, 1_000_000),
            checks_per_ip_per_hour=_int(env, "OTP_MAX_CHECKS_PER_IP_PER_HOUR", 60, 1, 1_000_000),
            sends_per_prefix_per_hour=_int(env, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR", 20, 1, 1_000_000),
            allowed_countries=countries,
            sends_per_country_per_hour=_int(env, "OTP_MAX_SENDS_PER_COUNTRY_PER_HOUR", 0, 0, 999_999),
            sends_per_hour=_int(env, "OTP_MAX_SENDS_PER_HOUR", 1000, 1, 999_999),
            budget_shards=_int(env, "OTP_BUDGET_SHARDS", 10, 1, 100),
            breaker_min_sends=_int(env, "OTP_BREAKER_MIN_SENDS", 10, 1, 999_999),
            breaker_min_conversion_percent=_int(env, "OTP_BREAKER_MIN_CONVERSION_PERCENT", 20, 0, 100),
            breaker_country_wide=_bool(env, "OTP_BREAKER_COUNTRY_WIDE", False),
            breaker_country_min_sends=_int(env, "OTP_BREAKER_COUNTRY_MIN_SENDS", 50, 1, 999_999),
            sms_special_types=_special_types(_str(env, "OTP_SMS_ALLOWED_SPECIAL_TYPES")),
            emails_per_hour=_int(env, "OTP_MAX_EMAILS_PER_HOUR", 1000, 1, 999_999),
        )
