"""The web page at /, its static files (static/), the local inbox and the seed-compatible routes.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

__all__: list[str] = []  # another capability takes nothing from here
