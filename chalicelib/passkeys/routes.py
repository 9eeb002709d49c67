"""The page's four passkey routes (v1, the public door: JSON only, the page's allowed origins,
per-IP and per-number limits), a Chalice blueprint that app.py registers over
chalicelib/passkeys/page.py. Errors in v1's shape ({"error": {"code", "message"}})."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import PASSKEY_BODY_BYTES, decode_json_object, raw_body
from chalicelib.http import domain_errors as _domain_errors
from chalicelib.http import json_response as _json
from chalicelib.origins import client_ip, json_only, preflight

if TYPE_CHECKING:
    from chalice.app import Request

PATHS = ("/v1/passkeys/registrations", "/v1/passkeys/registrations/verify", "/v1/passkeys/challenges",
         "/v1/passkeys/challenges/approve")  # CORS (app.py), as /v1/verifications


def passkey_routes(api_key_required: bool, public_door: Any, get_ceremonies: Callable[[], Any]) -> Blueprint:
    """``get_ceremonies``: the container's PageCeremonies (chalicelib/passkeys/page.py)."""
    bp = Blueprint(__name__)

    def _request() -> Request:
        request = bp.current_request
        if request is None:
            raise RuntimeError("no current request")
        return request

    def _call(step: str, status: int) -> Response:
        request = _request()
        body = decode_json_object(raw_body(request), PASSKEY_BODY_BYTES)
        answer = getattr(get_ceremonies(), step)(body, client_ip(request), request.headers)
        return _json(answer, status, headers={"Cache-Control": "no-store"})

    _json_only = json_only(_request)

    @bp.route(PATHS[0], methods=["POST"], api_key_required=api_key_required, authorizer=public_door)
    @_domain_errors
    @_json_only
    def passkey_registration() -> Response:
        return _call("register", 201)

    @bp.route(PATHS[1], methods=["POST"], api_key_required=api_key_required, authorizer=public_door)
    @_domain_errors
    @_json_only
    def passkey_registration_verify() -> Response:
        return _call("verify", 200)

    @bp.route(PATHS[2], methods=["POST"], api_key_required=api_key_required, authorizer=public_door)
    @_domain_errors
    @_json_only
    def passkey_challenge() -> Response:
        return _call("challenge", 201)

    @bp.route(PATHS[3], methods=["POST"], api_key_required=api_key_required, authorizer=public_door)
    @_domain_errors
    @_json_only
    def passkey_challenge_approve() -> Response:
        return _call("approve", 200)

    for index, path in enumerate(PATHS):
        def _preflight() -> Response:
            return preflight(_request(), api_key_required)

        bp.route(path, methods=["OPTIONS"], name=f"passkey_preflight_{index}")(_domain_errors(_preflight))
    return bp
