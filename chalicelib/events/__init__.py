"""Events to the deployment's backend: the table stream read, signed (Standard Webhooks) and POSTed.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.events.posting import LOCAL_EVENTS as LOCAL_EVENTS

_EXPORTS = {
    "LOCAL_EVENTS": "chalicelib.events.posting",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
