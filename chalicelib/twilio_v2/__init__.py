"""Twilio Verify's v2 API over this service's own domain (issue 20): the wire dialect
(wire.py), the Services (services.py), the API keys (credentials.py) and the routes
(routes.py). One domain, two dialects: no rule of the domain is written here again.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.twilio_v2.wire import TwilioError as TwilioError
    from chalicelib.twilio_v2.wire import from_domain as from_domain
    from chalicelib.twilio_v2.params import CUSTOM_CODE as CUSTOM_CODE

_EXPORTS = {
    "TwilioError": "chalicelib.twilio_v2.wire",
    "from_domain": "chalicelib.twilio_v2.wire",
    "CUSTOM_CODE": "chalicelib.twilio_v2.params",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
