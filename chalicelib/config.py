"""The service's configuration: read from the environment once, validated, frozen.

Nothing else in the project reads ``os.environ``. Every error names the variable at fault.
"""

from __future__ import annotations

import json
import os
import re
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.brand import brand_problem
from chalicelib.settings.providers import REGISTRY, URL_SETTINGS, check_url
from chalicelib.settings.channels import Channels
from chalicelib.settings.env import DEPLOYED_STAGES, STAGES, _REGION, _bool, _choice, _int, _str, section
from chalicelib.settings.events import Events
from chalicelib.settings.hooks import Hooks
from chalicelib.settings.limits import Limits
from chalicelib.settings.numbers import TestNumbers
from chalicelib.settings.templates import Template, templates_from_env
from chalicelib.settings.receipts import receipt_settings
from chalicelib.settings.passkeys import PasskeySettings
from chalicelib.settings.totp import TotpSettings

__all__ = ["Config", "ConfigError", "Limits", "TestNumbers", "api_key_required", "public_api"]

LOG_FORMATS = ("json", "human")

_TEMPLATE_FIELDS = {"brand", "code", "minutes"}
_APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}", re.ASCII)
_ORIGIN = re.compile(
    r"https://[a-z0-9.-]+(:[0-9]{1,5})?|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?", re.ASCII
)
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}", re.ASCII)


def api_key_required(environ: Mapping[str, str] | None = None) -> bool:
    """OTP_API_KEY_REQUIRED: read when app.py is imported, because Chalice fixes a route's
    API-key setting at definition. `chalice deploy --stage` and `chalice package --stage`
    import the app with that stage's variables set, so the value is per stage."""
    env = os.environ if environ is None else environ
    value = (env.get("OTP_API_KEY_REQUIRED") or "false").strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"OTP_API_KEY_REQUIRED must be true or false, got {value!r}")
    return value == "true"


def public_api(environ: Mapping[str, str] | None = None) -> bool:
    """OTP_PUBLIC_API (default true): whether start and check are open to browsers and apps.
    false puts them behind IAM like the server routes (a backend makes every call, as with
    Twilio). Read when app.py is imported, like OTP_API_KEY_REQUIRED: a route's authorizer is
    fixed when it is defined."""
    env = os.environ if environ is None else environ
    value = (env.get("OTP_PUBLIC_API") or "true").strip().lower()
    if value not in ("true", "false"):
        raise ConfigError(f"OTP_PUBLIC_API must be true or false, got {value!r}")
    return value == "true"


