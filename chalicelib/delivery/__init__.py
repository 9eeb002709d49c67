"""Delivery receipts: providers' callbacks (callbacks/), the tracker that records them, their routes.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.delivery.tracker import DeliveryReport as DeliveryReport
    from chalicelib.delivery.tracker import DeliveryTracker as DeliveryTracker
    from chalicelib.delivery.tracker import gatewayapi_fields as gatewayapi_fields
    from chalicelib.delivery.tracker import messagebird_fields as messagebird_fields
    from chalicelib.delivery.tracker import plivo_fields as plivo_fields
    from chalicelib.delivery.tracker import sinch_fields as sinch_fields
    from chalicelib.delivery.tracker import twilio_fields as twilio_fields
    from chalicelib.delivery.tracker import vonage_fields as vonage_fields
    from chalicelib.delivery.callbacks import STATUS_RANK as STATUS_RANK
    from chalicelib.delivery.callbacks import UNDELIVERED as UNDELIVERED

_EXPORTS = {
    "DeliveryReport": "chalicelib.delivery.tracker",
    "DeliveryTracker": "chalicelib.delivery.tracker",
    "gatewayapi_fields": "chalicelib.delivery.tracker",
    "messagebird_fields": "chalicelib.delivery.tracker",
    "plivo_fields": "chalicelib.delivery.tracker",
    "sinch_fields": "chalicelib.delivery.tracker",
    "twilio_fields": "chalicelib.delivery.tracker",
    "vonage_fields": "chalicelib.delivery.tracker",
    "STATUS_RANK": "chalicelib.delivery.callbacks",
    "UNDELIVERED": "chalicelib.delivery.callbacks",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
