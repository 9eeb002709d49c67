"""Sending one code through a provider chain: the same code to each provider in turn until
one takes it; a failover names the provider that did. When none took it, the caller
(chalicelib/verify/service.py) undoes the number's write, unless a provider may have taken it
(``MaybeDelivered``)."""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from chalicelib import errors, telemetry
from chalicelib.codes import log_ref
from chalicelib.dynamodb import StoreUnavailable
from chalicelib.verify.models import Verification
from chalicelib.channels import PhoneNumber

if TYPE_CHECKING:
    from chalicelib.channels import EmailAddress
from chalicelib.channels import Delivery, ProviderError, SmsProvider
from chalicelib.verify.routing import ProviderPool
from chalicelib.verify.store import VerificationStore

if TYPE_CHECKING:
    from chalicelib.delivery import DeliveryTracker
    from chalicelib.channels import MessageComposer

log = logging.getLogger("verify")


class MaybeDelivered(Exception):
    """No provider confirmed the send, but one may have taken it (it timed out answering or
    dropped the connection after the request left): the client gets ``error`` (502, or 422
    when a later provider refused the number for good) and the number's write stays, since
    the user may hold the new code."""

    def __init__(self, error: errors.ServiceError) -> None:
        super().__init__(error.code)
        self.error = error


class ChainSender:
    def __init__(
        self, composer: MessageComposer, providers: ProviderPool, store: VerificationStore,
        delivery: DeliveryTracker | None,
    ) -> None:
        self._composer = composer
        self._providers = providers
        self._store = store
        self._delivery = delivery

    @property
    def composer(self) -> MessageComposer:
        return self._composer

    def with_composer(self, composer: MessageComposer) -> ChainSender:
        return ChainSender(composer, self._providers, self._store, self._delivery)

    def deliver(
        self,
        phone: PhoneNumber | EmailAddress,
        number_key: str,
        code: str,
        locale: str,
        verification: Verification,
        previous: Verification | None,
        order: tuple[str, ...] | None = None,
        chain: list[SmsProvider] | None = None,
    ) -> Verification:
        """Try the chain in order with the same code; undo the write if nothing took it."""
        channel = verification.channel
        payload = self._composer.for_channel(channel, code, locale)
        permanent: ProviderError | None = None
        maybe_delivered = False  # a provider took the request and timed out answering
        index = len(verification.sends) - 1
        if chain is None:
            names = order or self._providers.names(getattr(phone, "region", ""), channel)
            chain = [self._providers.get(name) for name in names]
        for provider in chain:
            started = time.perf_counter()
            # Rehearsals (test numbers failing on purpose) stay out of the provider metrics.
            metric = telemetry.metric if not getattr(provider, "rehearsal", False) else _no_metric
            report = None
            if self._delivery is not None and getattr(provider, "delivery_reports", False):
                report = self._delivery.report_for(provider.name, verification.id, index, number_key)
            delivery = Delivery(phone, channel, payload, locale, code, verification.id, report)
            try:
                message_id = self.send(provider, delivery)
            except ProviderError as exc:
                latency = (time.perf_counter() - started) * 1000
                log.warning(
                    "send failed ref=%s to=%s channel=%s provider=%s permanent=%s detail=%s",
                    log_ref(verification.id), phone.masked, channel, provider.name, exc.permanent,
                    exc.detail,
                )
                maybe_delivered = maybe_delivered or exc.maybe_delivered
                metric("Sends", provider=provider.name, outcome="failed")
                metric("ProviderLatency", latency, "Milliseconds", provider=provider.name)
                if exc.permanent:
                    permanent = exc
                    break
                continue
            latency = (time.perf_counter() - started) * 1000
            log.info(
                "sent ref=%s to=%s channel=%s provider=%s message_id=%s send_count=%d latency_ms=%.0f",
                log_ref(verification.id), phone.masked, channel, provider.name, message_id,
                verification.send_count, latency,
            )
            telemetry.note(provider=provider.name, provider_latency_ms=round(latency, 1))
            metric("Sends", provider=provider.name, outcome="delivered")
            metric("ProviderLatency", latency, "Milliseconds", provider=provider.name)
            if provider.name != verification.provider:
                try:
                    self._store.record_provider(number_key, verification, provider.name)
                except StoreUnavailable as exc:  # the code is out: the request must not fail
                    log.error("provider not recorded ref=%s provider=%s: %s",
                              log_ref(verification.id), provider.name, exc)
                last = dataclasses.replace(verification.sends[-1], provider=provider.name)
                verification = dataclasses.replace(
                    verification, sends=(*verification.sends[:-1], last)
                )
            return verification
        # The caller gives back the send and the resend interval: nothing half-written blocks
        # a retry. Not after a timeout or a dropped connection: the SMS may have gone out, and
        # undoing would bring back the old code while the user holds the new one.
        error = errors.UndeliverableNumber() if permanent is not None else errors.DeliveryFailed()
        if maybe_delivered:
            log.warning("no undo ref=%s: a provider timed out, the code may have been delivered",
                        log_ref(verification.id))
            raise MaybeDelivered(error)
        raise error

    @staticmethod
    def send(provider: SmsProvider, delivery: Delivery) -> str:
        try:
            if hasattr(provider, "deliver"):
                return provider.deliver(delivery)
            # A provider an embedding app put in the pool may implement only send_sms/call.
            extra = {"report": delivery.report} if delivery.report is not None else {}
            if delivery.channel == "voice":
                return provider.call(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]
            if delivery.channel != "sms":  # such a provider has no whatsapp or email method
                raise ProviderError(provider.name, permanent=False,
                                    detail=f"{delivery.channel} not supported")
            return provider.send_sms(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]
        except ProviderError:
            raise
        except Exception as exc:  # a bug in an adapter must not skip the undo or the failover
            log.exception("provider %s raised", provider.name)
            raise ProviderError(provider.name, permanent=False, detail=type(exc).__name__) from None


def _no_metric(*args: object, **dimensions: object) -> None:
    """telemetry.metric's stand-in for rehearsed sends."""
