"""Delivery events of the email and WhatsApp channels that come through SNS: SES's
configuration set and End User Messaging Social's event destination publish to SNS topics,
whose subscriptions invoke this function (docs/channels.md). A Chalice blueprint that app.py
registers when OTP_EMAIL_EVENTS_TOPIC or OTP_WHATSAPP_EVENTS_TOPIC is set (read at import:
Chalice binds a trigger to its topic at definition, like the events queue).

No signature to check: only the topic's subscription can invoke the function (the Lambda
permission names the topic), and an event names its send by the reference the send carried,
which only this server can make (a forged or stale one changes nothing)."""

from __future__ import annotations

import logging
from typing import Any, Callable

from chalice import Blueprint

log = logging.getLogger("verify")


def channel_event_routes(
    get_service: Callable[[], Any], email_topic: str | None, whatsapp_topic: str | None
) -> Blueprint:
    bp = Blueprint(__name__)

    def apply(provider: str, message: str) -> None:
        """Never raises for an event it cannot use: SNS would retry it, to no avail."""
        delivery = get_service().delivery
        if delivery is None:
            return
        changed = delivery.receive_published(provider, message)
        log.info("%s event applied changed=%d", provider, changed)

    if email_topic:

        @bp.on_sns_message(topic=email_topic)
        def email_events(event: Any) -> None:
            apply("ses", event.message)

    if whatsapp_topic:

        @bp.on_sns_message(topic=whatsapp_topic)
        def whatsapp_events(event: Any) -> None:
            apply("end-user-messaging-social", event.message)

    return bp
