"""The verification use cases: check, look up, cancel and approve, on top of start and
resend (chalicelib/verify/starting.py).

Each state change is one conditional write in the store; this module decides what the
outcome means for the client and raises the domain's errors.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.codes import CodeHasher, log_ref, parse_code, parse_twilio_code
from chalicelib.config import Config
from chalicelib.dynamodb import ConditionFailed
from chalicelib.verify.items import to_verification
from chalicelib.channels import composer_for, is_email, parse_email
from chalicelib.verify.limits import Limiter
from chalicelib.verify.models import MAX_LIVE_CODES, CheckRequest, Verification, require_verification_id
from chalicelib.channels import parse_phone_number, parse_region, test_number
from chalicelib.verify.routing import ProviderPool
from chalicelib.verify.sending import ChainSender
from chalicelib.verify.starting import StartUseCase, seconds_until
from chalicelib.verify.store import VerificationStore

if TYPE_CHECKING:
    from chalicelib.verify.attempts import AttemptLog
    from chalicelib.verify.safe_list import SafeList
    from chalicelib.delivery import DeliveryTracker

log = logging.getLogger("verify")


class VerificationService(StartUseCase):
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
        safe_list: SafeList | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._providers = providers
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock
        self._sender = ChainSender(composer_for(config), providers, store, delivery)
        self._delivery = delivery  # opt-in: its module loads on use
        self._attempts = attempts  # the v2 Attempts list (OTP_ATTEMPTS), or None
        self._safe_list = safe_list  # the account's Safe List (v2's SafeList/Numbers), or None
        self._scope = ""  # the stage's own app; for_app() gives another app its own keys
        self._countries: frozenset[str] | None = None  # an app's own allowed regions (for_app)

    def for_app(self, scope: str, code_length: int, brand: str, resend_wait: int = 0,
                countries: tuple[str, ...] | None = None,
                routes: tuple[tuple[str, tuple[str, ...]], ...] = ()) -> VerificationService:
        """The same rules for another app on this deployment (a v2 Service): its code length,
        its brand in the message, and its own number keys (``scope``), so its verifications
        never meet another app's. The limits on IPs, prefixes, countries and the budget stay
        shared: one deployment, one bill. As Twilio: no wait between sends unless the Service
        sets one (``resend_wait``), and at most 5 sends per verification (OTP_MAX_SENDS if lower).
        ``countries``: the app's own allowed regions, inside the stage's (None: the stage's).
        ``routes``: the app's own SMS chains by region (ProviderPool.with_routes)."""
        config = dataclasses.replace(self._config, code_length=code_length, brand_name=brand,
                                     resend_interval_seconds=resend_wait,
                                     max_sends=min(self._config.max_sends, MAX_LIVE_CODES))
        app = VerificationService(config, self._store, self._providers.with_routes(dict(routes)),
                                  self._hasher, self._limiter,
                                  lambda: self._clock(), delivery=self._delivery, attempts=self._attempts,
                                  safe_list=self._safe_list)
        app._scope = scope
        app._countries = frozenset(countries) if countries is not None else None
        return app

    def with_message(self, **options: Any) -> VerificationService:
        """This app for one verification whose message differs (a v2 start's AppHash, PSD2
        amount and payee, the Service's do-not-share warning: MessageComposer.with_options)."""
        app = copy.copy(self)
        app._sender = self._sender.with_composer(self._sender.composer.with_options(**options))
        return app

    # -- check ----------------------------------------------------------------------------

    def check(
        self, request: CheckRequest, client_ip: str | None = "unknown", *, any_length: bool = False
    ) -> Verification:
        """``any_length``: v2's ``Code`` (codes.parse_twilio_code: 4-10 letters or digits, a
        guess of another length than the code's is a wrong one); v1's is exactly the code's
        digits (docs/security.md rule 13)."""
        cfg = self._config
        # Format first: a malformed code is refused before it can use up an attempt.
        code = parse_twilio_code(request.code) if any_length else parse_code(request.code, cfg.code_length)
        lookup = None
        if request.verification_id is None:
            number_key = self._recipient_key(request.to, request.country)
        elif len(sid := require_verification_id(request.verification_id)) == 34:
            # The SID's lookup goes out beside the IP's count (one round trip, as by number), and
            # an unknown SID is counted on the IP as any check is.
            lookup = concurrency.submit(self._store.resolve_sid, sid)
        else:
            number_key = self._hasher.number_key_of(sid)

        now = self._clock()
        # Test numbers too: a fixed code is the easiest one to guess.
        if client_ip is not None:  # None: a backend's call (v2), no end user's address to count
            try:
                self._limiter.check_from_ip(client_ip, now)
            except Exception:
                if lookup is not None:
                    concurrency.wait_quietly(lookup)
                raise
        if lookup is not None:
            link = lookup.result()
            if link is None:
                raise errors.VerificationNotFound()
            number_key = link[0]
        guess_mac = self._hasher.code_mac(number_key, code)
        checks = self._check_limit()
        try:
            verification = self._store.record_check(
                number_key, request.verification_id, guess_mac, int(now), checks, self._scope
            )
        except ConditionFailed as exc:
            current = to_verification(exc.item)
            if self._not_ours(current, request.verification_id):
                raise errors.VerificationNotFound() from None
            assert current is not None
            status = current.status(now)
            if status == "max_attempts_reached":
                raise errors.MaxAttemptsReached(
                    retry_after=seconds_until(current.expires_at, now)
                ) from None
            if status == "pending":  # live and under its attempts: the number's window is used up
                raise errors.TooManyChecks(retry_after=checks.retry_after(now)) from None
            raise errors.VerificationNotFound() from None

        telemetry.note(id=log_ref(verification.id), attempts=verification.attempts)
        if verification.approved:  # hmac.compare_digest of the guess's MAC with each live code's
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

    def get(self, verification_id: str | None = None, *, to: str | None = None) -> Verification:
        """The verification named by its SID, or (``to``: v2's path in place of the SID) the
        one of this number or address in this app's scope."""
        number_key = self._target(verification_id, to)
        verification = self._store.get(number_key)
        if verification is None or verification_id is not None and verification.id != verification_id:
            raise errors.VerificationNotFound()
        # The item's Service; an item with none named is the stage's own app's or was made
        # before ``svc`` existed (at most a code's lifetime ago): its key, derived again, tells.
        to = parse_email(verification.to).key if is_email(verification.to) else verification.to
        scope = verification.scope
        if scope != self._scope if scope else self._number_key(to) != number_key:
            raise errors.VerificationNotFound()
        return verification

    def cancel(self, verification_id: str | None = None, *, to: str | None = None) -> Verification:
        """One conditional write, by SID or (``to``) by number: see ``get``."""
        number_key = self._target(verification_id, to)
        try:
            return self._store.cancel(number_key, verification_id, int(self._clock()), self._scope)
        except ConditionFailed as exc:
            current = to_verification(exc.item)
            if self._not_ours(current, verification_id):
                raise errors.VerificationNotFound() from None
            assert current is not None
            raise errors.NotPending(status=current.status(self._clock())) from None

    def approve(self, verification_id: str | None = None, *, to: str | None = None) -> Verification:
        """Approve a pending verification the backend confirmed another way (v2's
        ``Status=approved``), by SID or (``to``) by number: one write, then the approval's
        bookkeeping as for a right code."""
        number_key = self._target(verification_id, to)
        now = self._clock()
        try:
            verification = self._store.approve(number_key, verification_id, int(now), self._scope)
        except ConditionFailed as exc:
            # Our own write retried after a lost answer is the store's success (its token); an
            # approval found here was another's (a right code first): no longer pending.
            current = to_verification(exc.item)
            if self._not_ours(current, verification_id):
                raise errors.VerificationNotFound() from None
            assert current is not None
            raise errors.NotPending(status=current.status(now)) from None
        self._record_approval(number_key, verification, now)  # events: from the table's stream
        return verification

    def _number_key_of(self, verification_id: object) -> str:
        """The number key of a SID: inside a 50-character id (issued before 34-character SIDs);
        a 34-character one's from its lookup item, one strongly consistent read
        (chalicelib/factors/sid_links.py). The write that follows still proves the SID and the Service
        in its condition, so the lookup's own Service is not trusted here."""
        sid = require_verification_id(verification_id)
        if len(sid) != 34:
            return self._hasher.number_key_of(sid)
        link = self._store.resolve_sid(sid)
        if link is None:
            raise errors.VerificationNotFound()
        return link[0]

    def _recipient_key(self, to: object, country: str | None = None) -> str:
        """The item's key, in this app's scope, of a number (a test number as itself) or of an
        address's mailbox (any spelling of it: chalicelib/channels/email_address.py)."""
        if is_email(to):
            return self._number_key(parse_email(to).key)
        cfg = self._config
        region = parse_region(country, cfg.default_region)
        test = test_number(to, cfg.test_numbers.code_for)
        phone = test[0] if test is not None else parse_phone_number(to, region)
        return self._number_key(phone.e164)

    def _target(self, verification_id: str | None, to: str | None) -> str:
        """The item's key of a verification named by SID, or by number or address (``to``):
        one that is neither names no verification."""
        if to is None:
            return self._number_key_of(verification_id)
        try:
            return self._recipient_key(to)
        except (errors.InvalidPhoneNumber, errors.InvalidEmailAddress, errors.InvalidRequest):
            raise errors.VerificationNotFound() from None

    def _not_ours(self, current: Verification | None, verification_id: str | None) -> bool:
        """No verification, or (named by SID) another one or another Service's: not found. A
        Service's write names it in its condition (the item's ``svc``, chalicelib/verify/store.py), so
        such a write changed nothing; by number, the item's key is already this Service's."""
        if current is None:
            return True
        return verification_id is not None and (current.id != verification_id or current.scope != self._scope)

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
        # An address has no prefix or country for the breakers to count (chalicelib/verify/limits.py).
        region = ""
        if not is_email(verification.to) and not self.is_test_number(verification.to):
            try:
                phone = parse_phone_number(verification.to, self._config.default_region)
                # The channel of the send that converted: counted as the last one's (any of
                # the verification's codes may have been the right one; the item keeps no
                # channel per code).
                channel = verification.sends[-1].channel if verification.sends else verification.channel
                writes += self._limiter.record_approval(phone, channel, now)
                region = phone.region
            except errors.ServiceError:  # a number the metadata no longer takes: no breaker count
                log.warning("approval not counted for the breaker ref=%s", log_ref(verification.id))
        if self._attempts is not None and not self.is_test_number(verification.to):
            # The attempt's own Service: the approval's write proved the item is this scope's,
            # and the conversion's write checks it on each attempt too (chalicelib/verify/attempts.py).
            writes += self._attempts.conversions(verification, region, self._scope)
        for outcome in concurrency.run_all(writes):
            if outcome.error is not None:
                log.error("could not record the approval: %s", type(outcome.error).__name__)
