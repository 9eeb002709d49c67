"""The contract served at /openapi.json: a Chalice blueprint that app.py registers."""

from __future__ import annotations

from typing import Callable

from chalice import Blueprint, Response

from chalicelib.http import domain_errors


def openapi_routes(document_json: Callable[[], str]) -> Blueprint:
    """``document_json``: the document as served (chalicelib/wiring.py openapi_json, cached)."""
    bp = Blueprint(__name__)

    @bp.route("/openapi.json", methods=["GET"])
    @domain_errors
    def openapi() -> Response:
        return Response(body=document_json(), status_code=200,
                        headers={"Content-Type": "application/json", "Cache-Control": "max-age=300"})

    return bp