@section
class Config:
    stage: str
    table_name: str
    sms_providers: tuple[str, ...]  # the default chain, in order
    sms_routes: Mapping[str, tuple[str, ...]]  # region (or "*") -> chain
    sms_sender: str | None
    sms_credentials_parameter: str | None
    provider_settings: Mapping[str, Mapping[str, str]]  # from <PREFIX>_<SETTING> variables
    secret: str | None  # the code key: keys code MACs only
    secret_parameter: str | None
    code_length: int
    ttl_seconds: int
    max_check_attempts: int
    max_sends: int
    resend_interval_seconds: int
    default_region: str
    brand_name: str
    message_template: str | None  # None: the shipped per-locale templates
    webotp_domain: str | None
    android_app_hash: str | None = None
    parameters_max_age_seconds: int = 300
    request_budget_seconds: int = 8  # chalicelib/budget.py: below the function's 20 s timeout
    allowed_origins: frozenset[str] = frozenset()  # CORS: exact origins, none by default
    # -- delivery receipts and events (issue 14) --
    callback_base_url: str | None = None  # OTP_PUBLIC_URL as given (None: no callbacks)
    events: "Events" = None  # type: ignore[assignment]  # set by from_env
    log_format: str = "json"  # "human" (one line per request, no EMF) is the local default
    limits: "Limits" = None  # type: ignore[assignment]  # set by from_env
    test_numbers: "TestNumbers" = None  # type: ignore[assignment]
    # Receipts (chalicelib/factors/receipts.py): the issuer is the API's public base URL.
    public_url: str = "http://localhost:8000"
    receipt_audience: str = "http://localhost:8000"
    receipt_ttl_seconds: int = 300
    receipt_key_ids: tuple[str, ...] = ()  # the first signs; all are published
    receipt_signing: str = "kms"  # or "minute_key": chalicelib/factors/minute_keys.py
    totp: "TotpSettings" = None  # type: ignore[assignment]
    passkeys: "PasskeySettings" = None  # type: ignore[assignment]  # OTP_PASSKEY_* (settings/passkeys.py)
    channels: Channels = Channels()  # whatsapp and email (docs/channels.md): off by default
    # OTP_ATTEMPTS: each send and approval also recorded for the v2 Attempts list and Summary
    # (chalicelib/verify/attempts.py): two small writes beside each, in the waves they already make.
    # On, as Twilio always has them; OTP_ATTEMPTS=false turns them off.
    attempts: bool = True
    # The identity key (OTP_IDENTITY_SECRET[_PARAMETER]): keys item keys, SIDs, API keys and send
    # references, so rotating the code key voids only codes. Unset: the code key does both jobs.
    identity_secret: str | None = None
    identity_secret_parameter: str | None = None
    # OTP_CUSTOM_CODE_ENABLED and the identity platforms' hooks (settings/hooks.py)
    hooks: Hooks = Hooks()
    # OTP_TEMPLATES: the operator's SMS templates (settings/templates.py; v2's Templates)
    templates: tuple[Template, ...] = ()

    @property
    def sms_provider(self) -> str:
        return self.sms_providers[0]

    @property
    def all_providers(self) -> tuple[str, ...]:
        names = list(self.sms_providers)
        for chain in self.sms_routes.values():
            names += [n for n in chain if n not in names]
        return tuple(dict.fromkeys(names))

    @property
    def reads_parameters(self) -> bool:
        """Whether secrets come from SSM (and so are re-read after parameters_max_age_seconds)."""
        return self.secret is None and (
            self.secret_parameter is not None or self.sms_credentials_parameter is not None
        ) or (self.identity_secret is None and self.identity_secret_parameter is not None)

    def chain_for(self, region: str) -> tuple[str, ...]:
        return self.sms_routes.get(region) or self.sms_routes.get("*") or self.sms_providers

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Config":
        env = os.environ if environ is None else environ
        stage = _choice(env, "OTP_STAGE", STAGES, default="local")
        if stage == "local" and _str(env, "AWS_LAMBDA_FUNCTION_NAME"):
            # The local stage serves the SMS inbox (codes included) and allows OTP_SECRET.
            raise ConfigError("OTP_STAGE=local must not run inside AWS Lambda; deploy the dev or prod stage")
        table_name = _str(env, "OTP_TABLE_NAME")
        if not table_name:
            raise ConfigError("OTP_TABLE_NAME is required")
        if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", table_name, re.ASCII):
            raise ConfigError("OTP_TABLE_NAME must be 3-255 characters of A-Z a-z 0-9 _ . -")

        secret, secret_parameter = _secret(env, "OTP_SECRET", stage)
        identity_secret, identity_parameter = _secret(env, "OTP_IDENTITY_SECRET", stage)
        if secret is None and secret_parameter is None and stage != "local":
            raise ConfigError(
                f"OTP_SECRET_PARAMETER (or OTP_SECRET) is required in the {stage!r} stage"
            )

        providers = _chain(_str(env, "SMS_PROVIDER") or "console", "SMS_PROVIDER")
        routes = _routes(_str(env, "SMS_ROUTES"))
        channels = Channels.from_env(env)
        used = set(providers).union(*routes.values(), channels.providers)
        if "console" in used and stage in DEPLOYED_STAGES:
            # The console provider writes the message, code included, to the log.
            raise ConfigError(
                f"SMS_PROVIDER=console is allowed only in the local and test stages, not {stage!r}"
            )
        settings = {
            name: {
                key[len(REGISTRY[name].env_prefix) + 1 :].lower(): value
                for key, value in env.items()
                if key.startswith(REGISTRY[name].env_prefix + "_") and value.strip()
            }
            for name in sorted(used)
        }
        for name, values in settings.items():
            for key in URL_SETTINGS:
                if key in values:
                    check_url(values[key], f"{REGISTRY[name].env_prefix}_{key.upper()}")
        limits = Limits.from_env(env, stage)
        _check_japan_only(providers, routes, limits.allowed_countries)

        template = _str(env, "OTP_MESSAGE_TEMPLATE")
        if template is not None:
            _check_template(template)

        app_hash = _str(env, "OTP_ANDROID_APP_HASH")
        if app_hash is not None and not _APP_HASH.fullmatch(app_hash):
            raise ConfigError("OTP_ANDROID_APP_HASH must be the app's 11-character hash")

        webotp = _str(env, "OTP_WEBOTP_DOMAIN")
        if webotp is not None:
            webotp = webotp.lower()
            if not _DOMAIN.fullmatch(webotp):
                raise ConfigError("OTP_WEBOTP_DOMAIN must be a host name such as example.com")

        region = (_str(env, "OTP_DEFAULT_REGION") or "US").upper()
        if not _REGION.fullmatch(region):
            raise ConfigError("OTP_DEFAULT_REGION must be an ISO 3166 alpha-2 code such as US")

        brand = _str(env, "OTP_BRAND_NAME") or "Verify"
        problem = brand_problem(brand)  # the rule v2's FriendlyName and CustomFriendlyName follow
        if problem:
            raise ConfigError(f"OTP_BRAND_NAME {problem}")

        code_length = _int(env, "OTP_CODE_LENGTH", 6, 4, 10)
        config = cls(
            stage=stage,
            table_name=table_name,
            sms_providers=providers,
            sms_routes=routes,
            sms_sender=_str(env, "SMS_SENDER"),
            sms_credentials_parameter=_str(env, "SMS_CREDENTIALS_PARAMETER"),
            provider_settings=settings,
            secret=secret,
            secret_parameter=secret_parameter,
            identity_secret=identity_secret,
            identity_secret_parameter=identity_parameter,
            code_length=code_length,
            ttl_seconds=_int(env, "OTP_TTL_SECONDS", 600, 60, 3600),
            max_check_attempts=_int(env, "OTP_MAX_CHECK_ATTEMPTS", 5, 1, 20),
            max_sends=_int(env, "OTP_MAX_SENDS", 5, 1, 20),
            resend_interval_seconds=_int(env, "OTP_RESEND_INTERVAL_SECONDS", 30, 0, 3600),
            default_region=region,
            brand_name=brand,
            message_template=template,
            webotp_domain=webotp,
            android_app_hash=app_hash,
            parameters_max_age_seconds=_int(env, "OTP_PARAMETERS_MAX_AGE_SECONDS", 300, 0, 86400),
            request_budget_seconds=_int(env, "OTP_REQUEST_BUDGET_SECONDS", 8, 2, 19),
            allowed_origins=_origins(_str(env, "OTP_ALLOWED_ORIGINS")),
            events=Events.from_env(env, stage),
            log_format=_choice(env, "OTP_LOG_FORMAT", LOG_FORMATS,
                               default="human" if stage == "local" else "json"),
            limits=limits,
            test_numbers=TestNumbers.from_env(env, stage, code_length),
            **receipt_settings(env, stage),
            totp=TotpSettings.from_env(env, stage),
            passkeys=PasskeySettings.from_env(env),
            channels=channels,
            attempts=_bool(env, "OTP_ATTEMPTS", True),
            hooks=Hooks.from_env(env, stage),
            templates=templates_from_env(env),
        )
        if config.receipt_signing == "minute_key" and config.totp.key_id is None:
            raise ConfigError("OTP_RECEIPT_SIGNING=minute_key needs OTP_TOTP_KEY_ID: the symmetric KMS key "
                              "that wraps each minute's signing key")
        # The SMS's one-segment budget is the channels' rule, checked by the composition root
        # (chalicelib/wiring.py load_config: chalicelib/channels/messages.py check_budget_of).
        return config


