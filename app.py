"""Routes only: read the request, call the verification service, shape the response.

Domain errors become HTTP responses in one place (``domain_errors``, chalicelib/http.py);
the TOTP and delivery-receipt routes are blueprints (chalicelib/routes_*.py). Chalice's own error
answers (415, 405, ...) are rewritten into the same ``{"error": {...}}`` shape by middleware.
Everything that costs time (config, AWS clients, the secret, providers) is built on first use
and cached per container: importing this module does no I/O (``chalice deploy`` imports it).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs, urlsplit

from chalice import Chalice, Response

from chalicelib import errors, snapstart
from chalicelib.config import ConfigError, api_key_required, public_api
from chalicelib.http import JSON_HEADERS as _JSON_HEADERS
from chalicelib.http import SERVER_DOOR, raw_body
from chalicelib.http import domain_errors as _domain_errors
from chalicelib.http import json_response as _json
from chalicelib.routes_delivery import delivery_routes
from chalicelib.routes_totp import totp_routes
from chalicelib.settings.events import delivery_topic, events_stream
from chalicelib.models import CheckRequest, StartRequest, parse_check_request, parse_start_request

if TYPE_CHECKING:
    from chalice.app import Request

app = Chalice(app_name="phone-verify")
app.log.setLevel(logging.INFO)
log = logging.getLogger("verify")

_TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
_SEED_CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
# API Gateway API keys (with a usage plan) for the API routes; the page at / stays open.
_API_KEY = api_key_required()

# Two doors (chalicelib/http.py): the server door is IAM; the public door (no credentials:
# browsers and apps) takes start and check, unless OTP_PUBLIC_API=false puts them behind IAM.
PUBLIC_DOOR = None if public_api() else SERVER_DOOR
# v1 routes a browser on an allowed origin may call (CORS, OTP_ALLOWED_ORIGINS).
_CORS_PATHS = ("/v1/verifications", "/v1/verifications/check")


# -- lazy, per-container construction -------------------------------------------------------


@functools.cache
def get_config() -> Any:
    from chalicelib.config import Config

    return Config.from_env()


def get_service() -> Any:
    """The VerificationService for this container. Built once; rebuilt when its secrets come
    from SSM and are older than OTP_PARAMETERS_MAX_AGE_SECONDS, so a rotation takes effect."""
    service, built_at = _built_service()
    config = get_config()
    if config.reads_parameters and time.monotonic() - built_at > config.parameters_max_age_seconds:
        _built_service.cache_clear()
        service, built_at = _built_service()
    return service


@functools.cache
def _built_service() -> tuple[Any, float]:
    return _build_service(), time.monotonic()


# A plain function has no cache_clear in its type; tests clear the service through this name.
get_service.cache_clear = _built_service.cache_clear  # type: ignore[attr-defined]

# SnapStart: after a restore, the cached service (clients, connections, secrets) is rebuilt.
snapstart.register(_built_service.cache_clear)


def _build_service() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    from chalicelib.codes import CodeHasher
    from chalicelib.limits import Limiter
    from chalicelib.parameters import load_provider_settings, load_server_secret
    from chalicelib.providers import ProviderContext
    from chalicelib.routing import ProviderPool
    from chalicelib.service import VerificationService
    from chalicelib.counters import DynamoDBCounterStore
    from chalicelib.store import DynamoDBVerificationStore

    from chalicelib.telemetry import configure_logging

    configure_logging(log_format=get_config().log_format)
    config = get_config()
    # Short timeouts: API Gateway gives up at 29 s, and a hung dependency must fail fast.
    aws = BotoConfig(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    # Sends are never retried by botocore (a retried Publish or Invoke after a read timeout can
    # deliver twice); the provider chain's failover is the retry, as for the HTTP providers.
    once = aws.merge(BotoConfig(retries={"mode": "standard", "total_max_attempts": 1}))
    senders = {"sns", "pinpoint-sms-voice-v2", "lambda"}
    aws_client = functools.cache(
        lambda service: boto3.client(service, config=once if service in senders else aws)
    )
    store = DynamoDBVerificationStore(aws_client("dynamodb"), config.table_name)
    secret = load_server_secret(config, lambda: aws_client("ssm"))
    settings = functools.cache(lambda: load_provider_settings(config, lambda: aws_client("ssm")))

    def http_session() -> Any:  # requests is imported only when an HTTP provider sends
        from chalicelib.providers.http import shared_session

        return shared_session()

    def context(name: str, provider_settings: Any) -> ProviderContext:
        return ProviderContext(name, provider_settings, config.sms_sender, http_session, aws_client)

    providers = ProviderPool(config, settings, context)
    limiter = Limiter(config.limits, DynamoDBCounterStore(aws_client("dynamodb"), config.table_name))
    hasher = CodeHasher(secret)
    delivery = _delivery_tracker(config, store, hasher, settings, secret)
    return VerificationService(config, store, providers, hasher, limiter, delivery=delivery)


def _delivery_tracker(config: Any, store: Any, hasher: Any, settings: Any, secret: bytes) -> Any:
    from chalicelib.delivery import DeliveryTracker
    from chalicelib.phone import parse_phone_number

    def region_of(e164: str) -> str:
        return parse_phone_number(e164, config.default_region).region

    return DeliveryTracker(store, hasher, settings, config.callback_base_url, secret, region_of)


@functools.cache
def get_receipts() -> Any:
    """The ReceiptSigner (chalicelib/receipts.py); its KMS client is built on first use."""
    from chalicelib.receipts import signer_from_config

    return signer_from_config(get_config(), _kms_client)


@functools.cache
def _kms_client() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    # As for DynamoDB: fail fast, well inside API Gateway's 29 s.
    aws = BotoConfig(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("kms", config=aws)


def get_totp() -> Any:
    """The TotpService (chalicelib/totp.py), rebuilt with the VerificationService whose
    DynamoDB client, secret (identity keys) and clock it shares."""
    return _totp_for(get_service())


@functools.lru_cache(maxsize=1)
def _totp_for(service: Any) -> Any:
    from chalicelib.totp import TotpService
    from chalicelib.totp_store import DynamoDBTotpStore

    store = DynamoDBTotpStore(service._store._client, get_config().table_name)
    return TotpService(get_config(), store, service._hasher, _kms_client, get_receipts(), service.now)


# -- Chalice's own answers in the contract's shape (domain errors: chalicelib/http.py) -------


@app.middleware("http")
def _contract_shaped_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Every request: Chalice's own answers (415, 405, unhandled errors, in its
    ``{"Code", "Message"}`` shape) get the contract's shape; then one summary log line and
    the request's metrics are written (chalicelib/telemetry.py)."""
    from chalicelib import telemetry

    telemetry.begin_request(f"{event.method} {event.context.get('resourcePath', event.path)}")
    response = get_response(event)
    if event.path in _CORS_PATHS:
        _add_cors_headers(event.headers, response)
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = {415: "unsupported_media_type", 405: "method_not_allowed"}.get(
            response.status_code, "invalid_request" if response.status_code < 500 else "internal_error"
        )
        message = body["Message"] if response.status_code < 500 else errors.ServiceError.message
        response.body = json.dumps({"error": {"code": code, "message": message}})
        response.headers = {**response.headers, **_JSON_HEADERS}
    telemetry.end_request(response.status_code, _outcome(response))
    return response


