"""The app: each capability's routes are a blueprint (chalicelib/<capability>/routes.py), registered
here with the factories of chalicelib/wiring.py; the event sources (SNS, the table's stream) are
bound here too. No route is written here.

Domain errors become HTTP responses in one place (``domain_errors``, chalicelib/http.py); the
browser checks live in chalicelib/origins.py. Chalice's own error answers (415, 405, ...) are
rewritten into the same ``{"error": {...}}`` shape by middleware. Everything that costs time
(config, AWS clients, the secret, providers) is built on first use and cached per container
by chalicelib/wiring.py: importing this module does no I/O (``chalice deploy`` imports it).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from chalice import Response

from chalicelib import errors, origins, telemetry, wiring
from chalicelib.config import ConfigError, api_key_required, public_api
from chalicelib.delivery.channel_routes import channel_event_routes
from chalicelib.delivery.routes import delivery_routes
from chalicelib.factors.routes import receipt_routes
from chalicelib.http import JSON_HEADERS as _JSON_HEADERS
from chalicelib.hooks.routes import hook_routes
from chalicelib.http import SERVER_DOOR, App
from chalicelib.openapi.routes import openapi_routes
from chalicelib.origins import add_cors_headers
from chalicelib.passkeys.routes import PATHS as _PASSKEY_PATHS
from chalicelib.passkeys.routes import passkey_routes
from chalicelib.settings.channels import channel_event_topics
from chalicelib.settings.events import delivery_topic, events_stream
from chalicelib.totp.routes import totp_routes
from chalicelib.twilio_v2.routes import twilio_routes
from chalicelib.verify.routes import verify_routes
from chalicelib.web.routes import web_routes
from chalicelib.web.seed import seed_routes

# Chalice's log goes through the root's handlers, an unhandled error as one redacted record.
app = App(app_name="phone-verify", configure_logs=False)  # Chalice, per-thread request
telemetry.adopt_chalice_log(app.log)
# The browser checks (chalicelib/origins.py) read OTP_ALLOWED_ORIGINS from the container's configuration.
origins.allow_origins(lambda: wiring.get_config().allowed_origins)
log = logging.getLogger("verify")

# API Gateway API keys (with a usage plan) for the API routes; the page at / stays open.
_API_KEY = api_key_required()

# Two doors (chalicelib/http.py): the server door is IAM; the public door (no credentials:
# browsers and apps) takes start and check, unless OTP_PUBLIC_API=false puts them behind IAM.
PUBLIC_DOOR = None if public_api() else SERVER_DOOR
# v1 routes a browser on an allowed origin may call (CORS, OTP_ALLOWED_ORIGINS).
_CORS_PATHS = ("/v1/verifications", "/v1/verifications/check", *_PASSKEY_PATHS)


# -- Chalice's own answers in the contract's shape (domain errors: chalicelib/http.py) -------


@app.middleware("http")
def _contract_shaped_errors(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Every request: Chalice's own answers (415, 405, unhandled errors, in its
    ``{"Code", "Message"}`` shape) get the contract's shape; then one summary log line and
    the request's metrics are written (chalicelib/telemetry.py)."""
    from chalicelib import budget

    telemetry.begin_request(f"{event.method} {event.context.get('resourcePath', event.path)}")
    budget.begin(_budget_seconds())  # the request's time budget (chalicelib/budget.py)
    try:
        response = get_response(event)
    finally:
        budget.end()
    if event.path in _CORS_PATHS:
        add_cors_headers(event.headers, response)
    body = response.body
    if isinstance(body, dict) and set(body) == {"Code", "Message"} and event.path.startswith("/v2/"):
        from chalicelib.twilio_v2.wire import TwilioError

        status = response.status_code
        response = TwilioError(60200 if status < 500 else 20500, status, body["Message"]).response()
    elif isinstance(body, dict) and set(body) == {"Code", "Message"}:
        code = {415: "unsupported_media_type", 405: "method_not_allowed"}.get(
            response.status_code, "invalid_request" if response.status_code < 500 else "internal_error"
        )
        message = body["Message"] if response.status_code < 500 else errors.ServiceError.message
        response.body = json.dumps({"error": {"code": code, "message": message}})
        response.headers = {**response.headers, **_JSON_HEADERS}
    telemetry.end_request(response.status_code, _outcome(response))
    return response


