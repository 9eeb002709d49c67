"""The /v2 Service Webhooks routes (twilio_v2/webhooks.py) on the v2 blueprint (routes.py),
behind the same HTTP Basic check, the credential's Services and the error mapping
(``answers``: a key limited to other Services gets 20403)."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.twilio_v2 import wire

_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
_WEBHOOKS = "/v2/Services/{sid}/Webhooks"
_WEBHOOK = _WEBHOOKS + "/{webhook_sid}"
FormLists = Callable[..., tuple[dict[str, str], dict[str, list[str]]]]


def webhook_routes(bp: Blueprint, answers: Callable[..., Any], form_lists: FormLists,
                   query: Callable[[], dict[str, str]], base: Callable[[], str]) -> None:
    def form() -> tuple[dict[str, str], list[str]]:
        fields, lists = form_lists("EventTypes")  # an array: the SDKs repeat the name
        return fields, lists.get("EventTypes", [])

    @bp.route(_WEBHOOKS, methods=["POST"], content_types=_FORMS)
    @answers
    def create_webhook(api: Any, sid: str) -> Response:
        return wire.json_answer(api.webhooks.create(sid, *form(), base()), 201)

    @bp.route(_WEBHOOKS, methods=["GET"], content_types=_FORMS)
    @answers
    def list_webhooks(api: Any, sid: str) -> Response:
        return wire.json_answer(api.webhooks.list(sid, query(), base()))

    @bp.route(_WEBHOOK, methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_webhook(api: Any, sid: str, webhook_sid: str) -> Response:
        return wire.json_answer(api.webhooks.fetch(sid, webhook_sid, base()))

    @bp.route(_WEBHOOK, methods=["POST"], content_types=_FORMS)
    @answers
    def update_webhook(api: Any, sid: str, webhook_sid: str) -> Response:
        return wire.json_answer(api.webhooks.update(sid, webhook_sid, *form(), base()))

    @bp.route(_WEBHOOK, methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_webhook(api: Any, sid: str, webhook_sid: str) -> Response:
        api.webhooks.delete(sid, webhook_sid)
        return wire.no_content()
