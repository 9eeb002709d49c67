"""Delivery receipts from providers: public, each authenticated by its provider's signature
(chalicelib/delivery/tracker.py). A Chalice blueprint that app.py registers with its lazy
``get_service`` factory (this module never imports app.py)."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib import errors
from chalicelib.http import domain_errors, json_response, raw_body


def delivery_routes(get_service: Callable[[], Any]) -> Blueprint:
    bp = Blueprint(__name__)

    @bp.route("/v1/callbacks/{provider}", methods=["POST", "GET"],
              content_types=["application/x-www-form-urlencoded", "application/json", "text/plain"])
    @domain_errors
    def provider_callback(provider: str) -> Response:
        request = bp.current_request
        service = get_service()
        if service.delivery is None:
            raise errors.NotFound()
        params = request.query_params
        if provider == "meta" and request.method == "GET":  # Meta's webhook verification
            challenge = service.delivery.handshake(provider, dict(params or {}))
            return Response(body=challenge, status_code=200, headers={"Content-Type": "text/plain"})
        query = tuple((k, v) for k in (params or {}) for v in params.getlist(k)) if params else ()
        changed = service.delivery.receive(provider, request.method, query, dict(request.headers),
                                           raw_body(request), service.now())
        return json_response({"received": True, "changed": changed})

    return bp
