"""The verification use cases: start (or resend), check, look up and cancel.

Each state change is one conditional write in the store; this module decides what the
outcome means for the client and raises the domain's errors.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import secrets
import time
from typing import Callable

from chalicelib import errors
from chalicelib.codes import CodeHasher, new_code, parse_code
from chalicelib.config import Config
from chalicelib.models import (
    CHANNELS,
    CheckRequest,
    SendAttempt,
    StartRequest,
    Verification,
    split_verification_id,
)
from chalicelib.phone import PhoneNumber, parse_phone_number, parse_region, require_reachable
from chalicelib.providers import ProviderError, SmsProvider
from chalicelib.routing import ProviderPool
from chalicelib.store import ConditionFailed, VerificationStore

log = logging.getLogger("verify")

# A start that loses a race (the item changed between our two writes) tries again; each
# try is a fresh read of the item's state through a conditional write, so this terminates.
_START_TRIES = 3


class VerificationService:
    def __init__(
        self,
        config: Config,
        store: VerificationStore,
        providers: ProviderPool,
        hasher: CodeHasher,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._store = store
        self._providers = providers
        self._hasher = hasher
        self._clock = clock
        self._composer = config.composer()

    # -- start / resend -------------------------------------------------------------------

    def start(self, request: StartRequest) -> tuple[Verification, bool]:
        """Send a code; returns the verification and whether it is new (False: a resend)."""
        if request.channel not in CHANNELS:
            raise errors.UnsupportedChannel(
                f"Channel {request.channel!r} is not supported; use one of: {', '.join(CHANNELS)}."
            )
        region = parse_region(request.country, self._config.default_region)
        phone = require_reachable(request.to, region, request.channel)
        chain = self._providers.names(phone.region, request.channel)
        if not chain:
            raise errors.UnsupportedChannel(
                f"No configured provider can reach {phone.region} numbers by {request.channel}."
            )
        number_key = self._hasher.number_key(phone.e164)

        for _ in range(_START_TRIES):
            now = self._clock()
            code = new_code(self._config.code_length)
            # The first write names the chain's first provider; a failover corrects it.
            send = SendAttempt(request.channel, chain[0], int(now * 1000))
            fresh = self._new_verification(phone, number_key, code, now, send)
            try:
                self._store.create(number_key, fresh, int(now))
            except ConditionFailed as exc:
                live = exc.current
                if live is None or live.status(now) not in ("pending", "max_attempts_reached"):
                    continue  # it stopped being live between the two writes: start again
                resent = self._resend(number_key, live, code, now, send)
                if resent is None:
                    continue
                resent = self._deliver(phone, number_key, code, request.locale, resent, previous=live)
                return resent, False
            fresh = self._deliver(phone, number_key, code, request.locale, fresh, previous=None)
            return fresh, True
        raise errors.ServiceError()  # only under a pathological write storm on one number

    def _new_verification(
        self, phone: PhoneNumber, number_key: str, code: str, now: float, send: SendAttempt
    ) -> Verification:
        return Verification(
            id="VE" + number_key + secrets.token_hex(8),
            to=phone.e164,
            channel=send.channel,
            code_mac=self._hasher.code_mac(number_key, code),
            created_at=int(now),
            expires_at=int(now) + self._config.ttl_seconds,
            sent_at_ms=int(now * 1000),
            send_count=1,
            attempts=0,
            max_attempts=self._config.max_check_attempts,
            sends=(send,),
        )

    def _resend(
        self, number_key: str, live: Verification, code: str, now: float, send: SendAttempt
    ) -> Verification | None:
        cfg = self._config
        wanted = dataclasses.replace(
            live,
            code_mac=self._hasher.code_mac(number_key, code),
            sent_at_ms=send.at_ms,
            expires_at=int(now) + cfg.ttl_seconds,
            channel=send.channel,
            sends=(*live.sends, send),
        )
        try:
            return self._store.resend(
                number_key,
                wanted,
                now=int(now),
                min_sent_at_ms=int(now * 1000) - cfg.resend_interval_seconds * 1000,
                max_sends=cfg.max_sends,
            )
        except ConditionFailed as exc:
            current = exc.current
            if current is None or current.id != live.id:
                return None  # replaced or deleted meanwhile: start again
            status = current.status(now)
            if status == "max_attempts_reached":
                raise errors.MaxAttemptsReached(retry_after=_seconds_until(current.expires_at, now))
            if status != "pending":
                return None
            if current.send_count >= cfg.max_sends:
                raise errors.TooManySends(retry_after=_seconds_until(current.expires_at, now))
            ready_at = current.sent_at_ms / 1000 + cfg.resend_interval_seconds
            raise errors.ResendTooSoon(retry_after=_seconds_until(ready_at, now))

    def _deliver(
        self,
        phone: PhoneNumber,
        number_key: str,
        code: str,
        locale: str,
        verification: Verification,
        previous: Verification | None,
    ) -> Verification:
        """Try the chain in order with the same code; undo the write if nothing took it."""
        channel = verification.channel
        payload = (
            self._composer.sms(code, locale) if channel == "sms" else self._composer.voice(code, locale)
        )
        permanent: ProviderError | None = None
        for provider in self._providers.chain(phone.region, channel):
            started = time.perf_counter()
            try:
                message_id = self._send(provider, phone, channel, payload)
            except ProviderError as exc:
                log.warning(
                    "send failed id=%s to=%s channel=%s provider=%s permanent=%s detail=%s",
                    verification.id, phone.masked, channel, provider.name, exc.permanent, exc.detail,
                )
                if exc.permanent:
                    permanent = exc
                    break
                continue
            log.info(
                "sent id=%s to=%s channel=%s provider=%s message_id=%s send_count=%d latency_ms=%.0f",
                verification.id, phone.masked, channel, provider.name, message_id,
                verification.send_count, (time.perf_counter() - started) * 1000,
            )
            if provider.name != verification.provider:
                self._store.record_provider(number_key, verification, provider.name)
                last = dataclasses.replace(verification.sends[-1], provider=provider.name)
                verification = dataclasses.replace(
                    verification, sends=(*verification.sends[:-1], last)
                )
            return verification
        # Give back the send and the resend interval: nothing half-written blocks a retry.
        self._store.undo_send(number_key, verification, previous)
        if permanent is not None:
            raise errors.UndeliverableNumber()
        raise errors.DeliveryFailed()

    @staticmethod
    def _send(provider: SmsProvider, phone: PhoneNumber, channel: str, payload: object) -> str:
        try:
            if channel == "voice":
                return provider.call(phone, payload)  # type: ignore[arg-type]
            return provider.send_sms(phone, payload)  # type: ignore[arg-type]
        except ProviderError:
            raise
        except Exception as exc:  # a bug in an adapter must not skip the undo or the failover
            log.exception("provider %s raised", provider.name)
            raise ProviderError(provider.name, permanent=False, detail=type(exc).__name__) from None

    # -- check ----------------------------------------------------------------------------

    def check(self, request: CheckRequest) -> Verification:
        # Format first: a malformed code is refused before it can use up an attempt.
        code = parse_code(request.code, self._config.code_length)
        if request.verification_id is not None:
            number_key = split_verification_id(request.verification_id)
        else:
            region = parse_region(request.country, self._config.default_region)
            phone = parse_phone_number(request.to, region)
            number_key = self._hasher.number_key(phone.e164)

        now = self._clock()
        guess_mac = self._hasher.code_mac(number_key, code)
        try:
            verification = self._store.record_check(
                number_key, request.verification_id, guess_mac, int(now)
            )
        except ConditionFailed as exc:
            current = exc.current
            if current is None or (
                request.verification_id is not None and current.id != request.verification_id
            ):
                raise errors.VerificationNotFound() from None
            if current.status(now) == "max_attempts_reached":
                raise errors.MaxAttemptsReached(
                    retry_after=_seconds_until(current.expires_at, now)
                ) from None
            raise errors.VerificationNotFound() from None

        if verification.approved:  # hmac.compare_digest of the two MACs
            log.info("approved id=%s attempts=%d", verification.id, verification.attempts)
            return verification
        log.info(
            "incorrect code id=%s attempts_remaining=%d",
            verification.id, verification.attempts_remaining,
        )
        raise errors.IncorrectCode(attempts_remaining=verification.attempts_remaining)

    # -- look up / cancel -----------------------------------------------------------------

    def get(self, verification_id: str) -> Verification:
        number_key = split_verification_id(verification_id)
        verification = self._store.get(number_key)
        if verification is None or verification.id != verification_id:
            raise errors.VerificationNotFound()
        return verification

    def cancel(self, verification_id: str) -> Verification:
        number_key = split_verification_id(verification_id)
        try:
            return self._store.cancel(number_key, verification_id, int(self._clock()))
        except ConditionFailed as exc:
            if exc.current is None or exc.current.id != verification_id:
                raise errors.VerificationNotFound() from None
            raise errors.NotPending(status=exc.current.status(self._clock())) from None

    def now(self) -> float:
        return self._clock()

    @property
    def resend_interval(self) -> int:
        return self._config.resend_interval_seconds


def _seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))
