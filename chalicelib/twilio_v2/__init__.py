"""Twilio Verify's v2 API over this service's own domain (issue 20): the wire dialect
(wire.py), the Services (services.py), the API keys (credentials.py) and the routes
(routes.py). One domain, two dialects: no rule of the domain is written here again.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

__all__: list[str] = []  # another capability takes nothing from here
