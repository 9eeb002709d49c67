"""The seed-compatible routes (/request-auth, /validate-auth): form or JSON fields, plain-text
answers. A Chalice blueprint that app.py registers with the public door's settings (this
module never imports app.py)."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.config import ConfigError
from chalicelib.http import raw_body
from chalicelib.verify import CheckRequest, StartRequest
from chalicelib.origins import client_ip, refuse_foreign_pages

log = logging.getLogger("verify")

_TEXT_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"}
_SEED_CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/json", "text/plain"]


def _seed_params(raw: bytes, content_type: str) -> dict[str, Any]:
    """The form's fields, from the body only: a code in a query string ends up in access
    logs, browser history and Referer headers."""
    params: dict[str, Any] = {}
    if raw and len(raw) <= 4096:
        if content_type.lower().startswith("application/json"):
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


def seed_routes(api_key_required: bool, door: Any, get_service: Callable[[], Any]) -> Blueprint:
    """The two routes, behind the public door's API-key setting and authorizer (app.py);
    ``get_service``: the container's VerificationService (chalicelib/wiring.py), per request."""
    bp = Blueprint(__name__)

    def params() -> dict[str, Any]:
        request = bp.current_request
        return _seed_params(raw_body(request), request.headers.get("content-type") or "")

    # POST only: a GET (an <img src>, a link) must never send an SMS.
    @bp.route("/request-auth", methods=["POST"], content_types=_SEED_CONTENT_TYPES,
              api_key_required=api_key_required, authorizer=door)
    def seed_request_auth() -> Response:
        from chalicelib.dynamodb import StoreUnavailable

        try:
            refuse_foreign_pages(bp.current_request)
        except errors.OriginNotAllowed:
            return _text("Forbidden", 403)
        target = _seed_number(params())
        try:
            if target is None:
                raise errors.InvalidPhoneNumber()
            get_service().start(StartRequest(target[0], target[1], "sms", "en"),
                                       client_ip(bp.current_request))
        except (errors.InvalidPhoneNumber, errors.UnsupportedNumberType, errors.InvalidRequest):
            return _text("Invalid Phone Number", 400)
        except errors.ServiceError as exc:
            if exc.status in (429, 503):  # 503: the secrets could not be read yet (SSM)
                reason = "Too Many Requests" if exc.status == 429 else "Service Unavailable"
                return _text(reason, exc.status, {"Retry-After": str(exc.retry_after or 1)})
            return _text("Error sending code via SMS", 500)
        except (StoreUnavailable, ConfigError) as exc:
            log.error("request-auth failed: %s", exc)
            return _text("Error sending code via SMS", 500)
        return _text("Your code was sent", 200)

    @bp.route("/validate-auth", methods=["POST"], content_types=_SEED_CONTENT_TYPES,
              api_key_required=api_key_required, authorizer=door)
    def seed_validate_auth() -> Response:
        from chalicelib.dynamodb import StoreUnavailable

        try:
            refuse_foreign_pages(bp.current_request)
        except errors.OriginNotAllowed:
            return _text("Forbidden", 403)
        fields = params()
        target = _seed_number(fields)
        try:
            if target is None:
                raise errors.VerificationNotFound()
            get_service().check(CheckRequest(fields.get("auth_code"), target[0], target[1], None),
                                       client_ip(bp.current_request))
        except errors.ServiceUnavailable as exc:  # the secrets could not be read yet (SSM)
            return _text("Service Unavailable", 503, {"Retry-After": str(exc.retry_after or 1)})
        except errors.ServiceError:
            return _text("Forbidden", 403)
        except (StoreUnavailable, ConfigError) as exc:
            log.error("validate-auth failed: %s", exc)
            return _text("Service Unavailable", 503, {"Retry-After": "1"})
        return _text("Success!", 200)

    return bp