def _secret(env: Mapping[str, str], variable: str, stage: str) -> tuple[str | None, str | None]:
    """``variable`` (the value: local and test only) and ``variable``_PARAMETER (an SSM name)."""
    secret = _str(env, variable)
    if secret is not None and stage in DEPLOYED_STAGES:
        raise ConfigError(
            f"{variable} is refused in the {stage!r} stage: a plain variable is readable by anyone "
            f"who can read the function's configuration; use {variable}_PARAMETER (an SSM SecureString)"
        )
    if secret is not None and len(secret) < 32:
        raise ConfigError(f"{variable} must be at least 32 characters (use a random value)")
    return secret, _str(env, variable + "_PARAMETER")


def _chain(raw: str, name: str) -> tuple[str, ...]:
    chain = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not chain:
        raise ConfigError(f"{name} must name at least one provider")
    known = [p for p, spec in REGISTRY.items() if "sms" in spec.channels]
    unknown = [p for p in chain if p not in known]
    if unknown:
        raise ConfigError(
            f"{name} names unknown SMS provider(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    if len(set(chain)) != len(chain):
        raise ConfigError(f"{name} names a provider twice")
    return chain


def _routes(raw: str | None) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    try:
        routes = json.loads(raw)
    except ValueError:
        raise ConfigError(
            'SMS_ROUTES must be a JSON object such as {"JP": "xoxzo", "*": "twilio,sns"}'
        ) from None
    if not isinstance(routes, dict) or not all(isinstance(v, str) for v in routes.values()):
        raise ConfigError("SMS_ROUTES must map region codes (or \"*\") to provider lists")
    result = {}
    for region, chain in routes.items():
        if region != "*" and not _REGION.fullmatch(region):
            raise ConfigError(f"SMS_ROUTES key {region!r} must be an ISO 3166 alpha-2 code or \"*\"")
        result[region] = _chain(chain, f"SMS_ROUTES[{region}]")
    return result


def _origins(raw: str | None) -> frozenset[str]:
    origins = frozenset(o.strip().rstrip("/").lower() for o in (raw or "").split(",") if o.strip())
    for origin in origins:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"OTP_ALLOWED_ORIGINS has {origin!r}: list exact origins such as https://app.example.com "
                "(https, or http only for localhost)"
            )
    return origins


