"""The /v2 routes, as Twilio's SDKs call them. A Chalice blueprint that app.py registers with
a lazy factory for the TwilioApi (api.py); this module never imports app.py.

No route has an API Gateway authorizer or API key: the SDKs send HTTP Basic with an API key
or the account SID and its auth token, which the function checks (credentials.py) before
anything else, so without them every /v2 request to these routes gets 401 (20003) and nothing
else. A key limited to some Services gets 403 (20403) on any other Service's routes and on the
account's own (``account`` views: a new Service, Attempts of other Services). Before that, a request that a
browser sent from another site's page is refused (403, 20403): /v2 is for backends. A path
under /v2 that is no route answers Twilio's 404 (20404; with the reason for an operation of
Twilio's document not offered here), and another method on a route's path Twilio's 405
(20004), whatever its credentials (unserved.py).
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
from chalicelib.twilio_v2.routes_passkeys import passkey_routes
from chalicelib.twilio_v2.routes_rate_limits import rate_limit_routes
from chalicelib.twilio_v2.routes_resources import resource_routes
from chalicelib.twilio_v2.routes_totp import totp_routes
from chalicelib.twilio_v2.routes_webhooks import webhook_routes

log = logging.getLogger("verify")
_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
_ANY = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_SAME_ORIGIN = ("none", "same-origin")  # Sec-Fetch-Site: typed by the user, or the API's own page


def cross_site(headers: Any) -> bool:
    """A browser's signals that a page of another origin sent this request: Sec-Fetch-Site
    (Fetch Metadata, w3.org/TR/fetch-metadata) other than none or same-origin, or an Origin
    (RFC 6454) other than the API's own, the scheme the client used and the request's Host
    (``null`` is never ours). The page's allowed origins (OTP_ALLOWED_ORIGINS) do not count: a
    page never writes to /v2. Servers send neither: twilio-python (requests) and twilio-go
    nothing, twilio-node (Node's fetch) Sec-Fetch-Mode only. (A browser too old to send
    either has no key to send either: the 401 never asks it for one, wire.UNAUTHENTICATED.)"""
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in _SAME_ORIGIN:
        return True
    origin = headers.get("origin")
    if origin is None:
        return False
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip().lower()
    host = (headers.get("host") or "").strip().lower()
    return not host or origin.strip().lower() != f"{scheme}://{host}"


class _Recording(Blueprint):
    """A Blueprint that keeps each route's methods, for the 405s twilio_routes adds."""

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self.methods: dict[str, set[str]] = {}

    def route(self, path: str, **kwargs: Any) -> Callable[..., Any]:
        self.methods.setdefault(path, set()).update(kwargs.get("methods", ["GET"]))
        return super().route(path, **kwargs)


