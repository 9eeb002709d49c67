"""Abuse and cost limits on top of the per-verification rules: per client IP, per number
prefix (with a conversion breaker), per country (its breaker opt-in) and hourly send budgets
(SMS, voice and WhatsApp together; email apart).

The conversion breaker trips on the ranges that fail to convert: a prefix (the number without
its last 3 digits) whose sends in the hour are mostly never approved is suspended until the
hour ends. It trips on the prefix, not the country, so that a bot pumping one range cannot
refuse every real user of a country; a number approved within TRUSTED_FOR_SECONDS passes a
suspended breaker (its item carries the marker, read from the write the start makes anyway).
A country-wide breaker is opt-in (OTP_BREAKER_COUNTRY_WIDE).

The breaker is per channel (sms, voice, whatsapp), on the same item: each channel's sends and
approvals decide its own suspension, and a suspension refuses that channel's sends only. SMS
pumping then leaves WhatsApp to the range's real users, and the many numbers that are not on
WhatsApp (a WhatsApp send that never converts) never suspend their SMS. The limit itself
(``n``) counts every channel: a WhatsApp message costs money too. An approval counts on the
channel of the send that converted (the verification's last send).

Every limit is a fixed-window counter: one item per key and window (``rl#<kind>#<key>#<n>``),
counted by one conditional ADD that refuses at the limit, so limits hold under any
concurrency. Windows live in the key, so a new window starts at zero without a reset write;
items expire by TTL an hour after their window. A fixed window admits up to twice the limit
across a boundary: the price of one write per counter.

The per-number limits (starts and checks per day) live on the number's verification item and
cost no extra write (see store.py).

A send's three counters (prefix, country, budget) are independent writes, issued at the same
time (chalicelib/concurrency.py): one round trip instead of three. When any of them refuses,
the others' counts for this request are given back by compensating writes (``release``: ``n``
and the channel's own count, in one write per counter), so a refused send counts nowhere,
whichever counter refused it; the send that trips a breaker is given back in the suspension's
write. A limit still holds exactly, because every count is a conditional increment and a
give-back only removes a count this request added, at most once (chalicelib/verify/counters.py).
"""

from __future__ import annotations

import functools
import logging
import math
import secrets
from typing import TYPE_CHECKING, Callable, Sequence

from chalicelib import concurrency, errors
from chalicelib.verify.counters import CounterFull, CounterStore, per_channel
from chalicelib.networks import count_key
from chalicelib.channels import PhoneNumber

if TYPE_CHECKING:
    from chalicelib.channels import EmailAddress
    from chalicelib.verify.rate_buckets import BucketCount
    from chalicelib.settings.limits import Limits

log = logging.getLogger("verify")

HOUR = 3600
TRUSTED_FOR_SECONDS = 30 * 86_400  # a number approved this recently passes the breakers
BREAKER_CHANNELS = ("sms", "voice", "whatsapp")  # each with its own breaker (email has none)
_NO_LIMIT = 10**12


