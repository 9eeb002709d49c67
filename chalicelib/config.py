"""The service's configuration: read from the environment once, validated, frozen.

Nothing else in the project reads ``os.environ``. Every error names the variable at fault.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Mapping, TypedDict

from chalicelib.errors import ConfigError
from chalicelib.providers import REGISTRY, URL_SETTINGS, check_url

__all__ = ["Config", "ConfigError", "Limits", "TestNumbers", "api_key_required", "public_api"]

STAGES = ("local", "test", "dev", "prod")
# Stages that run on Lambda for real users: secrets from SSM only, no console provider.
DEPLOYED_STAGES = ("dev", "prod")
LOG_FORMATS = ("json", "human")

_TEMPLATE_FIELDS = {"brand", "code", "minutes"}
_REGION = re.compile(r"[A-Z]{2}", re.ASCII)
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


@dataclass(frozen=True)
class Config:
    stage: str
    table_name: str
    sms_providers: tuple[str, ...]  # the default chain, in order
    sms_routes: Mapping[str, tuple[str, ...]]  # region (or "*") -> chain
    sms_sender: str | None
    sms_credentials_parameter: str | None
    provider_settings: Mapping[str, Mapping[str, str]]  # from <PREFIX>_<SETTING> variables
    secret: str | None
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
    allowed_origins: frozenset[str] = frozenset()  # CORS: exact origins, none by default
    # -- delivery receipts and events (issue 14) --
    callback_base_url: str | None = None  # OTP_PUBLIC_URL as given (None: no callbacks)
    events: "Events" = None  # type: ignore[assignment]  # set by from_env
    log_format: str = "json"  # "human" (one line per request, no EMF) is the local default
    limits: "Limits" = None  # type: ignore[assignment]  # set by from_env
    test_numbers: "TestNumbers" = None  # type: ignore[assignment]
    # Receipts (chalicelib/receipts.py): the issuer is the API's public base URL.
    public_url: str = "http://localhost:8000"
    receipt_audience: str = "http://localhost:8000"
    receipt_ttl_seconds: int = 300
    receipt_key_ids: tuple[str, ...] = ()  # the first signs; all are published
    totp: "TotpSettings" = None  # type: ignore[assignment]

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
        )

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

        secret = _str(env, "OTP_SECRET")
        secret_parameter = _str(env, "OTP_SECRET_PARAMETER")
        if secret is not None and stage in DEPLOYED_STAGES:
            raise ConfigError(
                f"OTP_SECRET is refused in the {stage!r} stage: a plain variable is readable by anyone "
                "who can read the function's configuration; use OTP_SECRET_PARAMETER (an SSM SecureString)"
            )
        if secret is not None and len(secret) < 32:
            raise ConfigError("OTP_SECRET must be at least 32 characters (use a random value)")
        if secret is None and secret_parameter is None and stage != "local":
            raise ConfigError(
                f"OTP_SECRET_PARAMETER (or OTP_SECRET) is required in the {stage!r} stage"
            )

        providers = _chain(_str(env, "SMS_PROVIDER") or "console", "SMS_PROVIDER")
        routes = _routes(_str(env, "SMS_ROUTES"))
        used = set(providers).union(*routes.values())
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

        from chalicelib.messages import MAX_BRAND_LENGTH

        brand = _str(env, "OTP_BRAND_NAME") or "Verify"
        if len(brand) > MAX_BRAND_LENGTH:
            raise ConfigError(f"OTP_BRAND_NAME must be at most {MAX_BRAND_LENGTH} characters")

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
            allowed_origins=_origins(_str(env, "OTP_ALLOWED_ORIGINS")),
            callback_base_url=_public_url(_str(env, "OTP_PUBLIC_URL")),
            events=Events.from_env(env, stage),
            log_format=_choice(env, "OTP_LOG_FORMAT", LOG_FORMATS,
                               default="human" if stage == "local" else "json"),
            limits=limits,
            test_numbers=TestNumbers.from_env(env, stage, code_length),
            **_receipt_settings(env, stage),
            totp=TotpSettings.from_env(env, stage),
        )
        over = config.composer().check_budget(config.code_length)
        if over:
            raise ConfigError(
                "the SMS would need two segments in locale(s) "
                f"{', '.join(over)}: shorten OTP_BRAND_NAME, OTP_MESSAGE_TEMPLATE or "
                "OTP_WEBOTP_DOMAIN, or drop OTP_ANDROID_APP_HASH"
            )
        return config

    def composer(self):  # -> MessageComposer
        from chalicelib.messages import MessageComposer

        return MessageComposer(
            self.brand_name,
            self.ttl_seconds,
            template_override=self.message_template,
            webotp_domain=self.webotp_domain,
            android_app_hash=self.android_app_hash,
        )


_KMS_KEY_ID = re.compile(
    r"(alias/[A-Za-z0-9/_-]{1,250}"
    r"|(mrk-)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|mrk-[0-9a-f]{32}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]{1,250})",
    re.ASCII,
)
_URL = re.compile(r"(https?)://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?", re.ASCII)


class _ReceiptSettings(TypedDict):
    public_url: str
    receipt_audience: str
    receipt_ttl_seconds: int
    receipt_key_ids: tuple[str, ...]


def _receipt_settings(env: Mapping[str, str], stage: str) -> _ReceiptSettings:
    """OTP_PUBLIC_URL (the receipts' issuer), OTP_RECEIPT_AUDIENCE, OTP_RECEIPT_TTL_SECONDS and
    OTP_RECEIPT_KEY_IDS. Deployed stages always sign: without OTP_RECEIPT_KEY_IDS they use the
    key `make deploy` creates (alias/phone-verify-<stage>-receipts); without OTP_PUBLIC_URL
    (unknown until the first deploy) the issuer is urn:phone-verify:<stage>. The local and test
    stages without a key answer without a receipt (`make run` makes one)."""
    deployed = stage not in ("local", "test")
    url = _str(env, "OTP_PUBLIC_URL")
    if url is None:
        url = f"urn:phone-verify:{stage}" if deployed else "http://localhost:8000"
    else:
        match = _URL.fullmatch(url)
        if match is None:
            raise ConfigError(f"OTP_PUBLIC_URL must be a URL such as https://verify.example.com, got {url!r}")
        if match.group(1) == "http" and deployed:
            raise ConfigError(f"OTP_PUBLIC_URL must be https in the {stage!r} stage")
        url = url.rstrip("/")
    audience = _str(env, "OTP_RECEIPT_AUDIENCE") or url
    if len(audience) > 256 or not audience.isprintable():
        raise ConfigError("OTP_RECEIPT_AUDIENCE must be at most 256 printable characters")
    key_ids = tuple(k.strip() for k in (_str(env, "OTP_RECEIPT_KEY_IDS") or "").split(",") if k.strip())
    for key_id in key_ids:
        if not _KMS_KEY_ID.fullmatch(key_id):
            raise ConfigError(
                f"OTP_RECEIPT_KEY_IDS has {key_id!r}: use KMS key ids, key ARNs or alias/... names"
            )
    if len(set(key_ids)) != len(key_ids):
        raise ConfigError("OTP_RECEIPT_KEY_IDS names a key twice")
    if not key_ids and deployed:
        key_ids = (f"alias/phone-verify-{stage}-receipts",)  # scripts/keys.py receipt_alias
    return {
        "public_url": url,
        "receipt_audience": audience,
        "receipt_ttl_seconds": _int(env, "OTP_RECEIPT_TTL_SECONDS", 300, 30, 3600),
        "receipt_key_ids": key_ids,
    }


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
    if not re.fullmatch(r"[0-9]{1,9}", raw, re.ASCII):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _str(env, name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return raw.lower() == "true"


SPECIAL_TYPES = ("voip", "personal", "non_geographic")


def _special_types(raw: str | None) -> frozenset[str]:
    types = frozenset(t.strip().lower() for t in (raw or "").split(",") if t.strip())
    unknown = sorted(types - set(SPECIAL_TYPES))
    if unknown:
        raise ConfigError(
            f"OTP_SMS_ALLOWED_SPECIAL_TYPES has {', '.join(unknown)}; known: {', '.join(SPECIAL_TYPES)}"
        )
    return types


def _chain(raw: str, name: str) -> tuple[str, ...]:
    chain = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    if not chain:
        raise ConfigError(f"{name} must name at least one provider")
    unknown = [p for p in chain if p not in REGISTRY]
    if unknown:
        raise ConfigError(
            f"{name} names unknown provider(s) {', '.join(unknown)}; known: {', '.join(REGISTRY)}"
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


@dataclass(frozen=True)
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
    sends_per_hour: int  # the global budget
    budget_shards: int
    breaker_min_sends: int
    breaker_min_conversion_percent: int
    breaker_country_wide: bool = False  # opt-in: one range's pumping must not refuse a whole country
    breaker_country_min_sends: int = 50
    sms_special_types: frozenset[str] = frozenset()  # opt-in: voip, personal, non_geographic

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
        )


@dataclass(frozen=True)
class TestNumbers:
    """OTP_TEST_NUMBERS: numbers (or ^regex ranges) for app-store review and end-to-end tests.
    Each value is a fixed code ("123456" or {"code": "123456"}), or a failure on purpose
    ({"fail": "permanent"|"transient"|"timeout"}, optionally with a "code"): no SMS is ever
    sent to a test number; see chalicelib/providers/rehearsal.py for how each failure answers."""

    exact: Mapping[str, str]
    ranges: tuple[tuple["re.Pattern[str]", str], ...]
    failures: Mapping[str, str] = None  # type: ignore[assignment]  # number or ^regex -> fail mode

    def code_for(self, e164: str) -> str | None:
        if e164 in self.exact:
            return self.exact[e164]
        for pattern, code in self.ranges:
            if pattern.fullmatch(e164):
                return code
        return None

    def fail_for(self, e164: str) -> str | None:
        """The failure a test number is configured to rehearse, or None."""
        failures = self.failures or {}
        if e164 in failures:
            return failures[e164]
        for pattern, _ in self.ranges:
            if pattern.pattern in failures and pattern.fullmatch(e164):
                return failures[pattern.pattern]
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str, code_length: int) -> "TestNumbers":
        from chalicelib.providers.rehearsal import FAIL_MODES

        raw = _str(env, "OTP_TEST_NUMBERS")
        if raw is None:
            return cls({}, (), {})
        if stage == "prod" and (_str(env, "OTP_ALLOW_TEST_NUMBERS_IN_PROD") or "").lower() != "true":
            raise ConfigError(
                "OTP_TEST_NUMBERS is refused in the 'prod' stage unless OTP_ALLOW_TEST_NUMBERS_IN_PROD=true"
            )
        try:
            numbers = json.loads(raw)
        except ValueError:
            numbers = None
        if not isinstance(numbers, dict):
            raise ConfigError('OTP_TEST_NUMBERS must be a JSON object such as {"+15005550006": "123456"}')
        exact: dict[str, str] = {}
        ranges = []
        failures: dict[str, str] = {}
        for key, value in numbers.items():
            if isinstance(value, str):  # the original form, kept: "123456" means {"code": "123456"}
                value = {"code": value}
            if not isinstance(value, dict) or not value or set(value) - {"code", "fail"}:
                raise ConfigError(
                    f'OTP_TEST_NUMBERS: the value for {key!r} must be "<code>", {{"code": "<code>"}} '
                    f'or {{"fail": "permanent"|"transient"|"timeout"}}'
                )
            fail = value.get("fail")
            if fail is not None and fail not in FAIL_MODES:
                raise ConfigError(
                    f"OTP_TEST_NUMBERS: 'fail' for {key!r} must be one of {', '.join(FAIL_MODES)}"
                )
            # A failing number that never reaches a provider needs no code; one that fails over
            # (transient) verifies with its "code", all zeros when none is given.
            code = value.get("code", "0" * code_length if fail else None)
            if not isinstance(code, str) or not re.fullmatch(f"[0-9]{{{code_length}}}", code, re.ASCII):
                raise ConfigError(f"OTP_TEST_NUMBERS: the code for {key!r} must be {code_length} digits")
            if fail is not None:
                failures[key] = fail
            if key.startswith("^"):
                try:
                    ranges.append((re.compile(key, re.ASCII), code))
                except re.error:
                    raise ConfigError(f"OTP_TEST_NUMBERS: {key!r} is not a valid regex") from None
            elif re.fullmatch(r"\+[1-9][0-9]{6,14}", key, re.ASCII):
                exact[key] = code
            else:
                raise ConfigError(f"OTP_TEST_NUMBERS: {key!r} is neither an E.164 number nor a ^regex")
        return cls(exact, tuple(ranges), failures)


def _public_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    url = raw.rstrip("/")
    https_or_loopback = (
        r"(https://[A-Za-z0-9.-]+(:[0-9]{1,5})?|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?)"
        r"(/[A-Za-z0-9._~/-]*)?"
    )
    if not re.fullmatch(https_or_loopback, url, re.ASCII):
        raise ConfigError("OTP_PUBLIC_URL must be the API's https base URL, e.g. https://abc.execute-api.us-east-1.amazonaws.com/api")
    return url


@dataclass(frozen=True)
class Events:
    """Events to the deployment's backend (README, "Events"): Standard Webhooks POSTs through
    an SQS queue. Off when OTP_EVENTS_URL is unset."""

    urls: tuple[str, ...] = ()
    secret: str | None = None  # whsec_...; OTP_EVENTS_SECRET (local, test) or the SSM parameter
    secret_parameter: str | None = None
    queue: str | None = None  # OTP_EVENTS_QUEUE: the queue's name
    include_number: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "Events":
        raw = _str(env, "OTP_EVENTS_URL")
        if raw is None:
            return cls()
        try:
            urls = json.loads(raw) if raw.startswith("[") else [raw]
        except ValueError:
            urls = None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ConfigError('OTP_EVENTS_URL must be a URL or a JSON list of URLs')
        for url in urls:
            pattern = r"https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?(/[^\s]*)?"
            if not re.fullmatch(pattern, url, re.ASCII):
                raise ConfigError(f"OTP_EVENTS_URL has {url!r}: use https (http only for localhost)")
        secret, parameter = _str(env, "OTP_EVENTS_SECRET"), _str(env, "OTP_EVENTS_SECRET_PARAMETER")
        if secret is not None and stage in DEPLOYED_STAGES:
            raise ConfigError(
                f"OTP_EVENTS_SECRET is refused in the {stage!r} stage: use OTP_EVENTS_SECRET_PARAMETER (SSM)"
            )
        if secret is None and parameter is None:
            raise ConfigError(
                "OTP_EVENTS_URL needs OTP_EVENTS_SECRET (whsec_...) or OTP_EVENTS_SECRET_PARAMETER"
            )
        if secret is not None:
            from chalicelib.standard_webhooks import secret_bytes

            try:
                key = secret_bytes(secret)
            except ValueError:
                key = b""
            if not secret.startswith("whsec_") or len(key) < 24:
                raise ConfigError(
                    "OTP_EVENTS_SECRET must be whsec_ followed by base64 of 24 to 64 random bytes"
                )
        queue = _str(env, "OTP_EVENTS_QUEUE")
        if queue is None:
            raise ConfigError("OTP_EVENTS_URL needs OTP_EVENTS_QUEUE (the SQS queue's name)")
        return cls(tuple(urls), secret, parameter, queue, _bool(env, "OTP_EVENTS_INCLUDE_NUMBER", False))


def events_queue(environ: Mapping[str, str] | None = None) -> str | None:
    """OTP_EVENTS_QUEUE, read when app.py is imported: Chalice binds the SQS handler to a
    queue name at definition (like OTP_API_KEY_REQUIRED)."""
    env = os.environ if environ is None else environ
    return _str(env, "OTP_EVENTS_QUEUE") if _str(env, "OTP_EVENTS_URL") else None


@dataclass(frozen=True)
class TotpSettings:
    """Authenticator-app factors (chalicelib/totp.py). ``key_id`` None: TOTP is off (local
    and test stages without OTP_TOTP_KEY_ID); deployed stages default to the stage's key."""

    key_id: str | None
    max_factors: int
    enroll_ttl_seconds: int
    window: int  # time steps accepted either side of now
    attempt_window_seconds: int

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "TotpSettings":
        key_id = _str(env, "OTP_TOTP_KEY_ID")
        if key_id is not None and not _KMS_KEY_ID.fullmatch(key_id):
            raise ConfigError(f"OTP_TOTP_KEY_ID {key_id!r} must be a KMS key id, key ARN or alias/... name")
        if key_id is None and stage not in ("local", "test"):
            key_id = f"alias/phone-verify-{stage}-totp"  # scripts/keys.py totp_alias
        return cls(
            key_id=key_id,
            max_factors=_int(env, "OTP_TOTP_MAX_FACTORS", 5, 1, 20),
            enroll_ttl_seconds=_int(env, "OTP_TOTP_ENROLL_TTL_SECONDS", 900, 60, 86400),
            window=_int(env, "OTP_TOTP_WINDOW", 1, 0, 2),
            attempt_window_seconds=_int(env, "OTP_TOTP_ATTEMPT_WINDOW_SECONDS", 900, 60, 86400),
        )
