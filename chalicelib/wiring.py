"""The composition root: the per-container objects (configuration, AWS clients, the secret,
providers, the services), each built on first use and cached. Importing this module does no
I/O (``chalice deploy`` imports app.py, which imports it).

Routes reach these objects through this module's attributes at call time
(``wiring.get_service()``), so a test or the bench that replaces one (``wiring.get_config =
...``) is seen by every route; ``reset()`` forgets them all, so the next request reads the
environment again.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from typing import Any, Callable

from chalicelib import errors, snapstart

log = logging.getLogger("verify")


def load_config(environ: Any = None) -> Any:
    """The configuration (chalicelib/config.py), then the rules of the capabilities it names
    that the kernel cannot check itself: the SMS's one-segment budget (chalicelib/channels).
    Every entry point reads its configuration here (the routes, make deploy, make api-key)."""
    from chalicelib.channels import check_budget_of
    from chalicelib.config import Config

    config = Config.from_env(environ)
    check_budget_of(config)
    return config


@functools.cache
def get_config() -> Any:
    return load_config()


class _Shared:
    """One value per container, built by one caller at a time: concurrent first callers wait
    for the one build (its SSM read) instead of each making its own. Rebuilt when older than
    ``max_age`` (None: never); the callers meanwhile keep the value they have. A failed build
    is retried once per RETRY_AFTER_SECONDS (what the 503 tells clients), not once per
    caller: in between, callers get the last value if there is one, else the failure again.
    So SSM sees, per container, one read when it starts, one per max age, and while SSM
    fails one per RETRY_AFTER_SECONDS; what a caller sends (a valid credential or not) changes
    none of that."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: tuple[Any, float] | None = None  # (value, built at)
        self._failure: tuple[BaseException, float] | None = None  # (error, failed at)

    def get(self, max_age: float | None) -> Any:
        value = self._value
        if value is not None and (max_age is None or time.monotonic() - value[1] <= max_age):
            return value[0]
        with self._lock:
            value, now = self._value, time.monotonic()
            if value is not None and (max_age is None or now - value[1] <= max_age):
                return value[0]  # built by the caller this one waited for
            if self._failure is not None and now - self._failure[1] < _retry_seconds():
                if value is not None:
                    return value[0]
                raise _again(*self._failure, now)
            try:
                built = self._build()
            except Exception as exc:
                self._failure = (exc, now)
                if value is None:
                    raise
                log.error("the service could not be rebuilt (%s): keeping the one built before",
                          type(exc).__name__)
                return value[0]
            self._value, self._failure = (built, time.monotonic()), None
            return built

    def cache_clear(self) -> None:
        with self._lock:
            self._value = self._failure = None


def _retry_seconds() -> int:
    from chalicelib.settings.parameters import RETRY_AFTER_SECONDS

    return RETRY_AFTER_SECONDS


def _again(error: BaseException, failed_at: float, now: float) -> BaseException:
    """The failure of the last build, answered again without building: a 503 says how long
    until the next attempt."""
    if isinstance(error, errors.ServiceUnavailable):
        left = math.ceil(failed_at + _retry_seconds() - now)
        return type(error)(retry_after=max(1, left))
    return error.with_traceback(None)


_service = _Shared(lambda: _build_service())  # defined below; called on first use


def get_service() -> Any:
    """The VerificationService for this container. Built once; rebuilt when its secrets come
    from SSM and are older than OTP_PARAMETERS_MAX_AGE_SECONDS, so a rotation takes effect."""
    config = get_config()
    return _service.get(config.parameters_max_age_seconds if config.reads_parameters else None)


# Tests clear the service through this name.
get_service.cache_clear = _service.cache_clear  # type: ignore[attr-defined]

# SnapStart: after a restore, the cached service (clients, connections, secrets) is rebuilt.
snapstart.register(lambda: _forget_after_restore())


def _forget_after_restore() -> None:
    _service.cache_clear()
    if get_receipts.cache_info().currsize:  # a minute key is made on a request only, but if one was
        get_receipts().forget_minute_keys()  # held by a snapshot, none of it signs after the restore
    get_receipts.cache_clear()


