"""The web page served at ``/``: read from chalicelib/static on first request, then cached."""

from __future__ import annotations

import functools
from pathlib import Path

from chalice import Response

_STATIC = Path(__file__).parent / "static"

_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    # The page has no script yet; forms post to this origin only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@functools.cache
def _index_html() -> str:
    return (_STATIC / "index.html").read_text(encoding="utf-8")


def index_page() -> Response:
    return Response(body=_index_html(), status_code=200, headers=_HEADERS)