def _outcome(response: Response) -> str:
    if response.status_code < 400:
        return "ok"
    try:
        return str(json.loads(response.body)["error"]["code"])
    except (TypeError, ValueError, KeyError):
        return f"http_{response.status_code}"


# -- the v1 JSON API -------------------------------------------------------------------------


def _add_cors_headers(headers: Any, response: Response) -> None:
    """Lets a page on an allowed origin read the answer (errors included); no header at all
    for any other origin, so the browser keeps the answer from it."""
    origin = (headers.get("origin") or "").lower()
    response.headers = {**response.headers, "Vary": "Origin"}
    if origin and _cross_origin_allowed(origin):
        response.headers.update({"Access-Control-Allow-Origin": origin,
                                 "Access-Control-Expose-Headers": "Retry-After"})


def _request() -> Request:
    """The request being handled: Chalice sets it before it calls a route or middleware."""
    request = app.current_request
    if request is None:  # outside a request: a programming error, not a client's
        raise RuntimeError("no current request")
    return request


def _body() -> bytes:
    return raw_body(_request())


def _cross_origin_allowed(origin: str) -> bool:
    try:
        return origin in get_config().allowed_origins
    except ConfigError:
        return False


def _same_origin(origin: str) -> bool:
    host = (_request().headers.get("host") or "").lower()
    return bool(host) and urlsplit(origin).netloc == host