def _build_service() -> Any:
    import boto3

    from chalicelib import budget
    from chalicelib.codes import CodeHasher
    from chalicelib.verify.counters import DynamoDBCounterStore
    from chalicelib.verify.limits import Limiter
    from chalicelib.settings.parameters import load_provider_settings, load_server_secrets
    from chalicelib.channels.providers import ProviderContext
    from chalicelib.verify.routing import ProviderPool
    from chalicelib.verify.service import VerificationService
    from chalicelib.verify.store import DynamoDBVerificationStore
    from chalicelib.telemetry import configure_logging

    configure_logging(log_format=get_config().log_format)
    config = get_config()
    # Timeouts and attempts sized to the request's time budget (chalicelib/budget.py), and
    # no attempt starts that could not end inside it. Sends are never retried by botocore (a
    # retried Publish or Invoke after a read timeout can deliver twice); the provider chain's
    # failover is the retry, as for the HTTP providers, and keeps time back for the undo.
    senders = {"sns", "pinpoint-sms-voice-v2", "lambda", "sesv2", "socialmessaging"}
    seconds = config.request_budget_seconds
    aws_client = functools.cache(lambda service: budget.guard(
        boto3.client(service, config=budget.botocore_config(seconds, send=service in senders)),
        reserve=budget.undo_seconds(seconds) if service in senders else 0.0))
    store = DynamoDBVerificationStore(aws_client("dynamodb"), config.table_name)
    code_key, identity_key = load_server_secrets(config, lambda: aws_client("ssm"))
    settings = functools.cache(lambda: load_provider_settings(config, lambda: aws_client("ssm")))

    def http_session() -> Any:  # requests is imported only when an HTTP provider sends
        from chalicelib.channels.providers.http import shared_session

        return shared_session()

    def context(name: str, provider_settings: Any) -> ProviderContext:
        return ProviderContext(name, provider_settings, config.sms_sender, http_session, aws_client)

    providers = ProviderPool(config, settings, context)
    # The counters' give-backs go through a client botocore never retries (one attempt, like
    # a send: a retried give-back after a lost answer could give back another request's
    # count), made on the first refusal of the container (chalicelib/verify/counters.py).
    give_back_client = functools.cache(lambda: budget.guard(
        boto3.client("dynamodb", config=budget.botocore_config(seconds, send=True))))
    limiter = Limiter(config.limits, DynamoDBCounterStore(aws_client("dynamodb"), config.table_name,
                                                          give_back_client))
    hasher = CodeHasher(code_key, identity_key)
    # The callback URL's token goes with the send references (the identity key): rotating the
    # code key must not turn away the receipts of sends already made.
    delivery = _delivery_tracker(config, store, hasher, settings, identity_key)
    attempts = None
    if config.attempts:
        from chalicelib.verify.attempts import AttemptLog

        attempts = AttemptLog(aws_client("dynamodb"), config.table_name)
    from chalicelib.verify.safe_list import SafeList

    safe_list = SafeList(aws_client("dynamodb"), config.table_name, hasher)
    return VerificationService(config, store, providers, hasher, limiter, delivery=delivery,
                               attempts=attempts, safe_list=safe_list)


def _delivery_tracker(config: Any, store: Any, hasher: Any, settings: Any, secret: bytes) -> Any:
    from chalicelib.delivery.tracker import DeliveryTracker
    from chalicelib.channels.phone import parse_phone_number

    def region_of(e164: str) -> str:
        if "@" in e164:  # an email verification's address: no country
            return "email"
        return parse_phone_number(e164, config.default_region).region

    return DeliveryTracker(store, hasher, settings, config.callback_base_url, secret, region_of)


@functools.cache
def get_receipts() -> Any:
    """The ReceiptSigner (chalicelib/factors/receipts.py); its KMS client is built on first use."""
    from chalicelib.factors.receipts import signer_from_config

    config = get_config()
    signer = signer_from_config(config, _kms_client)
    if config.receipt_signing == "minute_key":
        signer.use_minute_keys(_minute_keys(config, signer))
    return signer


def _minute_keys(config: Any, signer: Any) -> Any:
    """OTP_RECEIPT_SIGNING=minute_key: the stage's minute keys (chalicelib/factors/minute_keys.py),
    certified by the receipt key and wrapped by the TOTP key; built with the signer (the first
    receipt or JWKS request of a container), never at import."""
    import boto3

    from chalicelib import budget
    from chalicelib.factors.minute_keys import CERTIFICATION_TYPE, MinuteKeys, MinuteKeyStore

    seconds = config.request_budget_seconds
    client = budget.guard(boto3.client("dynamodb", config=budget.botocore_config(seconds)))
    return MinuteKeys(MinuteKeyStore(client, config.table_name), _kms_client,
                      lambda claims: signer.kms_signed(claims, CERTIFICATION_TYPE),
                      wrap_key_id=config.totp.key_id, stage=config.stage, issuer=config.public_url,
                      ttl_seconds=config.receipt_ttl_seconds)


@functools.cache
def _kms_client() -> Any:
    import boto3

    from chalicelib import budget

    # As for DynamoDB: sized to the request's time budget (chalicelib/budget.py).
    config = budget.botocore_config(get_config().request_budget_seconds)
    return budget.guard(boto3.client("kms", config=config))


