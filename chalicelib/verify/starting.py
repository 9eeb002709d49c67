"""The start use case: send a code for a new verification, or resend one (chalicelib/verify/service.py
builds on it; the check, look-up and cancel use cases live there).

Two waves of conditional DynamoDB writes, then the send; anything that fails after the
number's write undoes it, unless a provider may have taken the message (docs/reliability.md).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.verify.channel_choice import order_after_undelivered
from chalicelib.codes import CodeHasher, log_ref, new_code
from chalicelib.config import Config
from chalicelib.dynamodb import ConditionFailed, StoreUnavailable
from chalicelib.verify.items import to_verification
from chalicelib.channels import EmailAddress, parse_email
from chalicelib.verify.limits import TRUSTED_FOR_SECONDS, Limiter
from chalicelib.verify.live_codes import item_expires
from chalicelib.verify.models import (
    CHANNELS,
    ReceiptBinding,
    SendAttempt,
    SendLimit,
    StartRequest,
    Verification,
)
from chalicelib.channels import PhoneNumber, parse_phone_number, parse_region, require_reachable, test_number
from chalicelib.verify.routing import ProviderPool
from chalicelib.verify.sending import ChainSender, MaybeDelivered
from chalicelib.verify.store import DAY, CheckLimit, VerificationStore, day_of

if TYPE_CHECKING:
    from chalicelib.verify.attempts import AttemptLog
    from chalicelib.verify.safe_list import SafeList

log = logging.getLogger("verify")

# A start that loses a race (the item changed between our two writes) tries again; each
# try is a fresh read of the item's state through a conditional write, so this terminates.
_START_TRIES = 3


class StartUseCase:
    """Start and resend, over the collaborators VerificationService sets up."""

    _config: Config
    _store: VerificationStore
    _providers: ProviderPool
    _hasher: CodeHasher
    _limiter: Limiter
    _clock: Callable[[], float]
    _sender: ChainSender
    _attempts: AttemptLog | None
    _scope: str
    _countries: frozenset[str] | None
    _safe_list: SafeList | None

    def _number_key(self, key: str) -> str:
        """The item's key for a number's (or an address's) key, in this app's scope."""
        return self._hasher.number_key(key, self._scope)

    def _check_limit(self) -> CheckLimit:
        limits = self._config.limits
        return CheckLimit(limits.checks_per_number_per_window, limits.number_check_window_seconds)

    def _send_limit(self) -> SendLimit:
        limits = self._config.limits
        return SendLimit(limits.sends_per_number_per_window, limits.number_send_window_seconds)

    # -- start / resend -------------------------------------------------------------------

    def start(self, request: StartRequest, client_ip: str | None = "unknown") -> tuple[Verification, bool]:
        """Send a code; returns the verification and whether it is new (False: a resend).

        Order: input and country; then two waves of DynamoDB writes, each wave's writes at
        once: (1) the client IP's request count and the number's item (one live
        verification, resend interval, sends per verification and per number's send window,
        starts per day), (2) the send counters (prefix,
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
        fallbacks: tuple[str, ...] = ()  # channel auto: the order's next channels
        if request.channel == "auto":
            request, fallbacks = self._auto(request)
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
            try:
                self._limiter.allow_country(phone)
            except errors.CountryNotAllowed:  # the stage's list (Geo Permissions): lifted for a safe number
                if not self._safe_listed(phone):
                    raise
            if self._countries is not None and phone.region not in self._countries:
                raise errors.CountryNotAllowed()  # the app's own list (a v2 Service's AllowedCountries)
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
            return self._start(phone, number_key, chain, request, fixed_code, ip_count, fallbacks)
        finally:
            if ip_count is not None and not ip_count.done():
                concurrency.wait_quietly(ip_count)  # never leave a write running past the request

    def _start(
        self, phone: PhoneNumber | EmailAddress, number_key: str, chain: tuple[str, ...],
        request: StartRequest, fixed_code: str | None, ip_count: Future[Any] | None,
        fallbacks: tuple[str, ...] = (),
    ) -> tuple[Verification, bool]:
        cfg = self._config
        checks, window = self._check_limit(), self._send_limit()
        for _ in range(_START_TRIES):
            now = self._clock()
            # A custom code (the caller's, v2's CustomCode or a hook's) is the one sent and kept
            # as its MAC; a test number still sends nothing (its fixed code when none is given).
            code = request.custom_code or fixed_code or new_code(cfg.code_length)
            # The first write names the chain's first provider; a failover corrects it.
            send = SendAttempt(request.channel, chain[0], int(now * 1000))
            fresh = dataclasses.replace(self._new_verification(phone, number_key, code, now, send),
                                        binding=request.binding, metadata=request.metadata)
            max_starts = cfg.limits.verifications_per_number_per_day
            # The SID's lookup (chalicelib/factors/sid_links.py), in the same wave as the number's
            # write: a new verification costs no round trip more. A resend keeps its SID: the
            # lookup of this try's is then an orphan, which names nothing.
            link = concurrency.submit(self._store.link_sid, fresh.id, number_key, self._scope,
                                      item_expires(fresh.expires_at, int(now), window))
            try:
                approved_at = self._store.create(number_key, fresh, int(now), max_starts, checks, window)
                verification, previous, created = fresh, None, True
            except ConditionFailed as exc:
                concurrency.wait_quietly(link)
                concurrency.settle(ip_count)  # raises the IP's refusal: nothing of ours was kept
                ip_count = None
                live = to_verification(exc.item)
                if live is None or live.status(now) not in ("pending", "max_attempts_reached"):
                    if _starts_used(exc.item, now, max_starts):
                        raise errors.TooManyVerifications(retry_after=_until_day_end(now)) from None
                    if checks.used(exc.item, now):
                        # No SMS to a number whose guesses are used up: its code could not be checked.
                        raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
                    if window.used(exc.item, now):  # starting over does not reset the number's sends
                        raise errors.TooManySendsToNumber(retry_after=window.retry_after(now)) from None
                    continue  # it stopped being live between the two writes: start again
                order = order_after_undelivered(live, chain, request.channel)  # 422: permanent
                send = dataclasses.replace(send, provider=order[0])
                resent = self._resend(number_key, live, code, now, send, checks, window, request.binding,
                                      to=_shown(phone))
                if resent is None:
                    continue
                verification, previous, created = resent, live, False
                approved_at = resent.approved_at
            except Exception:
                concurrency.wait_quietly(link)  # never leave a write running past the request
                raise
            else:
                try:
                    concurrency.settle(ip_count)
                    ip_count = None
                    concurrency.settle(link)  # a SID that names nothing must not be answered
                except Exception:
                    self._undo(number_key, fresh, None, window)  # the IP refused (or failed): remove it
                    raise
            telemetry.note(id=log_ref(verification.id), send_count=verification.send_count)
            try:
                verification = self._send(phone, number_key, code, request, chain, fixed_code,
                                           verification, previous, created, approved_at, now, fallbacks)
            except MaybeDelivered as maybe:  # the user may hold the new code: no undo
                raise maybe.error from None
            except Exception:
                # Anything after the number's write (a send counter refusing or failing, the
                # provider, a bug): nothing was sent, so put back what the write replaced.
                self._undo(number_key, verification, previous, window)
                raise
            return verification, created
        # Only under a write storm on one number (its item changed under each of our tries):
        # the other requests are the number's own; this one may try again in a second.
        raise errors.ResendTooSoon(retry_after=1)

    def _send(
        self, phone: PhoneNumber | EmailAddress, number_key: str, code: str, request: StartRequest,
        chain: tuple[str, ...], fixed_code: str | None, verification: Verification,
        previous: Verification | None, created: bool, approved_at: int | None, now: float,
        fallbacks: tuple[str, ...] = (),
    ) -> Verification:
        """The send counters, then the provider chain; raises on any refusal or failure
        (the caller undoes the number's write). ``fallbacks``: channel auto's next channels,
        for a send that a channel's breaker suspension refuses."""
        cfg = self._config
        if fixed_code:
            log.info("test number ref=%s to=%s: no SMS sent, send counters skipped",
                     log_ref(verification.id), phone.masked)
            telemetry.note(test_number=True)
            self._limiter.reserve_buckets(request.buckets, now)  # the Service's own rate limits still hold
            fail = cfg.test_numbers.fail_for(phone.key)
            if fail:  # rehearse the chain's failure: 422, failover or 502, nothing sent
                from chalicelib.channels import rehearsal_chain

                verification = self._sender.deliver(
                    phone, number_key, code, request.locale, verification, previous,
                    chain=rehearsal_chain(chain, fail),
                )
            return verification
        # A number approved lately passes the conversion breakers (not the limits).
        trusted = approved_at is not None and now - approved_at < TRUSTED_FOR_SECONDS
        order = chain if created else order_after_undelivered(previous, chain, request.channel)
        moved_to, refusal = None, None
        while True:
            try:
                self._count_send(phone, number_key, verification, now, trusted, moved_to, request.risk_check,
                                 request.buckets, request.sampled)
                break
            except (errors.PrefixSuspended, errors.CountrySuspended, errors.PrefixRateLimited,
                    errors.CountryRateLimited) as suspended:
                if not trusted and self._safe_listed(phone):  # read on this refusal only
                    trusted = True  # the Safe List's number: trusted, as an approved one is
                    continue
                if isinstance(suspended, (errors.PrefixRateLimited, errors.CountryRateLimited)):
                    raise
                # Channel auto: this channel's breaker is suspended for the range; the next
                # channel of the order has its own. The number's item is reused: the moved
                # send's channel and provider are written beside the next counters.
                refusal = refusal or suspended
                moved = self._next_channel(phone, previous, created, fallbacks)
                if moved is None:
                    raise refusal from None  # the chosen channel's: the one the client asked for
                channel, order, fallbacks = moved
                moved_to = order[0]
                last = dataclasses.replace(verification.sends[-1], channel=channel, provider=moved_to)
                verification = dataclasses.replace(verification, channel=channel,
                                                   sends=(*verification.sends[:-1], last))
                log.info("auto moved on ref=%s channel=%s: the previous channel is suspended for the range",
                         log_ref(verification.id), channel)
                telemetry.note(channel=channel)
        verification = self._sender.deliver(
            phone, number_key, code, request.locale, verification, previous, order
        )
        telemetry.metric("VerificationsStarted" if created else "Resends")
        return verification

    def _count_send(
        self, phone: PhoneNumber | EmailAddress, number_key: str, verification: Verification, now: float,
        trusted: bool, moved_to: str | None, risk_check: bool = True, buckets: tuple[Any, ...] = (),
        sampled: bool = True,
    ) -> None:
        """The send counters for the verification's channel, in one wave with the send's v2
        attempt and, when channel auto moved the send to another channel (``moved_to``: its
        first provider), the number's item's new channel. Raises the counters' refusal.
        ``risk_check`` False: the pumping defences pass this send (Limiter.reserve_send);
        ``sampled`` False: kept out of the breakers' conversion sample (a hook's start)."""
        attempts = self._attempts
        region = phone.region if isinstance(phone, PhoneNumber) else ""  # an address has none
        recording = attempts.record(verification, region, self._scope) if attempts else None
        moving = None
        if moved_to is not None:
            moving = concurrency.submit(self._store.record_provider, number_key, verification, moved_to,
                                        verification.channel)
        try:
            self._limiter.reserve_send(phone, now, trusted, verification.channel, fraud_guard=risk_check,
                                       buckets=buckets, sampled=sampled)
        except Exception:
            if recording is not None:
                recording.cancel()  # a refused send is no attempt: removed beside the undo
            if moving is not None:
                concurrency.wait_quietly(moving)  # the undo puts the item back either way
            raise
        finally:
            if recording is not None:
                recording.settle()  # after a cancel: removed before another channel records it
        concurrency.settle(moving)

    def _safe_listed(self, phone: PhoneNumber | EmailAddress) -> bool:
        """On the account's Safe List (chalicelib/verify/safe_list.py): asked only by a refusal."""
        return (self._safe_list is not None and isinstance(phone, PhoneNumber)
                and self._safe_list.contains(phone.e164))

    def _next_channel(
        self, phone: PhoneNumber | EmailAddress, previous: Verification | None, created: bool,
        fallbacks: tuple[str, ...],
    ) -> tuple[str, tuple[str, ...], tuple[str, ...]] | None:
        """The first of ``fallbacks`` that can take this number (its type, a provider, no
        permanent failure for it): (channel, provider order, the fallbacks after it)."""
        if not isinstance(phone, PhoneNumber):
            return None
        cfg = self._config
        for at, channel in enumerate(fallbacks):
            try:
                require_reachable(phone.e164, phone.region, channel, cfg.limits.sms_special_types)
                chain = self._providers.names(phone.region, channel)
                if not chain:  # off (WhatsApp with no chain) or no provider for the region
                    continue
                order = chain if created else order_after_undelivered(previous, chain, channel)
            except errors.ServiceError:  # this number cannot take it (or not again): the next one
                continue
            return channel, order, fallbacks[at + 1:]
        return None

    def _undo(
        self, number_key: str, failed: Verification, previous: Verification | None, window: SendLimit,
    ) -> None:
        """Put back what a start or resend wrote, for a request that sent nothing. The client
        gets the answer it earned (the refusal, 502) even when this clean-up fails: tried a
        second time when the first fails (its own botocore retries spent), then logged with
        a metric; the item then holds a code nobody received, counted as a send, until the
        verification ends (see docs/reliability.md)."""
        for attempt in (1, 2):
            try:
                self._store.undo_send(number_key, failed, previous, window)
                return
            except StoreUnavailable as exc:
                log.error("undo failed ref=%s attempt=%d: %s", log_ref(failed.id), attempt, exc)
        telemetry.metric("UndoFailures")

    def _new_verification(
        self, phone: PhoneNumber | EmailAddress, number_key: str, code: str, now: float, send: SendAttempt
    ) -> Verification:
        return Verification(
            id=self._hasher.verification_id(number_key),
            to=_shown(phone),
            channel=send.channel,
            code_mac=self._hasher.code_mac(number_key, code),
            created_at=int(now),
            expires_at=int(now) + self._config.ttl_seconds,
            sent_at_ms=int(now * 1000),
            send_count=1,
            attempts=0,
            max_attempts=self._config.max_check_attempts,
            sends=(send,),
            scope=self._scope,
        )

    def _resend(
        self, number_key: str, live: Verification, code: str, now: float, send: SendAttempt,
        checks: CheckLimit, window: SendLimit, binding: ReceiptBinding | None = None, to: str | None = None,
    ) -> Verification | None:
        """A new code for ``live``: it joins the codes already sent (each stays valid until the
        verification ends, which a resend does not move). ``to``: this start's spelling of the
        recipient (another spelling of one mailbox is a resend of its verification; the code,
        and later receipts, go to the latest). None: the item changed meanwhile, start again."""
        cfg = self._config
        wanted = dataclasses.replace(
            live,
            to=to or live.to,
            code_mac=self._hasher.code_mac(number_key, code),
            sent_at_ms=send.at_ms,
            channel=send.channel,
            sends=(*live.sends, send),
        )
        wanted = dataclasses.replace(wanted, binding=binding, scope=self._scope)
        wait = cfg.resend_interval_seconds  # 0 (none) on v2 unless its Service sets one
        try:
            return self._store.resend(
                number_key,
                wanted,
                live=live,
                now=int(now),
                min_sent_at_ms=int(now * 1000) - wait * 1000 if wait else None,
                max_sends=cfg.max_sends,
                checks=checks,
                window=window,
            )
        except ConditionFailed as exc:
            current = to_verification(exc.item)
            if current is None or current.id != live.id:
                return None  # replaced or deleted meanwhile: start again
            status = current.status(now)
            if status == "max_attempts_reached":
                raise errors.MaxAttemptsReached(retry_after=seconds_until(current.expires_at, now)) from None
            if status != "pending":
                return None
            if checks.used(exc.item, now):
                raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
            if current.send_count >= cfg.max_sends:
                raise errors.TooManySends(retry_after=seconds_until(current.expires_at, now)) from None
            if window.used(exc.item, now):
                raise errors.TooManySendsToNumber(retry_after=window.retry_after(now)) from None
            ready_at = current.sent_at_ms / 1000 + wait
            if wait and ready_at > now:
                raise errors.ResendTooSoon(retry_after=seconds_until(ready_at, now)) from None
            return None  # another resend landed first (its code taken in the list): again

    def _auto(self, request: StartRequest) -> tuple[StartRequest, tuple[str, ...]]:
        """Channel "auto": one read of the number's item tells a resend after an undelivered
        send (chalicelib/verify/channel_choice.py). Only a choice: the start's conditional writes
        still decide, so a race at worst picks the channel an instant stale. Returns the
        request on its channel and the order's channels after it (taken when a breaker
        suspends the chosen one)."""
        from chalicelib.verify.channel_choice import auto_channel

        cfg = self._config
        test = test_number(request.to, cfg.test_numbers.code_for)
        phone = test[0] if test else parse_phone_number(request.to, parse_region(request.country,
                                                                                 cfg.default_region))
        live = self._store.get(self._number_key(phone.e164))
        order = cfg.channels.auto_order(phone.region)
        channel = auto_channel(order, live, self._clock())
        return dataclasses.replace(request, channel=channel), order[order.index(channel) + 1:]


def _shown(phone: PhoneNumber | EmailAddress) -> str:
    """The verification's ``to``: a number's E.164, an address as this start spelled it (its
    key is the mailbox, chalicelib/channels/email_address.py)."""
    return phone.address if isinstance(phone, EmailAddress) else phone.key


def _starts_used(item: dict | None, now: float, max_starts: int) -> bool:
    count = (item or {}).get(f"starts_{day_of(int(now))}", {}).get("N")
    return count is not None and int(count) >= max_starts


def _until_day_end(now: float) -> int:
    return seconds_until((day_of(int(now)) + 1) * DAY, now)


def seconds_until(moment: float, now: float) -> int:
    return max(1, math.ceil(moment - now))