def _budget_seconds() -> float:
    try:
        return float(wiring.get_config().request_budget_seconds)
    except ConfigError:  # the route answers the configuration error; its calls get the default
        from chalicelib.budget import REQUEST_SECONDS

        return REQUEST_SECONDS


def _outcome(response: Response) -> str:
    if response.status_code < 400:
        return "ok"
    try:
        return str(json.loads(response.body)["error"]["code"])
    except (TypeError, ValueError, KeyError):
        return f"http_{response.status_code}"


# -- the v1 JSON API -------------------------------------------------------------------------


app.register_blueprint(verify_routes(_API_KEY, PUBLIC_DOOR, lambda: wiring.get_service(),
                                    lambda: wiring.get_receipts()))


app.register_blueprint(delivery_routes(lambda: wiring.get_service()))


def delivery_published(message: str) -> int:
    """One End User Messaging delivery event from the topic (chalicelib/wiring.py): the same
    ranked, monotonic write as an HTTP receipt; how many sends it changed."""
    return wiring.delivery_published(message)


_DELIVERY_TOPIC = delivery_topic()
if _DELIVERY_TOPIC:  # bound at import: Chalice subscribes the handler to this topic only

    @app.on_sns_message(topic=_DELIVERY_TOPIC)
    def delivery_status(event: Any) -> None:
        delivery_published(event.message)


# -- events to the deployment's backend: the table stream's consumer (docs/events.md) --------


def deliver_stream_records(records: list[dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """POST the events of a batch of the table's stream records (chalicelib/wiring.py); the
    answer is Lambda's partial batch response (the first record a receiver did not take)."""
    return wiring.deliver_stream_records(records, context)


_EVENTS_STREAM = events_stream()
if _EVENTS_STREAM:  # bound at import, like the API-key setting: Chalice wires the mapping

    @app.on_dynamodb_record(stream_arn=_EVENTS_STREAM, batch_size=100, starting_position="LATEST")
    def table_events(event: Any) -> dict[str, Any]:
        return deliver_stream_records(event.to_dict()["Records"], event.context)


# SES bounces and complaints, End User Messaging Social's WhatsApp statuses (docs/channels.md).
_CHANNEL_TOPICS = channel_event_topics()
if any(_CHANNEL_TOPICS):
    app.register_blueprint(channel_event_routes(lambda: wiring.get_service(), *_CHANNEL_TOPICS))


# -- authenticator apps (TOTP): the server door, behind IAM ----------------------------------

app.register_blueprint(totp_routes(lambda: wiring.get_totp()))


# -- passkeys for the page (chalicelib/passkeys/routes.py): the public door, as start and check -----

app.register_blueprint(passkey_routes(_API_KEY, PUBLIC_DOOR, lambda: wiring.get_page_passkeys()))


# -- the seed-compatible routes (form or JSON fields, plain-text answers) ---------------------


app.register_blueprint(seed_routes(_API_KEY, PUBLIC_DOOR, lambda: wiring.get_service(),
                                   lambda: wiring.get_config()))


# -- the contract and the receipts' keys -----------------------------------------------------


app.register_blueprint(openapi_routes(lambda: wiring.openapi_json(_API_KEY, PUBLIC_DOOR is None)))
app.register_blueprint(receipt_routes(lambda: wiring.get_receipts()))


# -- Twilio Verify's v2 API: HTTP Basic with an API key, checked by the function -----------


app.register_blueprint(twilio_routes(lambda: wiring.get_twilio(), lambda req: wiring.public_base(req)))
app.register_blueprint(hook_routes(lambda: wiring.get_hooks()))  # docs/identity-platforms.md


# -- the web page and the local SMS inbox ----------------------------------------------------


app.register_blueprint(web_routes(lambda: wiring.get_config()))
