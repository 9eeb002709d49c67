"""The v1 JSON API of a phone or email verification: start, check, status, cancel, and the CORS
preflights of the two public routes. A Chalice blueprint that app.py registers; it reaches the
container's objects through the factories it is handed (chalicelib/wiring.py), never app.py."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import SERVER_DOOR, raw_body
from chalicelib.http import domain_errors as _domain_errors
from chalicelib.http import json_response as _json
from chalicelib.origins import client_ip, json_only, preflight
from chalicelib.verify.models import parse_check_request, parse_start_request

if TYPE_CHECKING:
    from chalice.app import Request


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


def verify_routes(api_key_required: bool, public_door: Any, get_service: Callable[[], Any],
                  get_receipts: Callable[[], Any]) -> Blueprint:
    """The routes, behind the API-key setting; start and check behind ``public_door`` (None: no
    credentials; else IAM, OTP_PUBLIC_API=false), the others behind the server door (IAM)."""
    bp = Blueprint(__name__)

    def _request() -> Request:
        """The request being handled: Chalice sets it before it calls a route or middleware."""
        request = bp.current_request
        if request is None:  # outside a request: a programming error, not a client's
            raise RuntimeError("no current request")
        return request

    def _body() -> bytes:
        return raw_body(_request())

    def _client_ip() -> str:
        return client_ip(_request())

    _json_only = json_only(_request)

    def _preflight() -> Response:
        return preflight(_request(), api_key_required)

    @bp.route("/v1/verifications", methods=["POST"], api_key_required=api_key_required,
              authorizer=public_door)
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

    @bp.route("/v1/verifications/check", methods=["POST"], api_key_required=api_key_required,
              authorizer=public_door)
    @_domain_errors
    @_json_only
    def check_verification() -> Response:
        service = get_service()
        verification = service.check(parse_check_request(_body()), _client_ip())
        receipt = get_receipts().for_verification(verification, service.now(),
                                                  test_number=service.is_test_number(verification.to))
        return _json({"id": verification.id, "to": verification.to, "status": "approved", "valid": True,
                      "receipt": receipt})

    # CORS preflights: answered by the function (not API Gateway's static mock) so that only the
    # origins in OTP_ALLOWED_ORIGINS get an answer. No API key or signature: a browser cannot
    # send one with a preflight.
    @bp.route("/v1/verifications", methods=["OPTIONS"])
    @_domain_errors
    def start_preflight() -> Response:
        return _preflight()

    @bp.route("/v1/verifications/check", methods=["OPTIONS"])
    @_domain_errors
    def check_preflight() -> Response:
        return _preflight()

    @bp.route("/v1/verifications/{verification_id}", methods=["GET"],
              api_key_required=api_key_required, authorizer=SERVER_DOOR)
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

    @bp.route("/v1/verifications/{verification_id}", methods=["DELETE"],
              api_key_required=api_key_required, authorizer=SERVER_DOOR)
    @_domain_errors
    def cancel_verification(verification_id: str) -> Response:
        service = get_service()
        verification = service.cancel(verification_id)
        return _json(
            _verification_body(
                verification, service.now(), attempts_remaining=verification.attempts_remaining
            )
        )

    return bp
