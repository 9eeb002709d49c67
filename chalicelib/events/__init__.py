"""Events to the deployment's backend: the table stream read, signed (Standard Webhooks) and POSTed.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.events.standard_webhooks import TOLERANCE_SECONDS as TOLERANCE_SECONDS
    from chalicelib.events.standard_webhooks import InvalidWebhook as InvalidWebhook
    from chalicelib.events.standard_webhooks import verify as verify
    from chalicelib.events.posting import LOCAL_EVENTS as LOCAL_EVENTS
    from chalicelib.events.stream import StreamRecordError as StreamRecordError
    from chalicelib.events.stream import changes as changes
    from chalicelib.events.stream import masked as masked

_EXPORTS = {
    "TOLERANCE_SECONDS": "chalicelib.events.standard_webhooks",
    "InvalidWebhook": "chalicelib.events.standard_webhooks",
    "verify": "chalicelib.events.standard_webhooks",
    "LOCAL_EVENTS": "chalicelib.events.posting",
    "StreamRecordError": "chalicelib.events.stream",
    "changes": "chalicelib.events.stream",
    "masked": "chalicelib.events.stream",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