def get_totp() -> Any:
    """The TotpService (chalicelib/totp/service.py), rebuilt with the VerificationService whose
    DynamoDB client, secret (identity keys) and clock it shares."""
    return _totp_for(get_service())


@functools.lru_cache(maxsize=1)
def _totp_for(service: Any) -> Any:
    from chalicelib.totp.service import TotpService
    from chalicelib.totp.store import DynamoDBTotpStore

    store = DynamoDBTotpStore(service._store._client, get_config().table_name)
    return TotpService(get_config(), store, service._hasher, _kms_client, get_receipts(), service.now)


def get_passkeys() -> Any:
    """The PasskeyService (chalicelib/passkeys/service.py), over the VerificationService's
    DynamoDB client, identity keys and clock."""
    return _passkeys_for(get_service())


@functools.lru_cache(maxsize=1)
def _passkeys_for(service: Any) -> Any:
    from chalicelib.passkeys.service import PasskeyService
    from chalicelib.passkeys.store import DynamoDBPasskeyStore

    settings = get_config().passkeys
    store = DynamoDBPasskeyStore(service._store._client, get_config().table_name)
    return PasskeyService(store, service._hasher.identity_key, ttl_seconds=settings.challenge_ttl_seconds,
                          max_factors=settings.max_factors, clock=service.now)


@functools.cache
def get_page_passkeys() -> Any:
    """The page's passkey ceremonies (chalicelib/passkeys/page.py): the PasskeyService, the
    receipts, and the public door's counters (the VerificationService's limiter)."""
    from chalicelib.passkeys.page import PageCeremonies, TooManyPasskeyRequests

    def limit(ip: str, number_key: str | None, now: float, settings: Any) -> None:
        get_service()._limiter.passkey_request(ip, number_key, now, settings.per_ip_per_hour,
                                               settings.per_number_per_hour, TooManyPasskeyRequests)

    return PageCeremonies(lambda: get_passkeys(), lambda: get_receipts(), lambda: get_config(), limit)


def get_twilio() -> Any:
    """The Twilio Verify v2 dialect (chalicelib/twilio_v2/api.py) over this container's
    VerificationService: its Services and API keys are cached with it."""
    return _twilio_for(get_service())


@functools.lru_cache(maxsize=1)
def _twilio_for(service: Any) -> Any:
    from chalicelib.twilio_v2.api import TwilioApi

    return TwilioApi(get_config(), service, get_receipts(), lambda: get_totp(), lambda: get_passkeys())


def get_hooks() -> Any:
    """The identity platforms' hooks (chalicelib/hooks/core.py) over the v2 dialect."""
    return _hooks_for(get_twilio())


@functools.lru_cache(maxsize=1)
def _hooks_for(twilio: Any) -> Any:
    import boto3

    from chalicelib.hooks.core import HookStarts, ReplayGuard
    from chalicelib.settings.parameters import _get_secure_string

    config = get_config()
    return HookStarts(config, lambda: twilio, ReplayGuard(twilio._service._store._client, config.table_name),
                      lambda variable, name: _get_secure_string(variable, name, lambda: boto3.client("ssm")))


def cognito_sms(event: Any) -> dict[str, Any]:
    """One Cognito CustomSMSSender event (chalicelib/hooks/cognito.py), within the request's
    time budget as an API request is: the trigger's function has its own, 4 s, under the 5 s
    Cognito waits before it retries (.chalice/config.json); raises CognitoRefused when nothing
    was sent."""
    from chalicelib import budget
    from chalicelib.hooks.cognito import send

    budget.begin(get_config().request_budget_seconds)
    try:
        return send(get_hooks(), event, _cognito_decrypter())
    finally:
        budget.end()


@functools.cache
def _cognito_decrypter() -> Any:
    from chalicelib.hooks.cognito import CognitoRefused, KmsDecrypter

    key_id = get_config().hooks.cognito.key_id
    if key_id is None:
        raise CognitoRefused("OTP_HOOK_COGNITO_KEY_ID is not set: this stage has no Cognito trigger")
    return KmsDecrypter(key_id, _kms_client)


def public_base(request: Any) -> str:
    """The API's own base URL for the absolute URLs Twilio's resources carry (the SDKs follow
    ``next_page_url`` as given): OTP_PUBLIC_URL when set, else the URL the request came to.
    API Gateway's requestContext.path carries the stage (``/api/v2/...``) where the event's
    path does not; X-Forwarded-Proto is the scheme the client used."""
    config = get_config()
    if config.callback_base_url:
        return str(config.callback_base_url).rstrip("/")
    headers = request.headers
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    path = request.to_original_event().get("path") or ""
    full = (request.context or {}).get("path") or path
    prefix = full[: len(full) - len(path)] if path and full.endswith(path) else ""
    return f"{scheme}://{headers.get('host') or 'localhost'}{prefix}"


