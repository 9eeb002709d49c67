"""Authenticator apps (TOTP): the server door, behind IAM. A Chalice blueprint that app.py
registers with its lazy ``get_totp`` factory (this module never imports app.py)."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import SERVER_DOOR, domain_errors, json_response, raw_body


def totp_routes(get_totp: Callable[[], Any]) -> Blueprint:
    """The /v1/totp routes; ``get_totp`` builds the TotpService on first use."""
    bp = Blueprint(__name__)

    @bp.route("/v1/totp/factors", methods=["POST"], authorizer=SERVER_DOOR)
    @domain_errors
    def enroll_totp_factor() -> Response:
        from chalicelib.totp.service import DIGITS, PERIOD, ALGORITHM, parse_enroll_request

        enrollment = get_totp().enroll(*parse_enroll_request(raw_body(bp.current_request)))
        return json_response({"id": enrollment.factor.id, "identity": enrollment.identity,
                              "status": "unverified", "secret": enrollment.secret, "uri": enrollment.uri,
                              "qr_svg": enrollment.qr_svg, "digits": DIGITS, "period": PERIOD,
                              "algorithm": ALGORITHM}, 201)

    @bp.route("/v1/totp/factors/{factor_id}/verify", methods=["POST"], authorizer=SERVER_DOOR)
    @domain_errors
    def verify_totp_factor(factor_id: str) -> Response:
        from chalicelib.totp.service import parse_code_request

        request = parse_code_request(raw_body(bp.current_request), challenge=False)
        return json_response({"id": get_totp().confirm(factor_id, request).id, "status": "verified"})

    @bp.route("/v1/totp/factors/{factor_id}/enable", methods=["POST"], authorizer=SERVER_DOOR)
    @domain_errors
    def enable_totp_factor(factor_id: str) -> Response:
        """Re-enable a factor suspended after too many wrong codes (its count restarts)."""
        from chalicelib.totp.service import factor_body

        return json_response(factor_body(get_totp().reinstate(factor_id)))

    @bp.route("/v1/totp/challenges", methods=["POST"], authorizer=SERVER_DOOR)
    @domain_errors
    def totp_challenge() -> Response:
        from chalicelib.totp.service import parse_code_request

        request = parse_code_request(raw_body(bp.current_request), challenge=True)
        factor_id, receipt = get_totp().challenge(request)
        return json_response({"status": "approved", "factor_id": factor_id, "receipt": receipt})

    @bp.route("/v1/totp/factors", methods=["GET"], authorizer=SERVER_DOOR)
    @domain_errors
    def list_totp_factors() -> Response:
        from chalicelib.totp.service import factor_body, parse_identity

        query = bp.current_request.query_params
        identity = parse_identity(query.get("identity") if query is not None else None)
        factors = [factor_body(f) for f in get_totp().list(identity)]
        return json_response({"identity": identity, "factors": factors})

    @bp.route("/v1/totp/factors/{factor_id}", methods=["DELETE"], authorizer=SERVER_DOOR)
    @domain_errors
    def delete_totp_factor(factor_id: str) -> Response:
        get_totp().delete(factor_id)
        return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})

    return bp
