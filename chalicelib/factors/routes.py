"""The receipts' public keys at /.well-known/jwks.json: a Chalice blueprint that app.py registers."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import domain_errors, json_response


def receipt_routes(get_receipts: Callable[[], Any]) -> Blueprint:
    """``get_receipts``: the container's ReceiptSigner (chalicelib/factors/receipts.py)."""
    bp = Blueprint(__name__)

    @bp.route("/.well-known/jwks.json", methods=["GET"])
    @domain_errors
    def jwks() -> Response:
        """The receipts' public keys (RFC 7517), every configured key so rotation is seamless."""
        receipts = get_receipts()
        return json_response(receipts.jwks(), headers={"Cache-Control": receipts.cache_control})

    return bp