@functools.cache
def _event_delivery() -> Callable[[list[dict[str, Any]], Any], dict[str, Any]]:
    """The table stream's consumer (chalicelib/events/posting.py), built once per container:
    the events to OTP_EVENTS_URL and, with OTP_TWILIO_WEBHOOKS, the v2 Services' Webhooks."""
    from chalicelib.events.posting import (
        DynamoDBDeliveryMarks,
        InvocationMarks,
        Poster,
        deliver_batch,
        delivery_marks,
        stream_pause,
        stream_time_left,
    )
    from chalicelib.channels.providers.http import shared_session

    config = get_config()
    urls, include_number = config.events.urls, config.events.include_number
    secret = config.events.secret
    if secret is None and urls:  # deployed stages: from SSM, once per container
        import boto3

        from chalicelib.settings.parameters import _get_secure_string

        secret = _get_secure_string("OTP_EVENTS_SECRET_PARAMETER", config.events.secret_parameter,
                                    lambda: boto3.client("ssm"))
    poster = Poster(secret or "", shared_session().post)
    from chalicelib.events.forgotten import Tombstones

    client = functools.cache(_dynamodb_client)
    forgotten = Tombstones(client, config.table_name).forgotten  # make forget's (docs/personal-data.md)
    if not config.events.twilio_webhooks:
        marks = delivery_marks(urls, _dynamodb_client, config.table_name)
        return lambda records, context: deliver_batch(records, urls, poster, include_number, marks,
                                                      stream_pause(context), stream_time_left(context),
                                                      forgotten)
    # The events' URLs and the webhooks note a record's marks in one item, read once.
    shared = InvocationMarks(DynamoDBDeliveryMarks(_dynamodb_client(), config.table_name))
    twilio = _twilio_webhooks(include_number, shared)

    def both(records: list[dict[str, Any]], context: Any) -> dict[str, Any]:
        shared.begin()
        return deliver_batch(records, urls, poster, include_number, shared, stream_pause(context),
                             stream_time_left(context), forgotten, twilio)

    return both


def _twilio_webhooks(include_number: bool, marks: Any) -> Any:
    """The v2 Services' Webhooks (chalicelib/twilio_v2/webhook_delivery.py) over the v2
    dialect's Service cache and auth token, looked up at each record (both rebuilt with the
    VerificationService when its secrets are re-read)."""
    from chalicelib.channels.providers.http import shared_session
    from chalicelib.twilio_v2.webhook_delivery import WebhookDelivery

    built: list[Any] = [None, None]  # (the TwilioApi, its WebhookDelivery)

    def deliver(record: Any, first: bool) -> bool:
        twilio = get_twilio()
        if built[0] is not twilio:
            built[:] = [twilio, WebhookDelivery(twilio.catalog.get, twilio.account_sid,
                                                twilio.authenticator.signing_token, shared_session().post,
                                                marks, include_number)]
        return bool(built[1](record, first))

    return deliver


def _dynamodb_client() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    aws = BotoConfig(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("dynamodb", config=aws)


def deliver_stream_records(records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """POST the events of a batch of the table's stream records; the answer is Lambda's partial
    batch response (the first record a receiver did not take, retried from there)."""
    return _event_delivery()(records, context)


def delivery_published(message: str) -> int:
    """One End User Messaging delivery event from its topic: the same ranked, monotonic write
    as an HTTP receipt (chalicelib/delivery/tracker.py); how many sends it changed."""
    tracker = get_service().delivery
    return tracker.receive_published("end-user-messaging", message) if tracker is not None else 0


@functools.cache
def openapi_json(api_key_required: bool, public: bool) -> str:
    """The contract (chalicelib/openapi/document.py) as served at /openapi.json."""
    import json

    from chalicelib.openapi.document import document

    return json.dumps(document(get_config().code_length, api_key_required, public))


# Every per-container cache above; reset() clears them (tests and the bench between builds).
_CACHES: tuple[Any, ...] = (get_config, _service, get_receipts, _kms_client, _totp_for, _passkeys_for,
                            get_page_passkeys, _event_delivery, openapi_json, _twilio_for, _hooks_for,
                            _cognito_decrypter)
_resets: list[Callable[[], None]] = []


def on_reset(clear: Callable[[], None]) -> None:
    """A cache kept elsewhere (a blueprint's) that reset() clears too."""
    _resets.append(clear)


def reset() -> None:
    """Forget every per-container object, so the next request reads the environment again."""
    for cached in _CACHES:
        cached.cache_clear()
    for clear in _resets:
        clear()
