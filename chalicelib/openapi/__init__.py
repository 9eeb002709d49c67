"""The OpenAPI 3.1 document served at /openapi.json: its paths, schemas and error codes.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

__all__: list[str] = []  # another capability takes nothing from here