# Providers that deliver to one country only: they belong in SMS_ROUTES under that country.
_ONE_COUNTRY = {"xoxzo": "JP"}


def _check_japan_only(
    providers: tuple[str, ...], routes: Mapping[str, tuple[str, ...]], allowed: frozenset[str]
) -> None:
    """Refuse a one-country provider in a chain that serves other countries: Xoxzo sends to
    Japanese numbers only, so in a global chain it would take (and fail) every other number."""
    # SMS_PROVIDER serves the countries without a route; with a "*" route it serves none.
    default = {} if "*" in routes else {"SMS_PROVIDER": (providers, None)}
    chains = {**default, **{
        f"SMS_ROUTES[{region}]": (chain, None if region == "*" else region)
        for region, chain in routes.items()
    }}
    for variable, (chain, region) in chains.items():
        for name, country in _ONE_COUNTRY.items():
            if name not in chain:
                continue
            serves = {region} if region else allowed  # the default chains serve every allowed country
            if not serves or serves != {country}:
                raise ConfigError(
                    f"{variable} names {name}, which sends to {country} numbers only: route it with "
                    f'SMS_ROUTES={{"{country}": "{name}", "*": "..."}} '
                    f"(or set OTP_ALLOWED_COUNTRIES={country})"
                )



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
