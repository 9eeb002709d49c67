"""The browser checks of the public door: which pages may call it (Origin, Sec-Fetch-Site,
OTP_ALLOWED_ORIGINS), the CORS answers they get, and the caller's address as API Gateway saw
it. Used by app.py's v1 routes and the seed routes (chalicelib/web/seed.py)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable
from urllib.parse import urlsplit

from chalice import Response

from chalicelib import errors
from chalicelib.config import ConfigError

if TYPE_CHECKING:
    from chalice.app import Request


def _no_origin() -> frozenset[str]:
    return frozenset()


# The origins allowed (OTP_ALLOWED_ORIGINS) come from the configuration the composition root
# hands in (app.py: allow_origins), read per request: the kernel never imports chalicelib/wiring.py.
_allowed_origins: Callable[[], frozenset[str]] = _no_origin


def allow_origins(source: Callable[[], frozenset[str]]) -> None:
    """Where the allowed origins come from (app.py: the container's configuration)."""
    global _allowed_origins
    _allowed_origins = source


def cross_origin_allowed(origin: str) -> bool:
    try:
        return origin in _allowed_origins()
    except ConfigError:
        return False


def _same_origin(request: Request, origin: str) -> bool:
    host = (request.headers.get("host") or "").lower()
    return bool(host) and urlsplit(origin).netloc == host


def refuse_foreign_pages(request: Request) -> None:
    """A public POST from a browser must come from this API's own page or an allowed origin.

    Browsers name the page that makes a request (Origin on every POST, Sec-Fetch-Site in
    current browsers); a form or a no-cors fetch on another site would otherwise send SMS from
    its visitors' browsers. Apps and servers send neither header and pass."""
    headers = request.headers
    origin = (headers.get("origin") or "").lower()
    if origin:
        if _same_origin(request, origin) or cross_origin_allowed(origin):
            return
        raise errors.OriginNotAllowed()
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise errors.OriginNotAllowed()


def add_cors_headers(headers: Any, response: Response) -> None:
    """Lets a page on an allowed origin read the answer (errors included); no header at all
    for any other origin, so the browser keeps the answer from it."""
    origin = (headers.get("origin") or "").lower()
    response.headers = {**response.headers, "Vary": "Origin"}
    if origin and cross_origin_allowed(origin):
        response.headers.update({"Access-Control-Allow-Origin": origin,
                                 "Access-Control-Expose-Headers": "Retry-After"})


View = Callable[..., Response]


def json_only(current_request: Callable[[], Request]) -> Callable[[View], View]:
    """v1 POSTs take exactly ``application/json``: a type no page on another site can send
    without a CORS preflight (text/plain, forms and a body without a type can be). Chalice's
    own check would take a missing type, ``*/*`` or ``text/plain;application/json``."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            request = current_request()
            content_type = request.headers.get("content-type") or ""
            if content_type.split(";", 1)[0].strip().lower() != "application/json":
                raise errors.UnsupportedMediaType()
            refuse_foreign_pages(request)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def preflight(request: Request, api_key_required: bool) -> Response:
    origin = (request.headers.get("origin") or "").lower()
    if not origin or not cross_origin_allowed(origin):
        raise errors.OriginNotAllowed()
    allowed_headers = "content-type, x-api-key" if api_key_required else "content-type"
    return Response(body="", status_code=204, headers={
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": allowed_headers,
        "Access-Control-Max-Age": "600",
        "Cache-Control": "no-store",
    })


def client_ip(request: Request) -> str:
    """API Gateway's view of the caller, never a header the client controls (X-Forwarded-For)."""
    identity = (request.context or {}).get("identity") or {}
    return str(identity.get("sourceIp") or "unknown")
