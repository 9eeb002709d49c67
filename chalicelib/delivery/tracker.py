"""Delivery receipts: what each send hands its provider (a callback URL and a reference), and
what a receipt does when it comes back (one conditional write on the number's item).

Adapters take an optional ``report: DeliveryReport`` keyword and merge the fields for their
API from the functions below (the names each provider documents). An adapter says it takes
the keyword with ``delivery_reports = True``; others are called as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from chalicelib import errors, telemetry
from chalicelib.delivery.callbacks import MAX_BODY_BYTES, SCHEMES, CallbackRequest, InvalidSignature
from chalicelib.delivery.callbacks import NotConfigured, read_receipts
from chalicelib.codes import CodeHasher, log_ref

log = logging.getLogger("verify")

# The reference travels in the callback URL (signed with it) for these providers; the others
# have a reference field of their own that their signature covers.
_REFERENCE_IN_URL = ("twilio", "signalwire", "plivo")
# Receipts that come back over an SNS topic invoking the function (no public URL needed).
PUBLISHED = ("end-user-messaging",)
# The same path for the channels (docs/channels.md): SES's configuration set and End User
# Messaging Social's event destination publish to SNS topics; each send carries its reference
# (SES: the message tag verify_ref; WhatsApp: biz_opaque_callback_data, echoed in statuses).
_PUBLISHED_READERS = {
    "end-user-messaging": "chalicelib.delivery.callbacks.end_user_messaging:read_event",
    "ses": "chalicelib.delivery.callbacks.ses:read_event",
    "end-user-messaging-social": "chalicelib.delivery.callbacks.meta:read_social_event",
}
# Providers whose callback URL is set once in their console (Meta's app dashboard) or that
# publish to SNS: the send carries the reference alone, with or without OTP_PUBLIC_URL.
_REFERENCE_ONLY = frozenset({*_PUBLISHED_READERS, "meta"})


@dataclass(frozen=True)
class DeliveryReport:
    callback_url: str
    reference: str  # CodeHasher.send_reference: no number, no code


def callback_base(public_url: str, provider: str) -> str:
    return f"{public_url.rstrip('/')}/v1/callbacks/{provider}"


def delivery_report(public_url: str, provider: str, reference: str, token_key: bytes) -> DeliveryReport:
    url = callback_base(public_url, provider)
    if provider in _REFERENCE_IN_URL:
        url += "?ref=" + reference
    elif provider == "sinch":  # unsigned by default: a per-deployment secret in the URL
        from chalicelib.delivery.callbacks.sinch import url_token

        url += "?token=" + url_token(token_key)
    return DeliveryReport(url, reference)


# -- what each adapter adds to its request (documented parameter names) ---------------------


def twilio_fields(report: DeliveryReport | None) -> dict[str, str]:
    """Twilio and SignalWire Messages/Calls: form field ``StatusCallback``
    (twilio.com/docs/messaging/api/message-resource#create-a-message-resource)."""
    return {"StatusCallback": report.callback_url} if report else {}


def plivo_fields(report: DeliveryReport | None) -> dict[str, str]:
    """Plivo Send Message: ``url`` and ``method`` (plivo.com/docs/messaging/api/message#send-a-message)."""
    return {"url": report.callback_url, "method": "POST"} if report else {}


def vonage_fields(report: DeliveryReport | None) -> dict[str, str]:
    """Vonage SMS API: ``callback`` (webhook URL for this message's DLR) and ``client-ref``
    (max 100 characters), echoed in the DLR (developer.vonage.com/en/api/sms)."""
    return {"callback": report.callback_url, "client-ref": report.reference} if report else {}


def messagebird_fields(report: DeliveryReport | None) -> dict[str, str]:
    """MessageBird Messages: ``reportUrl`` and ``reference``
    (developers.messagebird.com/api/sms-messaging)."""
    return {"reportUrl": report.callback_url, "reference": report.reference} if report else {}


def sinch_fields(report: DeliveryReport | None) -> dict[str, str]:
    """Sinch batches: ``callback_url``, ``client_reference`` and ``delivery_report``
    (per recipient, final only; developers.sinch.com/docs/sms/api-reference/sms/batches/sendsms)."""
    if not report:
        return {}
    return {
        "callback_url": report.callback_url,
        "client_reference": report.reference,
        "delivery_report": "per_recipient_final",
    }


def gatewayapi_fields(report: DeliveryReport | None) -> dict[str, str]:
    """GatewayAPI /rest/mtsms: ``callback_url`` and ``userref`` (gatewayapi.com/docs/apis/rest)."""
    return {"callback_url": report.callback_url, "userref": report.reference} if report else {}


def end_user_messaging_fields(configuration_set: str | None) -> dict[str, str]:
    """End User Messaging SendTextMessage: ``ConfigurationSetName``; its event destination (an
    SNS topic) carries the delivery events to the ``on_sns_message`` handler: no public URL
    (the reference rides in ``Context``: chalicelib/channels/providers/end_user_messaging.py)."""
    return {"ConfigurationSetName": configuration_set} if configuration_set else {}


# -- receiving ------------------------------------------------------------------------------


class DeliveryTracker:
    def __init__(
        self,
        store: Any,
        hasher: CodeHasher,
        settings: Callable[[], Mapping[str, Mapping[str, str]]],
        public_url: str | None,
        token_key: bytes,
        region_of: Callable[[str], str],
    ) -> None:
        self._store = store
        self._hasher = hasher
        self._settings = settings
        self._public_url = public_url
        self._token_key = token_key
        self._region_of = region_of

    def report_for(
        self, provider: str, verification_id: str, index: int, number_key: str | None = None
    ) -> DeliveryReport | None:
        reference = self._hasher.send_reference(verification_id, index, number_key)
        if provider in _REFERENCE_ONLY:
            return DeliveryReport("", reference)
        if not self._public_url:
            return None
        return delivery_report(self._public_url, provider, reference, self._token_key)

    def receive_published(self, provider: str, message: str) -> int:
        """A delivery event an SNS topic invoked the function with (``app.delivery_status``):
        no signature on that path (IAM lets only that topic invoke); applied like a receipt."""
        import importlib

        if provider not in _PUBLISHED_READERS:
            raise errors.NotFound()
        module_name, _, function = _PUBLISHED_READERS[provider].partition(":")
        return self.apply(provider, getattr(importlib.import_module(module_name), function)(message))

    def handshake(self, provider: str, query: Mapping[str, str]) -> str:
        """Meta's webhook verification GET: the challenge, when the verify token is right."""
        if provider != "meta" or not self._public_url:
            raise errors.NotFound()
        from chalicelib.delivery.callbacks.meta import handshake

        try:
            return handshake(query, self._settings().get(provider, {}))
        except (InvalidSignature, NotConfigured):
            log.warning("callback refused provider=%s reason=handshake", provider)
            raise errors.InvalidCallbackSignature() from None

    def receive(
        self,
        provider: str,
        method: str,
        query: tuple[tuple[str, str], ...],
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> int:
        """Check the request's signature, then apply its receipts; returns how many changed a
        status. Unknown or stale-but-well-signed references change nothing (and answer 200:
        providers retry anything else)."""
        if provider not in SCHEMES or not self._public_url:
            raise errors.NotFound()
        if len(body) > MAX_BODY_BYTES:
            raise errors.PayloadTooLarge()
        request = CallbackRequest(
            method,
            callback_base(self._public_url, provider),
            query,
            {k.lower(): v for k, v in headers.items()},
            body,
            now,
            self._token_key,
        )
        try:
            receipts = read_receipts(provider, request, self._settings().get(provider, {}))
        except (InvalidSignature, NotConfigured) as exc:
            log.warning("callback refused provider=%s reason=%s", provider, type(exc).__name__)
            telemetry.metric("CallbacksRefused", provider=provider)
            raise errors.InvalidCallbackSignature() from None
        return self.apply(provider, receipts)

    def apply(self, provider: str, receipts: list[Any]) -> int:
        """One ranked, monotonic write per receipt (store.record_delivery); how many changed."""
        changed = 0
        for receipt in receipts[:10]:
            target = self._hasher.read_send_reference(receipt.reference)
            if target is None:
                continue
            number_key, verification_id, index = target
            updated = self._store.record_delivery(
                number_key,
                verification_id,
                index,
                provider,
                receipt.status,
                receipt.error_code,
                receipt.permanent,
            )
            if updated is None:
                continue
            changed += 1
            log.info(
                "delivery ref=%s send=%d provider=%s status=%s error_code=%s",
                log_ref(verification_id),
                index,
                provider,
                receipt.status,
                receipt.error_code,
            )
            telemetry.metric(
                "DeliveryReceipts",
                provider=provider,
                country=self._region_of(updated.to),
                status=receipt.status,
            )
        return changed
