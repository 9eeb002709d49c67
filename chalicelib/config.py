"""The service's configuration: read from the environment once, validated, frozen.

Nothing else in the project reads ``os.environ``. Every error names the variable at fault.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

STAGES = ("local", "test", "dev", "prod")
PROVIDERS = ("console", "sns")

DEFAULT_TEMPLATE = "Your {brand} verification code is {code}. It expires in {minutes} minutes."
_TEMPLATE_FIELDS = {"brand", "code", "minutes"}
_REGION = re.compile(r"[A-Z]{2}", re.ASCII)
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.ASCII)


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


@dataclass(frozen=True)
class Config:
    stage: str
    table_name: str
    sms_provider: str
    sms_sender: str | None
    secret: str | None
    secret_parameter: str | None
    code_length: int
    ttl_seconds: int
    max_check_attempts: int
    max_sends: int
    resend_interval_seconds: int
    default_region: str
    brand_name: str
    message_template: str
    webotp_domain: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        stage = _choice(env, "OTP_STAGE", STAGES, default="local")
        table_name = _str(env, "OTP_TABLE_NAME")
        if not table_name:
            raise ConfigError("OTP_TABLE_NAME is required")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", table_name, re.ASCII):
            raise ConfigError("OTP_TABLE_NAME must be 3-255 characters of A-Z a-z 0-9 _ . -")

        secret = _str(env, "OTP_SECRET")
        secret_parameter = _str(env, "OTP_SECRET_PARAMETER")
        if secret is not None and len(secret) < 32:
            raise ConfigError("OTP_SECRET must be at least 32 characters (use a random value)")
        if secret is None and secret_parameter is None and stage != "local":
            raise ConfigError(
                f"OTP_SECRET_PARAMETER (or OTP_SECRET) is required in the {stage!r} stage"
            )

        sms_provider = _choice(env, "SMS_PROVIDER", PROVIDERS, default="console")
        if sms_provider == "console" and stage == "prod":
            # The console provider writes the message, code included, to the log.
            raise ConfigError("SMS_PROVIDER=console is not allowed in the 'prod' stage")

        template = _str(env, "OTP_MESSAGE_TEMPLATE") or DEFAULT_TEMPLATE
        _check_template(template)

        webotp = _str(env, "OTP_WEBOTP_DOMAIN")
        if webotp is not None:
            webotp = webotp.lower()
            if not _DOMAIN.fullmatch(webotp):
                raise ConfigError("OTP_WEBOTP_DOMAIN must be a host name such as example.com")

        region = (_str(env, "OTP_DEFAULT_REGION") or "US").upper()
        if not _REGION.fullmatch(region):
            raise ConfigError("OTP_DEFAULT_REGION must be an ISO 3166 alpha-2 code such as US")

        brand = _str(env, "OTP_BRAND_NAME") or "Verify"
        if len(brand) > 30:
            raise ConfigError("OTP_BRAND_NAME must be at most 30 characters")

        return cls(
            stage=stage,
            table_name=table_name,
            sms_provider=sms_provider,
            sms_sender=_str(env, "SMS_SENDER"),
            secret=secret,
            secret_parameter=secret_parameter,
            code_length=_int(env, "OTP_CODE_LENGTH", 6, 4, 10),
            ttl_seconds=_int(env, "OTP_TTL_SECONDS", 600, 60, 3600),
            max_check_attempts=_int(env, "OTP_MAX_CHECK_ATTEMPTS", 5, 1, 20),
            max_sends=_int(env, "OTP_MAX_SENDS", 5, 1, 20),
            resend_interval_seconds=_int(env, "OTP_RESEND_INTERVAL_SECONDS", 30, 0, 3600),
            default_region=region,
            brand_name=brand,
            message_template=template,
            webotp_domain=webotp,
        )


def _str(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _str(env, name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw, re.ASCII):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {value}")
    return value


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (_str(env, name) or default).lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _check_template(template: str) -> None:
    import string

    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ConfigError(f"OTP_MESSAGE_TEMPLATE is not a valid template: {exc}") from None
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise ConfigError(
            f"OTP_MESSAGE_TEMPLATE uses unknown field(s) {sorted(unknown)}; "
            f"allowed: {sorted(_TEMPLATE_FIELDS)}"
        )
    if "code" not in fields:
        raise ConfigError("OTP_MESSAGE_TEMPLATE must contain {code}")