def twilio_routes(get_api: Callable[[], Any], public_base: Callable[[Any], str]) -> Blueprint:
    bp = _Recording(__name__)

    def door(view: Callable[..., Response], account: bool) -> Callable[..., Response]:
        """A cross-site browser's request refused, then Basic auth, then the credential's
        Services (the ``sid`` of a Service's route; an ``account`` view gets the principal
        and decides), then the view; every error in Twilio's shape (wire.from_domain)."""

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            from chalicelib.dynamodb import StoreUnavailable

            request = bp.current_request
            try:
                if cross_site(request.headers):  # before any key is read or failure counted
                    raise wire.TwilioError(*wire.CROSS_SITE)
                api = get_api()
                authorization = request.headers.get("authorization")
                principal = api.authenticator.authenticate(authorization, client_ip(request))
                if principal is None:
                    raise wire.TwilioError(*wire.UNAUTHENTICATED)
                if account:
                    return view(api, principal, *args, **kwargs)
                if not principal.may(kwargs.get("sid")):
                    raise wire.TwilioError(*wire.NOT_PERMITTED)
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

    def answers(view: Callable[..., Response]) -> Callable[..., Response]:
        """A Service's route: its ``sid`` must be one of the credential's Services."""
        return door(view, account=False)

    def account_wide(view: Callable[..., Response]) -> Callable[..., Response]:
        """The account's own route: the view gets the principal and keeps to its Services."""
        return door(view, account=True)

    def only_own(principal: Any, query_service: str | None) -> None:
        """An account-wide read (Attempts) by a limited key: one of its Services, named."""
        if principal.services is not None and not principal.may(query_service):
            raise wire.TwilioError(*wire.NOT_PERMITTED)

    def form(json_body: bool = False) -> dict[str, str]:
        """The form; ``json_body``: a start's or check's JSON object too (the same names)."""
        request = bp.current_request
        content_type = request.headers.get("content-type") or ""
        raw = raw_body(request)
        if json_body and raw and content_type.lower().split(";")[0].strip() == "application/json":
            return wire.parse_json_fields(raw)
        return wire.parse_form(raw, content_type)

    def form_lists(*names: str) -> tuple[dict[str, str], dict[str, list[str]]]:
        """The form and its array parameters (``names``, repeated as the SDKs send them)."""
        request = bp.current_request
        return wire.parse_form_lists(raw_body(request), request.headers.get("content-type") or "", names)

    def query() -> dict[str, str]:
        params = bp.current_request.query_params
        return dict(params) if params else {}

    def base() -> str:
        return public_base(bp.current_request)

    @bp.route("/v2/Services", methods=["POST"], content_types=_FORMS)
    @account_wide
    def create_service(api: Any, principal: Any) -> Response:
        if principal.services is not None:  # a new Service is the account's: no limited key makes one
            raise wire.TwilioError(*wire.NOT_PERMITTED)
        return wire.json_answer(api.create_service(form(), base()), 201)

    @bp.route("/v2/Services", methods=["GET"], content_types=_FORMS)
    @account_wide
    def list_services(api: Any, principal: Any) -> Response:
        items = [api.service_body(s, base()) for s in api.catalog.all() if principal.may(s.sid)]
        return wire.json_answer(api.page("services", items, query(), base(), "/v2/Services"))

    @bp.route("/v2/Services/{sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_service(api: Any, sid: str) -> Response:
        return wire.json_answer(api.service_body(api.app(sid)[0], base()))

    @bp.route("/v2/Services/{sid}", methods=["POST"], content_types=_FORMS)
    @account_wide
    def update_service(api: Any, principal: Any, sid: str) -> Response:
        if not principal.may(sid):
            raise wire.TwilioError(*wire.NOT_PERMITTED)
        # A key limited to its Services updates them, but turns no defence off (RiskCheckOptOutEnabled).
        return wire.json_answer(api.update_service(sid, form(), base(), account=principal.services is None))

    @bp.route("/v2/Services/{sid}", methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_service(api: Any, sid: str) -> Response:
        api.delete_service(sid)
        return wire.no_content()

    @bp.route("/v2/Services/{sid}/Verifications", methods=["POST"], content_types=_FORMS)
    @answers
    def create_verification(api: Any, sid: str) -> Response:
        return wire.json_answer(api.start(sid, form(json_body=True), base()), 201)

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
        return wire.json_answer(api.check(sid, form(json_body=True)))

    @bp.route("/v2/Attempts", methods=["GET"], content_types=_FORMS)
    @account_wide
    def list_attempts(api: Any, principal: Any) -> Response:
        only_own(principal, query().get("VerifyServiceSid"))
        return wire.json_answer(api.attempts.list(query(), base()))

    # One route for both (API Gateway and Chalice's local router would have to rank them).
    @bp.route("/v2/Attempts/{sid}", methods=["GET"], content_types=_FORMS)
    @account_wide
    def fetch_attempt_or_summary(api: Any, principal: Any, sid: str) -> Response:
        if sid == "Summary":
            only_own(principal, query().get("VerifyServiceSid"))
            return wire.json_answer(api.attempts.summary(query(), base()))
        attempt = api.attempts.fetch(sid, base())
        if not principal.may(attempt.get("service_sid")):  # another Service's: as if none (no probe)
            raise wire.not_found()
        return wire.json_answer(attempt)

    totp_routes(bp, answers, form, base)
    passkey_routes(bp, answers, base)
    rate_limit_routes(bp, answers, form, query, base)
    webhook_routes(bp, answers, form_lists, query, base)
    resource_routes(bp, answers, account_wide, form, query, base)

    # A route's path with another method: Twilio's 405 20004 with Allow (unserved.py), from the
    # function on API Gateway as locally (those methods are routes too, so API Gateway's own
    # answer, v1's shape, never comes to a /v2 path). Like the catch-all, whatever the
    # credentials: no key is read (nothing is there), nothing of the request is repeated.
    def method_not_allowed(allowed: list[str]) -> Callable[..., Response]:
        def view(**_: str) -> Response:
            from chalicelib.twilio_v2 import unserved

            return unserved.method_not_allowed(allowed).response()

        return view

    for index, (path, methods) in enumerate(sorted(bp.methods.items())):
        allowed, other = sorted(methods), [method for method in _ANY if method not in methods]
        if other:  # the catch-all has every method
            bp.route(path, methods=other, content_types=["*/*"], name=f"method_not_allowed_{index}")(
                method_not_allowed(allowed))

    # Every other path under /v2: API Gateway's greedy resource (a route Chalice deploys as it
    # is, scripts/deploy/package_template.py declares its parameter) and scripts/local/gateway.py
    # locally. Twilio's 404 (or, for an operation of Twilio's document not offered here, its
    # 20404 with the reason, or 20004 for a method the document does not give that path:
    # unserved.py) whatever the credentials: no key is read for a path that is no route, and
    # nothing of the request is repeated. A wrong method on a route's own path is one of the
    # 405 views above, never this.
    @bp.route("/v2/{proxy+}", methods=_ANY, content_types=["*/*"])
    def no_such_resource() -> Response:
        from chalicelib.twilio_v2 import unserved

        request = bp.current_request
        proxy = (request.uri_params or {}).get("proxy") or ""
        return unserved.answer(request.method, "/v2/" + proxy).response()

    return bp
