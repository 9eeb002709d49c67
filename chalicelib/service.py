"""The verification use cases: start (or resend), check, look up and cancel.

Each state change is one conditional write in the store; this module decides what the
outcome means for the client and raises the domain's errors.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import time
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.codes import CodeHasher, log_ref, new_code, parse_code
from chalicelib.config import Config
from chalicelib.models import (
    CHANNELS,
    CheckRequest,
    ReceiptBinding,
    SendAttempt,
    StartRequest,
    Verification,
    require_verification_id,
)
from chalicelib.channel_choice import order_after_undelivered
from chalicelib.email_address import EmailAddress, is_email, parse_email
from chalicelib.limits import TRUSTED_FOR_SECONDS, Limiter
from chalicelib.phone import (
    PhoneNumber,
    parse_phone_number,
    parse_region,
    require_reachable,
    test_number,
)
from chalicelib.routing import ProviderPool
from chalicelib.sending import ChainSender, MaybeDelivered
from chalicelib.dynamodb import ConditionFailed, StoreUnavailable
from chalicelib.store import DAY, CheckLimit, VerificationStore, day_of

if TYPE_CHECKING:
    from chalicelib.attempts import AttemptLog
    from chalicelib.delivery import DeliveryTracker

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
        limiter: Limiter,
        clock: Callable[[], float] = time.time,
        *,
        delivery: DeliveryTracker | None = None,
        attempts: AttemptLog | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._providers = providers
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock
        self._sender = ChainSender(config.composer(), providers, store, delivery)
        self._delivery = delivery  # opt-in: its module loads on use
        self._attempts = attempts  # the v2 Attempts list (OTP_ATTEMPTS), or None
        self._scope = ""  # the stage's own app; for_app() gives another app its own keys

    def for_app(self, scope: str, code_length: int, brand: str) -> VerificationService:
        """The same rules for another app on this deployment (a v2 Service): its code length,
        its brand in the message, and its own number keys (``scope``), so its verifications
        never meet another app's. The limits on IPs, prefixes, countries and the budget stay
        shared: one deployment, one bill."""
        config = dataclasses.replace(self._config, code_length=code_length, brand_name=brand)
        app = VerificationService(config, self._store, self._providers, self._hasher, self._limiter,
                                  lambda: self._clock(), delivery=self._delivery, attempts=self._attempts)
        app._scope = scope
        return app

    def _number_key(self, key: str) -> str:
        """The item's key for a number's (or an address's) key, in this app's scope."""
        return self._hasher.number_key(key, self._scope)

    # -- start / resend -------------------------------------------------------------------

    def start(self, request: StartRequest, client_ip: str | None = "unknown") -> tuple[Verification, bool]:
        """Send a code; returns the verification and whether it is new (False: a resend).

        Order: input and country; then two waves of DynamoDB writes, each wave's writes at
        once: (1) the client IP's request count and the number's item (one live
        verification, resend interval, sends, starts per day), (2) the send counters (prefix,
        country, budget); then the send. A refusal after the item's write undoes it.

        Why the IP count shares the first wave with the number's write: a new verification
        then costs two sequential round trips, not three. The IP still refuses before
        anything is sent or kept: when it refuses, a new verification just written is
        removed (``undo_send``, which gives back the day's start), and a resend is never
        written at all (the resend write waits for the IP's answer). The IP counts requests,
        so a request refused later (by the number's item or a send counter) stays counted
        on it, as before.
        """
        cfg = self._config
        if request.channel == "auto":
            request = self._auto(request)
        if request.channel not in CHANNELS:
            raise errors.UnsupportedChannel(
                f"Channel {request.channel!r} is not supported; use one of: {', '.join(CHANNELS)}."
            )
        if request.channel in ("whatsapp", "email") and not cfg.channels.chain(request.channel):
            raise errors.UnsupportedChannel(f"Channel {request.channel!r} is not enabled.")
        phone: PhoneNumber | EmailAddress
        fixed_code = None
        if request.channel == "email":  # an address: per-recipient limits as for a number
            phone = parse_email(request.to)
            region = ""
        else:
            region = parse_region(request.country, cfg.default_region)
            test = test_number(request.to, cfg.test_numbers.code_for)
            if test is not None:
                phone, fixed_code = test
            else:
                phone = require_reachable(request.to, region, request.channel, cfg.limits.sms_special_types)
            region = phone.region
            self._limiter.allow_country(phone)
        telemetry.note(to=phone.masked, channel=request.channel, region=region)
        chain = self._providers.names(region, request.channel)
        if not chain:
            raise errors.UnsupportedChannel(
                f"No configured provider can reach {region} numbers by {request.channel}."
            )
        number_key = self._number_key(phone.key)
        # A test number skips the SMS and the send counters (prefix, country, budget) only:
        # every other limit applies (the IP's count too), and nothing in a response tells it
        # from a real number.
        # None: a backend's call with no end user's address (v2 without DeviceIp) counts no IP.
        ip_count = None
        if client_ip is not None:
            ip_count = concurrency.submit(self._limiter.request_from_ip, client_ip, self._clock())
        try:
            return self._start(phone, number_key, chain, request, fixed_code, ip_count)
        finally:
            if ip_count is not None and not ip_count.done():
                concurrency.wait_quietly(ip_count)  # never leave a write running past the request

    def _start(
        self, phone: PhoneNumber | EmailAddress, number_key: str, chain: tuple[str, ...],
        request: StartRequest, fixed_code: str | None, ip_count: Future[Any] | None,
    ) -> tuple[Verification, bool]:
        cfg = self._config
        checks = self._check_limit()
        for _ in range(_START_TRIES):
            now = self._clock()
            code = fixed_code or new_code(cfg.code_length)
            # The first write names the chain's first provider; a failover corrects it.
            send = SendAttempt(request.channel, chain[0], int(now * 1000))
            fresh = dataclasses.replace(self._new_verification(phone, number_key, code, now, send),
                                        binding=request.binding)
            max_starts = cfg.limits.verifications_per_number_per_day
            try:
                approved_at = self._store.create(number_key, fresh, int(now), max_starts, checks)
                verification, previous, created = fresh, None, True
            except ConditionFailed as exc:
                concurrency.settle(ip_count)  # raises the IP's refusal: nothing of ours was kept
                ip_count = None
                live = exc.current
                if live is None or live.status(now) not in ("pending", "max_attempts_reached"):
                    if _starts_used(exc.item, now, max_starts):
                        raise errors.TooManyVerifications(retry_after=_until_day_end(now)) from None
                    if checks.used(exc.item, now):
                        # No SMS to a number whose guesses are used up: its code could not be checked.
                        raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
                    continue  # it stopped being live between the two writes: start again
                order = order_after_undelivered(live, chain, request.channel)  # 422: permanent
                send = dataclasses.replace(send, provider=order[0])
                resent = self._resend(number_key, live, code, now, send, checks, request.binding)
                if resent is None:
                    continue
                verification, previous, created = resent, live, False
                approved_at = resent.approved_at
            else:
                try:
                    concurrency.settle(ip_count)
                    ip_count = None
                except Exception:
                    self._undo(number_key, fresh, None)  # the IP refused (or failed): remove it
                    raise
            telemetry.note(id=log_ref(verification.id), send_count=verification.send_count)
            try:
                verification = self._send(phone, number_key, code, request, chain, fixed_code,
                                           verification, previous, created, approved_at, now)
            except MaybeDelivered as maybe:  # the user may hold the new code: no undo
                raise maybe.error from None
            except Exception:
                # Anything after the number's write (a send counter refusing or failing, the
                # provider, a bug): nothing was sent, so put back what the write replaced.
                self._undo(number_key, verification, previous)
                raise
            return verification, created
        raise errors.ServiceError()  # only under a pathological write storm on one number

    def _send(
        self, phone: PhoneNumber | EmailAddress, number_key: str, code: str, request: StartRequest,
        chain: tuple[str, ...], fixed_code: str | None, verification: Verification,
        previous: Verification | None, created: bool, approved_at: int | None, now: float,
    ) -> Verification:
        """The send counters, then the provider chain; raises on any refusal or failure
        (the caller undoes the number's write)."""
        cfg = self._config
        if fixed_code:
            log.info("test number ref=%s to=%s: no SMS sent, send counters skipped",
                     log_ref(verification.id), phone.masked)
            telemetry.note(test_number=True)
            fail = cfg.test_numbers.fail_for(phone.key)
            if fail:  # rehearse the chain's failure: 422, failover or 502, nothing sent
                from chalicelib.providers.rehearsal import rehearsal_chain

                verification = self._sender.deliver(
                    phone, number_key, code, request.locale, verification, previous,
                    chain=rehearsal_chain(chain, fail),
                )
            return verification
        # A number approved lately passes the conversion breakers (not the limits).
        trusted = approved_at is not None and now - approved_at < TRUSTED_FOR_SECONDS
        # The send's attempt (v2 Attempts) is written beside the send counters: same wave.
        attempts = self._attempts
        region = phone.region if isinstance(phone, PhoneNumber) else ""  # an address has none
        recording = attempts.record(verification, region, self._scope) if attempts else None
        try:
            self._limiter.reserve_send(phone, now, trusted)
        except Exception:
            if recording is not None:
                recording.cancel()  # a refused send is no attempt: removed beside the undo
            raise
        finally:
            if recording is not None:
                recording.settle()
        order = chain if created else order_after_undelivered(previous, chain, request.channel)
        verification = self._sender.deliver(
            phone, number_key, code, request.locale, verification, previous, order
        )
        telemetry.metric("VerificationsStarted" if created else "Resends")
        return verification

    def _undo(self, number_key: str, failed: Verification, previous: Verification | None) -> None:
        """Put back what a start or resend wrote, for a request that sent nothing. The client
        gets the answer it earned (the refusal, 502) even when this clean-up fails: tried a
        second time when the first fails (its own botocore retries spent), then logged with
        a metric; the item then holds a code nobody received until the resend interval ends
        (see docs/reliability.md)."""
        for attempt in (1, 2):
            try:
                self._store.undo_send(number_key, failed, previous)
                return
            except StoreUnavailable as exc:
                log.error("undo failed ref=%s attempt=%d: %s", log_ref(failed.id), attempt, exc)
        telemetry.metric("UndoFailures")

    def _new_verification(
        self, phone: PhoneNumber | EmailAddress, number_key: str, code: str, now: float, send: SendAttempt
    ) -> Verification:
        return Verification(
            id=self._hasher.verification_id(number_key),
            to=phone.key,
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
        self, number_key: str, live: Verification, code: str, now: float, send: SendAttempt,
        checks: CheckLimit, binding: ReceiptBinding | None = None,
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
        wanted = dataclasses.replace(wanted, binding=binding)
        try:
            return self._store.resend(
                number_key,
                wanted,
                now=int(now),
                min_sent_at_ms=int(now * 1000) - cfg.resend_interval_seconds * 1000,
                max_sends=cfg.max_sends,
                checks=checks,
            )
        except ConditionFailed as exc:
            current = exc.current
            if current is None or current.id != live.id:
                return None  # replaced or deleted meanwhile: start again
            status = current.status(now)
            if status == "max_attempts_reached":
                raise errors.MaxAttemptsReached(retry_after=_seconds_until(current.expires_at, now)) from None
            if status != "pending":
                return None
            if checks.used(exc.item, now):
                raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
            if current.send_count >= cfg.max_sends:
                raise errors.TooManySends(retry_after=_seconds_until(current.expires_at, now)) from None
            ready_at = current.sent_at_ms / 1000 + cfg.resend_interval_seconds
            raise errors.ResendTooSoon(retry_after=_seconds_until(ready_at, now)) from None

    def _auto(self, request: StartRequest) -> StartRequest:
        """Channel "auto": one read of the number's item tells a resend after an undelivered
        send (chalicelib/channel_choice.py). Only a choice: the start's conditional writes
        still decide, so a race at worst picks the channel an instant stale."""
        from chalicelib.channel_choice import auto_channel

        cfg = self._config
        test = test_number(request.to, cfg.test_numbers.code_for)
        phone = test[0] if test else parse_phone_number(request.to, parse_region(request.country,
                                                                                 cfg.default_region))
        live = self._store.get(self._number_key(phone.e164))
        channel = auto_channel(cfg.channels.auto_order(phone.region), live, self._clock())
        return dataclasses.replace(request, channel=channel)

    # -- check ----------------------------------------------------------------------------

    def check(self, request: CheckRequest, client_ip: str | None = "unknown") -> Verification:
        cfg = self._config
        # Format first: a malformed code is refused before it can use up an attempt.
        code = parse_code(request.code, cfg.code_length)
        if request.verification_id is not None:
            number_key = self._number_key_of(request.verification_id)
        elif is_email(request.to):
            number_key = self._number_key(parse_email(request.to).key)
        else:
            region = parse_region(request.country, cfg.default_region)
            test = test_number(request.to, cfg.test_numbers.code_for)
            phone = test[0] if test is not None else parse_phone_number(request.to, region)
            number_key = self._number_key(phone.e164)

        now = self._clock()
        # Test numbers too: a fixed code is the easiest one to guess.
        if client_ip is not None:  # None: a backend's call (v2), no end user's address to count
            self._limiter.check_from_ip(client_ip, now)
        guess_mac = self._hasher.code_mac(number_key, code)
        checks = self._check_limit()
        try:
            verification = self._store.record_check(
                number_key, request.verification_id, guess_mac, int(now), checks
            )
        except ConditionFailed as exc:
            current = exc.current
            if current is None or (
                request.verification_id is not None and current.id != request.verification_id
            ):
                raise errors.VerificationNotFound() from None
            status = current.status(now)
            if status == "max_attempts_reached":
                raise errors.MaxAttemptsReached(
                    retry_after=_seconds_until(current.expires_at, now)
                ) from None
            if status == "pending":  # live and under its attempts: the number's window is used up
                raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
            raise errors.VerificationNotFound() from None

        telemetry.note(id=log_ref(verification.id), attempts=verification.attempts)
        if verification.approved:  # hmac.compare_digest of the two MACs
            log.info("approved ref=%s attempts=%d", log_ref(verification.id), verification.attempts)
            telemetry.metric("Approvals")  # approvals / VerificationsStarted: the conversion rate
            self._record_approval(number_key, verification, now)
            return verification
        log.info(
            "incorrect code ref=%s attempts_remaining=%d",
            log_ref(verification.id), verification.attempts_remaining,
        )
        incorrect = errors.IncorrectCode(attempts_remaining=verification.attempts_remaining)
        incorrect.verification = verification
        raise incorrect

    # -- look up / cancel -----------------------------------------------------------------

    def get(self, verification_id: str) -> Verification:
        number_key = self._number_key_of(verification_id)
        verification = self._store.get(number_key)
        if verification is None or verification.id != verification_id:
            raise errors.VerificationNotFound()
        to = verification.to
        if self._number_key(parse_email(to).key if is_email(to) else to) != number_key:  # another app's
            raise errors.VerificationNotFound()
        return verification

    def cancel(self, verification_id: str) -> Verification:
        number_key = self._number_key_of(verification_id)
        try:
            return self._store.cancel(number_key, verification_id, int(self._clock()))
        except ConditionFailed as exc:
            if exc.current is None or exc.current.id != verification_id:
                raise errors.VerificationNotFound() from None
            raise errors.NotPending(status=exc.current.status(self._clock())) from None

    def approve(self, verification_id: str) -> Verification:
        """Approve a pending verification the backend confirmed another way (v2's
        ``Status=approved``): one write, then the approval's bookkeeping as for a right code."""
        number_key = self._number_key_of(verification_id)
        now = self._clock()
        try:
            verification = self._store.approve(number_key, verification_id, int(now))
        except ConditionFailed as exc:
            current = exc.current
            if current is None or current.id != verification_id:
                raise errors.VerificationNotFound() from None
            if current.approved:  # our own write retried after a lost answer, or a right code first
                return current
            raise errors.NotPending(status=current.status(now)) from None
        self._record_approval(number_key, verification, now)  # events: from the table's stream
        return verification

    def _number_key_of(self, verification_id: object) -> str:
        return self._hasher.number_key_of(require_verification_id(verification_id))

    def _check_limit(self) -> CheckLimit:
        limits = self._config.limits
        return CheckLimit(limits.checks_per_number_per_window, limits.number_check_window_seconds)

    def is_test_number(self, e164: str) -> bool:
        """One of OTP_TEST_NUMBERS (a fixed code, nothing sent): its receipt says so."""
        return self._config.test_numbers.code_for(e164) is not None

    def now(self) -> float:
        return self._clock()

    @property
    def delivery(self) -> DeliveryTracker | None:
        return self._delivery

    @property
    def resend_interval(self) -> int:
        return self._config.resend_interval_seconds


    def _record_approval(self, number_key: str, verification: Verification, now: float) -> None:
        """The number's approval marker (the breakers trust it for TRUSTED_FOR_SECONDS) and,
        unless it is a test number (no send was counted), the breakers' approval counts: the
        writes go out together, one round trip. A failure here must not fail the user's check."""
        writes: list[Callable[[], None]] = [
            functools.partial(self._store.mark_approved, number_key, verification.id, int(now))]
        # An address has no prefix or country for the breakers to count (chalicelib/limits.py).
        region = ""
        if not is_email(verification.to) and not self.is_test_number(verification.to):
            try:
                phone = parse_phone_number(verification.to, self._config.default_region)
                writes += self._limiter.record_approval(phone, now)
                region = phone.region
            except errors.ServiceError:  # a number the metadata no longer takes: no breaker count
                log.warning("approval not counted for the breaker ref=%s", log_ref(verification.id))
        if self._attempts is not None and not self.is_test_number(verification.to):
            writes += self._attempts.conversions(verification, region, self._scope)
        for outcome in concurrency.run_all(writes):
            if outcome.error is not None:
                log.error("could not record the approval: %s", type(outcome.error).__name__)




def _starts_used(item: dict | None, now: float, max_starts: int) -> bool:
    count = (item or {}).get(f"starts_{day_of(int(now))}", {}).get("N")
    return count is not None and int(count) >= max_starts


def _until_day_end(now: float) -> int:
    return _seconds_until((day_of(int(now)) + 1) * DAY, now)


def _seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))
