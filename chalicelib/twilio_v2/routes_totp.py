"""The /v2 TOTP routes (Entities, Factors, Challenges) on the v2 blueprint (routes.py), behind
the same HTTP Basic check and error mapping (``answers``)."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.twilio_v2 import wire

_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
_ENTITY = "/v2/Services/{sid}/Entities/{identity}"


def totp_routes(bp: Blueprint, answers: Callable[..., Any], form: Callable[[], dict[str, str]],
                base: Callable[[], str]) -> None:
    @bp.route("/v2/Services/{sid}/Entities", methods=["POST"], content_types=_FORMS)
    @answers
    def create_entity(api: Any, sid: str) -> Response:
        fields = form()
        if set(fields) - {"Identity"}:
            raise wire.invalid(sorted(set(fields) - {"Identity"})[0], "not supported by this service")
        return wire.json_answer(api.totp.entity(sid, fields.get("Identity") or "", base(), created=True), 201)

    @bp.route("/v2/Services/{sid}/Entities", methods=["GET"], content_types=_FORMS)
    @answers
    def list_entities(api: Any, sid: str) -> Response:
        items = api.totp.entities(sid, base())
        return wire.json_answer(api.page("entities", items, _query(), base(), f"/v2/Services/{sid}/Entities"))

    @bp.route(_ENTITY, methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_entity(api: Any, sid: str, identity: str) -> Response:
        api.totp.delete_entity(sid, identity)
        return wire.no_content()

    @bp.route(_ENTITY, methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_entity(api: Any, sid: str, identity: str) -> Response:
        return wire.json_answer(api.totp.entity(sid, identity, base(), created=False))

    @bp.route(_ENTITY + "/Factors", methods=["POST"], content_types=_FORMS)
    @answers
    def create_factor(api: Any, sid: str, identity: str) -> Response:
        return wire.json_answer(api.totp.create_factor(sid, identity, form(), base()), 201)

    @bp.route(_ENTITY + "/Factors", methods=["GET"], content_types=_FORMS)
    @answers
    def list_factors(api: Any, sid: str, identity: str) -> Response:
        items = api.totp.factors(sid, identity, base())
        path = f"/v2/Services/{sid}/Entities/{identity}/Factors"
        return wire.json_answer(api.page("factors", items, _query(), base(), path))

    @bp.route(_ENTITY + "/Factors/{factor_sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_factor(api: Any, sid: str, identity: str, factor_sid: str) -> Response:
        return wire.json_answer(api.totp.fetch_factor(sid, identity, factor_sid, base()))

    @bp.route(_ENTITY + "/Factors/{factor_sid}", methods=["POST"], content_types=_FORMS)
    @answers
    def verify_factor(api: Any, sid: str, identity: str, factor_sid: str) -> Response:
        return wire.json_answer(api.totp.verify_factor(sid, identity, factor_sid, form(), base()))

    @bp.route(_ENTITY + "/Factors/{factor_sid}", methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_factor(api: Any, sid: str, identity: str, factor_sid: str) -> Response:
        api.totp.delete_factor(sid, identity, factor_sid)
        return wire.no_content()

    @bp.route(_ENTITY + "/Challenges", methods=["POST"], content_types=_FORMS)
    @answers
    def create_challenge(api: Any, sid: str, identity: str) -> Response:
        return wire.json_answer(api.totp.challenge(sid, identity, form(), base()), 201)

    @bp.route(_ENTITY + "/Challenges", methods=["GET"], content_types=_FORMS)
    @answers
    def list_challenges(api: Any, sid: str, identity: str) -> Response:
        query = _query()
        items = api.totp.challenges(sid, identity, query, base())
        path = f"/v2/Services/{sid}/Entities/{identity}/Challenges"
        return wire.json_answer(api.page("challenges", items, query, base(), path))

    @bp.route(_ENTITY + "/Challenges/{challenge_sid}", methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_challenge(api: Any, sid: str, identity: str, challenge_sid: str) -> Response:
        return wire.json_answer(api.totp.fetch_challenge(sid, identity, challenge_sid, base()))

    @bp.route(_ENTITY + "/Challenges/{challenge_sid}", methods=["POST"], content_types=_FORMS)
    @answers
    def update_challenge(api: Any, sid: str, identity: str, challenge_sid: str) -> Response:
        return wire.json_answer(api.totp.update_challenge(sid, identity, challenge_sid, form(), base()))

    def _query() -> dict[str, str]:
        params = bp.current_request.query_params
        return dict(params) if params else {}
