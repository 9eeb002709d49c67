"""The /v2 routes, as Twilio's SDKs call them. A Chalice blueprint that app.py registers with
a lazy factory for the TwilioApi (api.py); this module never imports app.py.

No route has an API Gateway authorizer or API key: the SDKs send HTTP Basic with an API key,
which the function checks (credentials.py) before anything else, so without it every /v2
request to these routes gets 401 (20003) and nothing else.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.config import ConfigError
from chalicelib.http import raw_body
from chalicelib.origins import client_ip
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.routes_totp import totp_routes

log = logging.getLogger("verify")
_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]


def twilio_routes(get_api: Callable[[], Any], public_base: Callable[[Any], str]) -> Blueprint:
    bp = Blueprint(__name__)

    def answers(view: Callable[..., Response]) -> Callable[..., Response]:
        """Basic auth first, then the view; every error in Twilio's shape (wire.from_domain)."""

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            from chalicelib.dynamodb import StoreUnavailable

            request = bp.current_request
            try:
                api = get_api()
                authorization = request.headers.get("authorization")
                if api.authenticator.authenticate(authorization, client_ip(request)) is None:
                    raise wire.TwilioError(*wire.UNAUTHENTICATED)
                return view(api, *args, **kwargs)
            except wire.TwilioError as exc:
                return exc.response()
            except errors.ServiceError as exc:
                return wire.from_domain(exc).response()
            except StoreUnavailable as exc:
                log.error("store unavailable: %s", exc)
                return wire.TwilioError(20503, 503, errors.ServiceUnavailable.message, 1).response()
            except ConfigError as exc:
                log.error("configuration error: %s", exc)
                return wire.TwilioError(20500, 500, errors.ServiceError.message).response()

        return wrapper

    def form() -> dict[str, str]:
        request = bp.current_request
        return wire.parse_form(raw_body(request), request.headers.get("content-type") or "")

    def query() -> dict[str, str]:
        params = bp.current_request.query_params
        return dict(params) if params else {}

    def base() -> str:
        return public_base(bp.current_request)

    @bp.route("/v2/Services", methods=["POST"], content_types=_FORMS)
    @answers
    def create_service(api: Any) -> Response:
        return wire.json_answer(api.create_service(form(), base()), 201)

    @bp.route("/v2/Services", methods=["GET"], content_types=_FORMS)
    @answers
    def list_services(api: Any) -> Response:
        items = [api.service_body(s, base()) for s in api.catalog.all()]
        return wire.json_answer(api.page("services", items, query(), base(), "/v2/Services"))

    @bp.route("/v2/Services/{sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_service(api: Any, sid: str) -> Response:
        return wire.json_answer(api.service_body(api.app(sid)[0], base()))

    @bp.route("/v2/Services/{sid}", methods=["POST"], content_types=_FORMS)
    @answers
    def update_service(api: Any, sid: str) -> Response:
        return wire.json_answer(api.update_service(sid, form(), base()))

    @bp.route("/v2/Services/{sid}", methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_service(api: Any, sid: str) -> Response:
        api.delete_service(sid)
        return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})

    @bp.route("/v2/Services/{sid}/Verifications", methods=["POST"], content_types=_FORMS)
    @answers
    def create_verification(api: Any, sid: str) -> Response:
        return wire.json_answer(api.start(sid, form(), base()), 201)

    @bp.route("/v2/Services/{sid}/Verifications/{verification_sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_verification(api: Any, sid: str, verification_sid: str) -> Response:
        return wire.json_answer(api.fetch(sid, verification_sid, base()))

    @bp.route("/v2/Services/{sid}/Verifications/{verification_sid}", methods=["POST"], content_types=_FORMS)
    @answers
    def update_verification(api: Any, sid: str, verification_sid: str) -> Response:
        return wire.json_answer(api.update(sid, verification_sid, form(), base()))

    @bp.route("/v2/Services/{sid}/VerificationCheck", methods=["POST"], content_types=_FORMS)
    @answers
    def create_verification_check(api: Any, sid: str) -> Response:
        return wire.json_answer(api.check(sid, form()))

    @bp.route("/v2/Attempts", methods=["GET"], content_types=_FORMS)
    @answers
    def list_attempts(api: Any) -> Response:
        return wire.json_answer(api.attempts.list(query(), base()))

    # One route for both (API Gateway and Chalice's local router would have to rank them).
    @bp.route("/v2/Attempts/{sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_attempt_or_summary(api: Any, sid: str) -> Response:
        if sid == "Summary":
            return wire.json_answer(api.attempts.summary(query(), base()))
        return wire.json_answer(api.attempts.fetch(sid, base()))

    totp_routes(bp, answers, form, base)
    return bp
