"""The /v2 routes of Twilio's Safe List (safe_list.py), a Service's Messaging Configurations
(messaging.py) and the Templates (templates.py), on the v2 blueprint (routes.py), behind the
same door: HTTP Basic, the credential's Services, Twilio's error shape."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.twilio_v2 import wire

_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
_SAFE = "/v2/SafeList/Numbers"
_NUMBER = _SAFE + "/{phone_number}"


def _account_only(principal: Any) -> None:
    """The account's own resource (the Safe List): no key limited to some Services."""
    if principal.services is not None:
        raise wire.TwilioError(*wire.NOT_PERMITTED)


def resource_routes(bp: Blueprint, answers: Callable[..., Any], account_wide: Callable[..., Any],
                    form: Callable[[], dict[str, str]], query: Callable[[], dict[str, str]],
                    base: Callable[[], str]) -> None:
    @bp.route(_SAFE, methods=["POST"], content_types=_FORMS)
    @account_wide
    def create_safe_number(api: Any, principal: Any) -> Response:
        _account_only(principal)
        return wire.json_answer(api.safe_list.create(form(), base()), 201)

    @bp.route(_NUMBER, methods=["GET"], content_types=_FORMS)
    @account_wide
    def fetch_safe_number(api: Any, principal: Any, phone_number: str) -> Response:
        _account_only(principal)
        return wire.json_answer(api.safe_list.fetch(phone_number, base()))

    @bp.route(_NUMBER, methods=["DELETE"], content_types=_FORMS)
    @account_wide
    def delete_safe_number(api: Any, principal: Any, phone_number: str) -> Response:
        _account_only(principal)
        api.safe_list.delete(phone_number)
        return wire.no_content()

    configurations = "/v2/Services/{sid}/MessagingConfigurations"
    configuration = configurations + "/{country}"

    @bp.route(configurations, methods=["POST"], content_types=_FORMS)
    @answers
    def create_messaging_configuration(api: Any, sid: str) -> Response:
        return wire.json_answer(api.messaging.create(sid, form(), base()), 201)

    @bp.route(configurations, methods=["GET"], content_types=_FORMS)
    @answers
    def list_messaging_configurations(api: Any, sid: str) -> Response:
        return wire.json_answer(api.messaging.list(sid, query(), base()))

    @bp.route(configuration, methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_messaging_configuration(api: Any, sid: str, country: str) -> Response:
        return wire.json_answer(api.messaging.fetch(sid, country, base()))

    @bp.route(configuration, methods=["POST"], content_types=_FORMS)
    @answers
    def update_messaging_configuration(api: Any, sid: str, country: str) -> Response:
        return wire.json_answer(api.messaging.update(sid, country, form(), base()))

    @bp.route(configuration, methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_messaging_configuration(api: Any, sid: str, country: str) -> Response:
        api.messaging.delete(sid, country)
        return wire.no_content()

    @bp.route("/v2/Templates", methods=["GET"], content_types=_FORMS)
    @account_wide
    def list_templates(api: Any, principal: Any) -> Response:
        return wire.json_answer(api.templates.list(query(), base()))  # the deployment's: any credential
