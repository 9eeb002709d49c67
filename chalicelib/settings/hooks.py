"""Custom codes and the identity platforms' hooks (docs/identity-platforms.md):
OTP_CUSTOM_CODE_ENABLED and OTP_HOOK_<PLATFORM>_SECRET[_PARAMETER] / _SERVICE; Cognito's
CustomSMSSender trigger: OTP_HOOK_COGNITO_KEY_ID (the KMS key Cognito encrypts its codes with,
which turns the trigger's function on) and OTP_HOOK_COGNITO_SERVICE.

A hook is off until its secret is set. Its secret is the platform's own, as the platform shows
it: Supabase's ``v1,whsec_<base64>``, Logto's whole ``Authorization`` value, ZITADEL's signing
key. A plain variable only in the local and test stages; deployed, its SSM parameter."""

from __future__ import annotations

import os
import re
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import DEPLOYED_STAGES, _bool, _str, section

# Each platform's variables, spelt out (docs/configuration.md's test reads the names).
PLATFORMS = {
    "supabase": ("OTP_HOOK_SUPABASE_SECRET", "OTP_HOOK_SUPABASE_SECRET_PARAMETER",
                 "OTP_HOOK_SUPABASE_SERVICE"),
    "logto": ("OTP_HOOK_LOGTO_SECRET", "OTP_HOOK_LOGTO_SECRET_PARAMETER", "OTP_HOOK_LOGTO_SERVICE"),
    "zitadel": ("OTP_HOOK_ZITADEL_SECRET", "OTP_HOOK_ZITADEL_SECRET_PARAMETER", "OTP_HOOK_ZITADEL_SERVICE"),
}
COGNITO_VARIABLES = ("OTP_HOOK_COGNITO_KEY_ID", "OTP_HOOK_COGNITO_SERVICE")
# A key ID, a key ARN, an alias name or an alias ARN (KMS's KeyId forms).
_KMS_KEY = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[0-9a-f-]{36}|key/mrk-[0-9a-f]{32}"
                      r"|alias/[A-Za-z0-9/_-]{1,250})|[0-9a-f-]{36}|mrk-[0-9a-f]{32}|alias/[A-Za-z0-9/_-]{1,250}",
                      re.ASCII)
_SERVICE_SID = re.compile(r"VA[0-9a-f]{32}", re.ASCII)
MIN_SECRET_LENGTH = 16


@section
class Hook:
    secret: str | None = None
    secret_parameter: str | None = None
    service: str | None = None  # a VA SID; None: the stage's default Service
    key_id: str | None = None  # Cognito's: the KMS key its codes arrive encrypted under

    @property
    def enabled(self) -> bool:
        return self.secret is not None or self.secret_parameter is not None or self.key_id is not None


@section
class Hooks:
    custom_code_enabled: bool = False  # the default Service's CustomCodeEnabled
    supabase: Hook = Hook()
    logto: Hook = Hook()
    zitadel: Hook = Hook()
    cognito: Hook = Hook()

    def of(self, platform: str) -> Hook:
        hook: Hook = getattr(self, platform)
        return hook

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "Hooks":
        hooks = {name: _hook(env, stage, name, *variables) for name, variables in PLATFORMS.items()}
        return cls(_bool(env, "OTP_CUSTOM_CODE_ENABLED", False), **hooks, cognito=_cognito(env))


def cognito_key(environ: Mapping[str, str] | None = None) -> str | None:
    """OTP_HOOK_COGNITO_KEY_ID, read when app.py is imported: set, the stack has the
    CustomSMSSender trigger's function (Chalice defines it at import, as the SNS handlers)."""
    env = os.environ if environ is None else environ
    key = _str(env, COGNITO_VARIABLES[0])
    if key is not None and not _KMS_KEY.fullmatch(key):
        raise ConfigError(f"{COGNITO_VARIABLES[0]} must be a KMS key ID, key ARN or alias")
    return key


def _cognito(env: Mapping[str, str]) -> Hook:
    service = _str(env, COGNITO_VARIABLES[1])
    if service is not None and not _SERVICE_SID.fullmatch(service):
        raise ConfigError(f"{COGNITO_VARIABLES[1]} must be a Service SID (VA and 32 hex digits)")
    return Hook(service=service, key_id=cognito_key(env))


def _hook(env: Mapping[str, str], stage: str, platform: str, secret_name: str, parameter_name: str,
          service_name: str) -> Hook:
    secret, parameter = _str(env, secret_name), _str(env, parameter_name)
    if secret is not None and stage in DEPLOYED_STAGES:
        raise ConfigError(f"{secret_name} is refused in the {stage!r} stage: use {parameter_name} (SSM)")
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{secret_name} must be at least {MIN_SECRET_LENGTH} characters")
    if secret is not None and platform == "supabase":
        check_supabase_secret(secret, secret_name)
    service = _str(env, service_name)
    if service is not None and not _SERVICE_SID.fullmatch(service):
        raise ConfigError(f"{service_name} must be a Service SID (VA and 32 hex digits)")
    return Hook(secret, parameter, service)


def check_supabase_secret(secret: str, name: str) -> None:
    """Supabase shows a hook's secret as ``v1,whsec_<base64>`` (Standard Webhooks' key)."""
    from chalicelib.settings.events import secret_bytes

    try:
        secret_bytes(supabase_key(secret))
    except ValueError:
        raise ConfigError(f"{name} must be Supabase's v1,whsec_... secret") from None


def supabase_key(secret: str) -> str:
    """The ``whsec_...`` inside Supabase's ``v1,whsec_...`` (several, ``|``-separated, take the first)."""
    first = secret.split("|")[0].strip()
    return first[3:] if first.startswith("v1,") else first
