"""Delivery events of the email channel: SES's configuration set publishes to an SNS topic,
whose subscription invokes this function (docs/channels.md). A Chalice blueprint that app.py
registers when OTP_EMAIL_EVENTS_TOPIC is set (read at import: Chalice binds the trigger to a
topic at definition, like the events queue)."""

from __future__ import annotations

import logging
from typing import Any, Callable

from chalice import Blueprint

log = logging.getLogger("verify")


def channel_event_routes(get_service: Callable[[], Any], email_topic: str) -> Blueprint:
    bp = Blueprint(__name__)

    @bp.on_sns_message(topic=email_topic)
    def email_events(event: Any) -> None:
        """One SES event (bounce, complaint, delivery...) onto its send's status. Never raises
        for an event it cannot use: SNS would retry it, and a retry cannot make it usable."""
        delivery = get_service().delivery
        if delivery is None:
            return
        changed = delivery.receive_sns("ses", event.message)
        log.info("ses event applied changed=%d", changed)

    return bp
