"""What the resources kept in a Service's own item share (Rate Limits and their Buckets, Webhooks,
Messaging Configurations): the clock, the Service they belong to (20404 when there is none; the
default Service has none of them: it is the stage's configuration) and the one compare-and-set
change of that item (20429 when it is lost to concurrent updates)."""

from __future__ import annotations

from typing import Any

from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.services import ServiceSettings


class ServiceResources:
    WHAT = "these resources"  # each subclass's own, in the default Service's 60200

    def __init__(self, api: Any) -> None:
        self._api = api

    def _now(self) -> int:
        return int(self._api._service.now())

    def _service(self, sid: str) -> ServiceSettings:
        service = self._api._settings(sid)  # 20404 for no such Service
        if service.default:
            raise wire.invalid("Sid", "the default Service is the stage's configuration (OTP_* variables): "
                                      f"make a Service for {self.WHAT}")
        return service

    def _change(self, sid: str, apply: Any) -> ServiceSettings:
        from chalicelib.twilio_v2.services import ConcurrentUpdate

        self._service(sid)
        try:
            service = self._api.catalog.change(sid, apply)
        except ConcurrentUpdate:
            raise wire.TwilioError(20429, 429, "The Service is being updated by another request", 1) from None
        if service is None:
            raise wire.not_found("The Service")
        return service
