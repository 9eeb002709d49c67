"""The /v2 Service Rate Limits and Buckets routes (twilio_v2/rate_limits.py) on the v2
blueprint (routes.py), behind the same HTTP Basic check, the credential's Services and the
error mapping (``answers``: a key limited to other Services gets 20403)."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.twilio_v2 import wire

_FORMS = ["application/x-www-form-urlencoded", "application/json", "text/plain"]
_LIMITS = "/v2/Services/{sid}/RateLimits"
_LIMIT = _LIMITS + "/{rate_limit_sid}"
_BUCKETS = _LIMIT + "/Buckets"
_BUCKET = _BUCKETS + "/{bucket_sid}"


def rate_limit_routes(bp: Blueprint, answers: Callable[..., Any], form: Callable[[], dict[str, str]],
                      query: Callable[[], dict[str, str]], base: Callable[[], str]) -> None:
    @bp.route(_LIMITS, methods=["POST"], content_types=_FORMS)
    @answers
    def create_rate_limit(api: Any, sid: str) -> Response:
        return wire.json_answer(api.rate_limits.create(sid, form(), base()), 201)

    @bp.route(_LIMITS, methods=["GET"], content_types=_FORMS)
    @answers
    def list_rate_limits(api: Any, sid: str) -> Response:
        return wire.json_answer(api.rate_limits.list(sid, query(), base()))

    @bp.route(_LIMIT, methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_rate_limit(api: Any, sid: str, rate_limit_sid: str) -> Response:
        return wire.json_answer(api.rate_limits.fetch(sid, rate_limit_sid, base()))

    @bp.route(_LIMIT, methods=["POST"], content_types=_FORMS)
    @answers
    def update_rate_limit(api: Any, sid: str, rate_limit_sid: str) -> Response:
        return wire.json_answer(api.rate_limits.update(sid, rate_limit_sid, form(), base()))

    @bp.route(_LIMIT, methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_rate_limit(api: Any, sid: str, rate_limit_sid: str) -> Response:
        api.rate_limits.delete(sid, rate_limit_sid)
        return wire.no_content()

    @bp.route(_BUCKETS, methods=["POST"], content_types=_FORMS)
    @answers
    def create_bucket(api: Any, sid: str, rate_limit_sid: str) -> Response:
        return wire.json_answer(api.rate_limits.create_bucket(sid, rate_limit_sid, form(), base()), 201)

    @bp.route(_BUCKETS, methods=["GET"], content_types=_FORMS)
    @answers
    def list_buckets(api: Any, sid: str, rate_limit_sid: str) -> Response:
        return wire.json_answer(api.rate_limits.list_buckets(sid, rate_limit_sid, query(), base()))

    @bp.route(_BUCKET, methods=["GET"], content_types=_FORMS)
    @answers
    def fetch_bucket(api: Any, sid: str, rate_limit_sid: str, bucket_sid: str) -> Response:
        return wire.json_answer(api.rate_limits.fetch_bucket(sid, rate_limit_sid, bucket_sid, base()))

    @bp.route(_BUCKET, methods=["POST"], content_types=_FORMS)
    @answers
    def update_bucket(api: Any, sid: str, rate_limit_sid: str, bucket_sid: str) -> Response:
        resources = api.rate_limits
        return wire.json_answer(resources.update_bucket(sid, rate_limit_sid, bucket_sid, form(), base()))

    @bp.route(_BUCKET, methods=["DELETE"], content_types=_FORMS)
    @answers
    def delete_bucket(api: Any, sid: str, rate_limit_sid: str, bucket_sid: str) -> Response:
        api.rate_limits.delete_bucket(sid, rate_limit_sid, bucket_sid)
        return wire.no_content()
