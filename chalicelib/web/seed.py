"""The seed-compatible routes (/request-auth, /validate-auth): form or JSON fields, plain-text
answers. A Chalice blueprint that app.py registers with the public door's settings (this
module never imports app.py)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import parse_qs

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.config import ConfigError
from chalicelib.http import raw_body
from chalicelib.verify import CheckRequest, StartRequest
from chalicelib.origins import client_ip, refuse_foreign_pages

if TYPE_CHECKING:
    from chalicelib.web.form_pages import FormPages

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


def seed_routes(api_key_required: bool, door: Any, get_service: Callable[[], Any],
                get_config: Callable[[], Any]) -> Blueprint:
    """The two routes, behind the public door's API-key setting and authorizer (app.py);
    ``get_service``, ``get_config``: the container's VerificationService and configuration
    (chalicelib/wiring.py), per request."""
    bp = Blueprint(__name__)

    def params() -> dict[str, Any]:
        request = bp.current_request
        return _seed_params(raw_body(request), request.headers.get("content-type") or "")

    def _browser_page(fields: dict[str, Any]) -> FormPages | None:
        """A browser's navigation (the page's form without JavaScript) gets pages, not text."""
        from chalicelib.web.form_pages import FormPages  # not on the cold path: a browser's form only

        return FormPages.for_request(bp.current_request.headers.get("accept") or "", fields,
                                     lambda: get_config().code_length)

    # POST only: a GET (an <img src>, a link) must never send an SMS.
    @bp.route("/request-auth", methods=["POST"], content_types=_SEED_CONTENT_TYPES,
              api_key_required=api_key_required, authorizer=door)
    def seed_request_auth() -> Response:
        from chalicelib.dynamodb import StoreUnavailable

        try:
            refuse_foreign_pages(bp.current_request)
        except errors.OriginNotAllowed:
            return _text("Forbidden", 403)
        fields = params()
        target = _seed_number(fields)
        page = _browser_page(fields)  # the page's own form without JavaScript: the next step as a page
        try:
            if target is None:
                raise errors.InvalidPhoneNumber()
            verification, _ = get_service().start(StartRequest(target[0], target[1], "sms", "en"),
                                                         client_ip(bp.current_request))
        except (errors.InvalidPhoneNumber, errors.UnsupportedNumberType, errors.InvalidRequest) as exc:
            return page.refused(exc, 400) if page else _text("Invalid Phone Number", 400)
        except errors.ServiceError as exc:
            if exc.status in (429, 503):  # 503: the secrets could not be read yet (SSM)
                reason = "Too Many Requests" if exc.status == 429 else "Service Unavailable"
                retry = {"Retry-After": str(exc.retry_after or 1)}
                return page.refused(exc, exc.status, retry) if page else _text(reason, exc.status, retry)
            return page.refused(exc, 500) if page else _text("Error sending code via SMS", 500)
        except (StoreUnavailable, ConfigError) as exc:
            log.error("request-auth failed: %s", exc)
            return page.refused(errors.ServiceError(), 500) if page \
                else _text("Error sending code via SMS", 500)
        return page.sent(verification.to) if page else _text("Your code was sent", 200)

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
        page = _browser_page(fields)
        try:
            if target is None:
                raise errors.VerificationNotFound()
            check = CheckRequest(fields.get("auth_code"), target[0], target[1], None)
            verification = get_service().check(check, client_ip(bp.current_request))
        except errors.ServiceUnavailable as exc:  # the secrets could not be read yet (SSM)
            retry = {"Retry-After": str(exc.retry_after or 1)}
            return page.refused(exc, 503, retry) if page else _text("Service Unavailable", 503, retry)
        except errors.ServiceError as exc:
            return page.refused(exc, 403) if page else _text("Forbidden", 403)
        except (StoreUnavailable, ConfigError) as exc:
            log.error("validate-auth failed: %s", exc)
            return page.refused(errors.ServiceUnavailable(), 503, {"Retry-After": "1"}) if page \
                else _text("Service Unavailable", 503, {"Retry-After": "1"})
        return page.verified(verification.to) if page else _text("Success!", 200)

    return bp