def _refuse_foreign_pages() -> None:
    """A public POST from a browser must come from this API's own page or an allowed origin.

    Browsers name the page that makes a request (Origin on every POST, Sec-Fetch-Site in
    current browsers); a form or a no-cors fetch on another site would otherwise send SMS from
    its visitors' browsers. Apps and servers send neither header and pass."""
    headers = _request().headers
    origin = (headers.get("origin") or "").lower()
    if origin:
        if _same_origin(origin) or _cross_origin_allowed(origin):
            return
        raise errors.OriginNotAllowed()
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise errors.OriginNotAllowed()


def _json_only(view: Callable[..., Response]) -> Callable[..., Response]:
    """v1 POSTs take exactly ``application/json``: a type no page on another site can send
    without a CORS preflight (text/plain, forms and a body without a type can be). Chalice's
    own check would take a missing type, ``*/*`` or ``text/plain;application/json``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        content_type = _request().headers.get("content-type") or ""
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise errors.UnsupportedMediaType()
        _refuse_foreign_pages()
        return view(*args, **kwargs)

    return wrapper


def _preflight() -> Response:
    origin = (_request().headers.get("origin") or "").lower()
    if not origin or not _cross_origin_allowed(origin):
        raise errors.OriginNotAllowed()
    allowed_headers = "content-type, x-api-key" if _API_KEY else "content-type"
    return Response(body="", status_code=204, headers={
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": allowed_headers,
        "Access-Control-Max-Age": "600",
        "Cache-Control": "no-store",
    })


def _client_ip() -> str:
    """API Gateway's view of the caller, never a header the client controls (X-Forwarded-For)."""
    identity = (_request().context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")



def _verification_body(v: Any, now: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": v.id,
        "to": v.to,
        "channel": v.channel,
        "status": v.status(now),
        "expires_at": v.expires_at_iso,
        "send_count": v.send_count,
        **extra,
    }


@app.route("/v1/verifications", methods=["POST"], api_key_required=_API_KEY, authorizer=PUBLIC_DOOR)
@_domain_errors
@_json_only
def start_verification() -> Response:
    request = parse_start_request(_body())
    service = get_service()
    verification, created = service.start(request, _client_ip())
    now = service.now()
    ready_at = verification.sent_at_ms / 1000 + service.resend_interval
    body = _verification_body(verification, now, resend_after=max(0, math.ceil(ready_at - now)),
                              provider=verification.provider)
    return _json(body, 201 if created else 200)


@app.route("/v1/verifications/check", methods=["POST"], api_key_required=_API_KEY, authorizer=PUBLIC_DOOR)
@_domain_errors
@_json_only
def check_verification() -> Response:
    service = get_service()
    verification = service.check(parse_check_request(_body()), _client_ip())
    receipt = get_receipts().for_verification(verification, service.now())
    return _json({"id": verification.id, "to": verification.to, "status": "approved", "valid": True,
                  "receipt": receipt})


# CORS preflights: answered by the function (not API Gateway's static mock) so that only the
# origins in OTP_ALLOWED_ORIGINS get an answer. No API key or signature: a browser cannot
# send one with a preflight.
@app.route("/v1/verifications", methods=["OPTIONS"])
@_domain_errors
def start_preflight() -> Response:
    return _preflight()


@app.route("/v1/verifications/check", methods=["OPTIONS"])
@_domain_errors
def check_preflight() -> Response:
    return _preflight()


@app.route("/v1/verifications/{verification_id}", methods=["GET"], api_key_required=_API_KEY,
           authorizer=SERVER_DOOR)
@_domain_errors
def get_verification(verification_id: str) -> Response:
    service = get_service()
    verification = service.get(verification_id)
    attempts = [
        {"channel": s.channel, "provider": s.provider, "sent_at": s.at_iso, "status": s.status,
         "error_code": s.error_code}
        for s in verification.sends
    ]
    return _json(
        _verification_body(
            verification,
            service.now(),
            attempts_remaining=verification.attempts_remaining,
            send_attempts=attempts,
        )
    )


@app.route("/v1/verifications/{verification_id}", methods=["DELETE"], api_key_required=_API_KEY,
           authorizer=SERVER_DOOR)
@_domain_errors
def cancel_verification(verification_id: str) -> Response:
    service = get_service()
    verification = service.cancel(verification_id)
    return _json(
        _verification_body(
            verification, service.now(), attempts_remaining=verification.attempts_remaining
        )
    )


# -- delivery receipts from providers (public, authenticated by the provider's signature) ----


app.register_blueprint(delivery_routes(get_service))


def delivery_published(message: str) -> int:
    """One End User Messaging delivery event from the topic: the same ranked, monotonic write
    as an HTTP receipt (chalicelib/delivery.py); how many sends it changed."""
    tracker = get_service().delivery
    return tracker.receive_published("end-user-messaging", message) if tracker is not None else 0


_DELIVERY_TOPIC = delivery_topic()
if _DELIVERY_TOPIC:  # bound at import: Chalice subscribes the handler to this topic only

    @app.on_sns_message(topic=_DELIVERY_TOPIC)
    def delivery_status(event: Any) -> None:
        delivery_published(event.message)


# -- events to the deployment's backend: the table stream's consumer (docs/events.md) --------


@functools.cache
def _event_delivery() -> Callable[[list[dict[str, Any]], Any], dict[str, Any]]:
    from chalicelib.events import deliver_batch, delivery_marks, stream_pause, Poster
    from chalicelib.providers.http import shared_session

    config = get_config()
    secret = config.events.secret
    if secret is None:  # deployed stages: from SSM, once per container
        import boto3

        from chalicelib.parameters import _get_secure_string

        secret = _get_secure_string("OTP_EVENTS_SECRET_PARAMETER", config.events.secret_parameter,
                                    lambda: boto3.client("ssm"))
    poster = Poster(secret, shared_session().post)
    marks = delivery_marks(config.events.urls, _dynamodb_client, config.table_name)
    return lambda records, context: deliver_batch(records, config.events.urls, poster,
                                                  config.events.include_number, marks, stream_pause(context))


def _dynamodb_client() -> Any:
    import boto3
    from botocore.config import Config as BotoConfig

    aws = BotoConfig(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
    return boto3.client("dynamodb", config=aws)


def deliver_stream_records(records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """POST the events of a batch of the table's stream records; the answer is Lambda's partial
    batch response (the first record a receiver did not take, retried from there)."""
    return _event_delivery()(records, context)


_EVENTS_STREAM = events_stream()
if _EVENTS_STREAM:  # bound at import, like the API-key setting: Chalice wires the mapping

    @app.on_dynamodb_record(stream_arn=_EVENTS_STREAM, batch_size=100, starting_position="LATEST")
    def table_events(event: Any) -> dict[str, Any]:
        return deliver_stream_records(event.to_dict()["Records"], event.context)


# -- authenticator apps (TOTP): the server door, behind IAM ----------------------------------


app.register_blueprint(totp_routes(get_totp))


# -- the seed-compatible routes (form or query parameters, plain-text answers) ---------------


def _seed_params() -> dict[str, Any]:
    """The form's fields, from the body only: a code in a query string ends up in access
    logs, browser history and Referer headers."""
    request = _request()
    params: dict[str, Any] = {}
    raw = _body()
    if raw and len(raw) <= 4096:
        content_type = (request.headers.get("content-type") or "").lower()
        if content_type.startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
        else:
            try:
                form = parse_qs(raw.decode("utf-8"), max_num_fields=10)
            except (UnicodeDecodeError, ValueError):
                form = {}
            params.update({k: v[0] for k, v in form.items()})
    return params


def _seed_number(params: dict[str, Any]) -> tuple[str, str | None] | None:
    """The number and the country to read it in. The page's form posts ``country`` beside a
    national number; without ``country`` the seed's own rule stays (prepend ``+``)."""
    number, country = params.get("number"), params.get("country")
    if not isinstance(number, str):
        return None
    number = number.strip()
    if isinstance(country, str) and country.strip():
        return number, country.strip()
    return (number if number.startswith("+") else "+" + number), None


def _text(body: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={**_TEXT_HEADERS, **(headers or {})})


# POST only: a GET (an <img src>, a link) must never send an SMS.
@app.route("/request-auth", methods=["POST"], content_types=_SEED_CONTENT_TYPES,
           api_key_required=_API_KEY, authorizer=PUBLIC_DOOR)
def seed_request_auth() -> Response:
    from chalicelib.dynamodb import StoreUnavailable

    try:
        _refuse_foreign_pages()
    except errors.OriginNotAllowed:
        return _text("Forbidden", 403)
    target = _seed_number(_seed_params())
    try:
        if target is None:
            raise errors.InvalidPhoneNumber()
        get_service().start(StartRequest(target[0], target[1], "sms", "en"), _client_ip())
    except (errors.InvalidPhoneNumber, errors.UnsupportedNumberType, errors.InvalidRequest):
        return _text("Invalid Phone Number", 400)
    except errors.ServiceError as exc:
        if exc.status == 429:
            return _text("Too Many Requests", 429, {"Retry-After": str(exc.retry_after)})
        return _text("Error sending code via SMS", 500)
    except (StoreUnavailable, ConfigError) as exc:
        log.error("request-auth failed: %s", exc)
        return _text("Error sending code via SMS", 500)
    return _text("Your code was sent", 200)


@app.route("/validate-auth", methods=["POST"], content_types=_SEED_CONTENT_TYPES,
           api_key_required=_API_KEY, authorizer=PUBLIC_DOOR)
def seed_validate_auth() -> Response:
    from chalicelib.dynamodb import StoreUnavailable

    try:
        _refuse_foreign_pages()
    except errors.OriginNotAllowed:
        return _text("Forbidden", 403)
    params = _seed_params()
    target = _seed_number(params)
    try:
        if target is None:
            raise errors.VerificationNotFound()
        get_service().check(CheckRequest(params.get("auth_code"), target[0], target[1], None), _client_ip())
    except errors.ServiceError:
        return _text("Forbidden", 403)
    except (StoreUnavailable, ConfigError) as exc:
        log.error("validate-auth failed: %s", exc)
        return _text("Service Unavailable", 503, {"Retry-After": "1"})
    return _text("Success!", 200)


# -- the contract ----------------------------------------------------------------------------


@functools.cache
def _openapi_json() -> str:
    from chalicelib.openapi import document

    return json.dumps(document(get_config().code_length, _API_KEY, PUBLIC_DOOR is None))


@app.route("/openapi.json", methods=["GET"])
@_domain_errors
def openapi() -> Response:
    return Response(body=_openapi_json(), status_code=200,
                    headers={"Content-Type": "application/json", "Cache-Control": "max-age=300"})


@app.route("/.well-known/jwks.json", methods=["GET"])
@_domain_errors
def jwks() -> Response:
    """The receipts' public keys (RFC 7517), every configured key so rotation is seamless."""
    return _json(get_receipts().jwks(), headers={"Cache-Control": "public, max-age=3600"})


# -- the web page and the local SMS inbox ----------------------------------------------------


def _inbox_enabled() -> bool:
    """Only `make run`: the local stage with the console provider and nothing else."""
    config = get_config()
    return config.stage == "local" and config.all_providers == ("console",)


def _totp_tab_enabled() -> bool:
    """The page's "Authenticator app" tab: the local stage only, where `chalice local` serves the
    TOTP routes without IAM (deployed, API Gateway refuses the page's unsigned calls)."""
    config = get_config()
    return config.stage == "local" and config.totp.key_id is not None


@app.route("/", methods=["GET"])
@_domain_errors
def index() -> Response:
    from chalicelib.web import index_page

    config = get_config()
    return index_page(config.code_length, config.default_region, _inbox_enabled(), _totp_tab_enabled())


@app.route("/static/{name}", methods=["GET"])
@_domain_errors
def static(name: str) -> Response:
    from chalicelib.web import static_file

    response = static_file(name)
    if response is None:
        raise errors.NotFound()
    return response


@app.route("/dev/inbox", methods=["GET"])
@_domain_errors
def dev_inbox() -> Response:
    if not _inbox_enabled():
        raise errors.NotFound()
    from chalicelib.web import inbox_page

    return inbox_page()


@app.route("/dev/inbox.json", methods=["GET"])
@_domain_errors
def dev_inbox_json() -> Response:
    if not _inbox_enabled():
        raise errors.NotFound()
    from chalicelib.providers.console import OUTBOX

    return _json(list(OUTBOX))


@app.route("/dev/events.json", methods=["GET"])
@_domain_errors
def dev_events_json() -> Response:
    """`make run`: the events the local table's stream implies (scripts/local_events.py)."""
    if not _inbox_enabled():
        raise errors.NotFound()
    from chalicelib.events import LOCAL_EVENTS

    return _json(list(LOCAL_EVENTS))
