"""The identity platforms' hooks (docs/identity-platforms.md): a Chalice blueprint that
app.py registers, one route per platform in that platform's own format, each a custom-code
start of the Service the operator named for it (core.py). A platform whose hook is not
configured (no OTP_HOOK_<PLATFORM>_SECRET[_PARAMETER]) gets 404 there, as for no route.

No API Gateway authorizer: the platform's own signature or token is the door, checked on the
raw body before anything is parsed."""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import raw_body

log = logging.getLogger("verify")
_JSON = ["application/json"]


def hook_routes(get_hooks: Callable[[], Any]) -> Blueprint:
    bp = Blueprint(__name__)

    def answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        fixed = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        return Response(body=json.dumps(body), status_code=status, headers={**fixed, **(headers or {})})

    def run(platform: str, handle: Callable[[Any, Any, bytes], tuple[int, dict[str, Any], dict[str, str]]],
            unavailable: Callable[[], dict[str, Any]]) -> Response:
        from chalicelib.config import ConfigError
        from chalicelib.dynamodb import StoreUnavailable
        from chalicelib.errors import ServiceUnavailable

        request = bp.current_request
        try:
            hooks = get_hooks()
            if not hooks.enabled(platform):
                return answer(404, {"error": {"code": "not_found", "message": "No such resource."}})
            return answer(*handle(hooks, request.headers, raw_body(request)))
        except (StoreUnavailable, ServiceUnavailable) as exc:
            log.error("hook %s: store or parameters unavailable: %s", platform, exc)
            return answer(503, unavailable(), {"retry-after": "1"})
        except ConfigError as exc:
            log.error("hook %s: configuration error: %s", platform, exc)
            return answer(500, unavailable())

    @bp.route("/v1/hooks/supabase/send-sms", methods=["POST"], content_types=_JSON)
    def supabase_send_sms() -> Response:
        from chalicelib.hooks import supabase

        return run("supabase", supabase.send_sms,
                   lambda: supabase.error(503, "The SMS service is unavailable; try again"))

    @bp.route("/v1/hooks/logto/sms", methods=["POST"], content_types=_JSON)
    def logto_sms() -> Response:
        from chalicelib.hooks import logto, plain

        return run("logto", logto.send_sms, lambda: plain.error("unavailable", "Try again"))

    @bp.route("/v1/hooks/zitadel/sms", methods=["POST"], content_types=_JSON)
    def zitadel_sms() -> Response:
        from chalicelib.hooks import plain, zitadel

        return run("zitadel", zitadel.send_sms, lambda: plain.error("unavailable", "Try again"))

    return bp