class Limiter:
    def __init__(
        self,
        limits: Limits,
        counters: CounterStore,
        # secrets, not random: random's state is seeded at import, and under SnapStart every
        # restored container would start from the same state and pick the same shards.
        choose_shard: Callable[[int], int] = secrets.randbelow,
    ) -> None:
        self._limits = limits
        self._counters = counters
        self._choose_shard = choose_shard

    # -- per client IP ------------------------------------------------------------------------

    # Counted per network (chalicelib/networks.py): an IPv6 source per /64, an IPv4-mapped
    # address as its IPv4 address, whoever passes the address (v1's sourceIp, v2's DeviceIp).

    def request_from_ip(self, ip: str, now: float) -> None:
        self._count("ip", count_key(ip), self._limits.requests_per_ip_per_hour, now, errors.IpRateLimited)

    def check_from_ip(self, ip: str, now: float) -> None:
        self._count("ipcheck", count_key(ip), self._limits.checks_per_ip_per_hour, now,
                    errors.IpCheckRateLimited)

    def passkey_request(self, ip: str, subject: str | None, now: float, per_ip: int, per_subject: int,
                        subject_error: type[errors.LimitExceeded]) -> None:
        """A passkey ceremony on the public door (chalicelib/passkeys/routes.py): counted per
        network and, when it names one, per number (``subject``: its identity key), each on its
        own hourly counter (OTP_PASSKEY_MAX_PER_IP_PER_HOUR, _PER_NUMBER_PER_HOUR)."""
        self._count("pkip", count_key(ip), per_ip, now, errors.IpRateLimited)
        if subject is not None:
            self._count("pknum", subject, per_subject, now, subject_error)

    # -- per send -----------------------------------------------------------------------------

    def allow_country(self, phone: PhoneNumber) -> None:
        allowed = self._limits.allowed_countries
        if allowed and phone.region not in allowed:
            raise errors.CountryNotAllowed()

    def reserve_send(
        self, phone: PhoneNumber | EmailAddress, now: float, trusted: bool = False, channel: str = "sms",
        fraud_guard: bool = True, buckets: Sequence[BucketCount] = (), sampled: bool = True,
    ) -> None:
        """Count one send against the prefix, the country (and its breaker) and the budget,
        the three writes at once. A refusal by any of them gives back what the others
        counted, then raises the refusal (in this order when several refuse: prefix, country,
        budget). A send that passes but then fails at the provider stays counted: the
        counters are conservative, never generous. ``trusted``: the number was approved
        recently, so a breaker's suspension does not stop it (its limits still do).
        ``channel``: the breakers count and suspend it on its own. ``fraud_guard`` False (v2's
        RiskCheck=disable, where the Service allows it): the prefix's limit and every breaker's
        suspension pass this send, which is still counted on the prefix (so a range pumped this
        way still trips the breaker for every other request); the country's limit (with a
        trusted number's headroom when its breaker is on) and the budget hold. ``buckets``: the
        Service's rate limits the start names (chalicelib/verify/rate_buckets.py), counted in the same
        wave and given back with the others (whichever refuses). ``sampled`` False
        (a hook's start: the platform checks the code and never reports back): counted on every
        limit, refused by a suspension, but kept out of the breakers' conversion sample, so
        sends whose approvals can never come do not suspend a whole range (docs/limits.md)."""
        if not isinstance(phone, PhoneNumber):
            # An email address: the budget only. Its per-recipient limits are on its item; a
            # breaker on its domain would let a stranger suspend gmail.com for everyone, and
            # pumping (revenue share on terminated calls and SMS) does not exist for email.
            # Its budget is its own: made-up addresses never use up the SMS budget.
            self._all_or_nothing([lambda: self._budget(now, "email"), *self._bucket_calls(buckets, now)])
            return
        limits = self._limits
        prefix_limit = limits.sends_per_prefix_per_hour if fraud_guard else _NO_LIMIT
        passes = trusted or not fraud_guard  # a breaker's suspension does not stop it, nor does it trip one
        self._all_or_nothing([
            lambda: self._breaker_counter(
                "prefix", prefix_of(phone.e164), channel, prefix_limit, now, passes,
                limits.breaker_min_sends, errors.PrefixRateLimited, errors.PrefixSuspended, sampled),
            lambda: self._breaker_counter(
                "country", phone.region, channel, limits.sends_per_country_per_hour or _NO_LIMIT, now,
                passes, limits.breaker_country_min_sends if limits.breaker_country_wide else None,
                errors.CountryRateLimited, errors.CountrySuspended, sampled),
            lambda: self._budget(now, channel),
            *self._bucket_calls(buckets, now),
        ])

    def reserve_buckets(self, buckets: Sequence[BucketCount], now: float) -> None:
        """A test number's start: the Service's rate limits only (it skips the send counters)."""
        if buckets:
            self._all_or_nothing(self._bucket_calls(buckets, now))

    def _bucket_calls(self, buckets: Sequence[BucketCount], now: float) -> list[Callable[[], object]]:
        from chalicelib.verify import rate_buckets

        return [functools.partial(rate_buckets.count, self._counters, bucket, now) for bucket in buckets]

    def _all_or_nothing(self, calls: Sequence[Callable[[], object]]) -> None:
        """Every counter at once; when any refuses, the others give back what they counted
        (raising the first refusal in the calls' order)."""
        outcomes = concurrency.run_all(calls)
        refusals = [o.error for o in outcomes if o.error is not None]
        if not refusals:
            return
        # Each counter that counted gives back all it counted (``n`` and the channel's own
        # sends; a bucket's window), the give-backs at once: one round trip, on the refusal
        # path only.
        counted = [o.value for o in outcomes if o.error is None and o.value is not None]
        if counted:
            release = self._counters.release
            concurrency.run_all([value if callable(value) else functools.partial(release, *value)
                                 for value in counted])
        raise refusals[0]

    def record_approval(self, phone: PhoneNumber, channel: str, now: float) -> list[Callable[[], None]]:
        """The writes that count an approval for the breakers (the prefix's, and the
        country's when it is on) on ``channel``, the channel of the send that converted, to
        run beside the approval's other writes."""
        window, _ = _window(now)
        keys = [f"rl#prefix#{prefix_of(phone.e164)}#{window}"]
        if self._limits.breaker_country_wide:
            keys.append(f"rl#country#{phone.region}#{window}")
        approvals = per_channel("approvals", channel)
        return [functools.partial(self._counters.add, key, approvals, _ttl(window)) for key in keys]

    # -- internals ----------------------------------------------------------------------------

    def _count(self, kind: str, key: str, limit: int, now: float, error: type) -> str:
        """Count one on the window's counter; returns its key (for a give-back)."""
        window, retry_after = _window(now)
        counter = f"rl#{kind}#{key}#{window}"
        try:
            self._counters.increment(counter, limit, _ttl(window))
            return counter
        except CounterFull:
            log.warning("limit hit kind=%s limit=%d window=%d", kind, limit, window)
            raise error(retry_after=retry_after) from None

    def _breaker_counter(
        self, kind: str, name: str, channel: str, limit: int, now: float, trusted: bool,
        min_sends: int | None, limit_error: type[errors.LimitExceeded],
        suspended_error: type[errors.LimitExceeded], sampled: bool = True,
    ) -> tuple[str, str | None]:
        """A send counter with a conversion breaker per channel (``min_sends`` None: no
        breaker). The counter's item holds the window's sends (``n``, every channel: the
        limit) and each channel's sends and approvals; when at least ``min_sends`` sends of
        ``channel`` converted under OTP_BREAKER_MIN_CONVERSION_PERCENT, the window is
        suspended for ``channel`` (the send that trips it given back in that write). A trusted
        number passes a suspension, and never trips it. Returns what to give back when another
        counter refuses the send: the key and the channel counted on it. ``sampled`` False: the
        send counts on ``n`` only (not the channel's sample) and never trips the breaker."""
        window, retry_after = _window(now)
        key = f"rl#{kind}#{name}#{window}"
        suspended = per_channel("suspended", channel)
        if trusted and min_sends is not None:
            # The breakers' samples never fill the limit for the numbers a suspension lets
            # through: a bot that never converts gets at most min_sends sends counted per
            # channel before that channel's suspension refuses the rest (plus one should the
            # tripping send's give-back be lost), so pumping every channel it can count
            # BREAKER_CHANNELS x (min_sends + 1) on ``n`` at most. A trusted
            # number's limit is raised by that much, so those sends cannot refuse it. The
            # headroom is for numbers approved within TRUSTED_FOR_SECONDS only, each still
            # under its own per-number limits: a stranger cannot spend it.
            limit += len(BREAKER_CHANNELS) * (min_sends + 1)
        try:
            counts = self._counters.increment(key, limit, _ttl(window), honour_suspension=not trusted,
                                              channel=channel, **({} if sampled else {"sampled": False}))
        except CounterFull as full:
            if full.item.get(suspended):
                raise suspended_error(retry_after=retry_after) from None
            log.warning("limit hit kind=%s limit=%d", kind, limit)
            raise limit_error(retry_after=retry_after) from None
        if not sampled:
            return key, None  # only ``n`` was counted: that is all a give-back returns
        # The channel's sends before this one, and its approvals.
        sends = counts.get(per_channel("n", channel), 1) - 1
        approvals = counts.get(per_channel("approvals", channel), 0)
        percent = self._limits.breaker_min_conversion_percent
        if (min_sends is not None and not trusted and not counts.get(suspended) and percent
                and sends >= min_sends and approvals * 100 < percent * sends):
            self._counters.suspend(key, _ttl(window), channel)
            log.warning(
                "%s suspended range=%s channel=%s sends=%d approvals=%d conversion=%.1f%% "
                "threshold=%d%% min_sends=%d until_window_end_in=%ds",
                kind, name if kind == "country" else name[:-2] + "**", channel, sends, approvals,
                100 * approvals / sends, percent, min_sends, retry_after,
            )
            raise suspended_error(retry_after=retry_after)
        return key, channel

    def _budget(self, now: float, channel: str = "sms") -> tuple[str, None]:
        """The hourly send budget of ``channel``'s pool: SMS, voice and WhatsApp share
        OTP_MAX_SENDS_PER_HOUR (one telephony bill), email has its own OTP_MAX_EMAILS_PER_HOUR,
        so sends to made-up addresses never refuse an SMS (nor SMS pumping an email). Each
        pool is split over shards so no one item takes every write (an item takes at most
        1,000 writes/s). The shard limits add up to the budget exactly, so the budget is never
        exceeded. A full shard is followed by one other random shard; near the end of the
        budget a send may be refused while another shard has room. Returns what to give back
        (the shard's key; a budget counts no channel)."""
        email = channel == "email"
        budget = self._limits.emails_per_hour if email else self._limits.sends_per_hour
        pool = "email#" if email else ""  # the phone pool keeps its keys (no reset on deploy)
        shards = min(self._limits.budget_shards, budget)
        window, retry_after = _window(now)
        first = self._choose_shard(shards)
        tries = [first] if shards == 1 else [first, (first + 1 + self._choose_shard(shards - 1)) % shards]
        for shard in tries:
            limit = budget // shards + (1 if shard < budget % shards else 0)
            key = f"rl#budget#{pool}{window}#{shard}"
            try:
                self._counters.increment(key, limit, _ttl(window))
                return key, None
            except CounterFull:
                continue
        log.warning("limit hit kind=budget pool=%s budget=%d window=%d", "email" if email else "phone",
                    budget, window)
        # The request's LimitsHit metric (kind send_budget_exhausted) has an alarm (make
        # package): an exhausted budget refuses every real user of its pool too.
        raise errors.SendBudgetExhausted(retry_after=retry_after)


def prefix_of(e164: str) -> str:
    """Pumping walks blocks of adjacent numbers: the E.164 number without its last 3 digits."""
    return e164[:-3]


def _window(now: float) -> tuple[int, int]:
    window = int(now // HOUR)
    return window, max(1, math.ceil((window + 1) * HOUR - now))


def _ttl(window: int) -> int:
    return (window + 2) * HOUR
