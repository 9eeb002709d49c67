"""A Service's own rate limits (Twilio's Service Rate Limits and their Buckets,
twilio_v2/rate_limits.py) as counters of a start: each bucket of each key a start names holds
``max`` starts per ``interval`` seconds, counted in the wave of the start's send counters
(chalicelib/verify/limits.py ``Limiter.reserve_send``), given back with them when any refuses.

A sliding count, not a fixed window: Max per Interval as a user reads it. A fixed window admits
``2 * max`` across its edge (``max`` at its end, ``max`` again at the next one's start); here a
start is admitted when ``previous * (1 - elapsed / interval) + current <= max``, ``previous``
the window before's count weighted by how much of it still lies within the last ``interval``
seconds (Cloudflare's two-window estimate). It costs nothing more: every bucket's two windows
are on one item per rate limit and key (``c_<bucket>_<interval>_<window>``), and the one write
that counts the start in all of them returns them (``CounterStore.increment_windows``). The
write's condition caps each bucket's current window at its ``max`` (all buckets or none); the
weighted counts are checked on the counts the write returned, and a start over any is given
back in all (``release_windows``, on the refusal path only). Under any concurrency this admits
at most the weighted limit: the k-th admitted start saw a count of at least k.

The key (the value the app names, such as an end user's IP address) is never stored: the item's
key holds a keyed hash of it, the Service's and the bucket's SIDs (codes.CodeHasher), as
Twilio's "should not contain PII" asks of the name and we ask of the value too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

from chalicelib import errors
from chalicelib.verify.counters import CounterFull, CounterStore


RateLimitExceeded = errors.RateLimitExceeded  # 429, v2's 20429


@dataclass(frozen=True)
class Bucket:
    tag: str  # the bucket's SID's last 8 hex digits: its counts' names on the item
    max: int
    interval: int

    def window(self, now: float) -> int:
        return int(now // self.interval)

    def attribute(self, window: int) -> str:
        return f"c_{self.tag}_{self.interval}_{window}"  # an updated Interval counts afresh


@dataclass(frozen=True)
class BucketCount:
    """A named rate limit's buckets for one key: ``key`` the item's key (``rl#rk#<mac>``)."""

    key: str
    buckets: tuple[Bucket, ...]


def count(counters: CounterStore, limit: BucketCount, now: float) -> Callable[[], None] | None:
    """Count one start on every bucket of ``limit`` (one write); returns the give-back (None:
    the rate limit has no bucket, Twilio's "no rate limiting"). Raises RateLimitExceeded."""
    if not limit.buckets:
        return None
    windows = [(b, b.window(now)) for b in limit.buckets]
    expires = max((w + 2) * b.interval for b, w in windows) + 3600  # the next window still reads it
    try:
        counts = counters.increment_windows(
            limit.key, [(b.attribute(w), b.attribute(w - 2), b.max) for b, w in windows], expires)
    except CounterFull:
        raise RateLimitExceeded(retry_after=max(_window_end(b, w, now) for b, w in windows)) from None
    give_back = functools.partial(counters.release_windows, limit.key, [b.attribute(w) for b, w in windows])
    waits = []
    for bucket, window in windows:
        previous = counts.get(bucket.attribute(window - 1), 0)
        current = counts.get(bucket.attribute(window), 1)
        elapsed = (now - window * bucket.interval) / bucket.interval
        if previous * (1 - elapsed) + current > bucket.max:
            waits.append(_until_admitted(previous, current - 1, bucket, now))
    if waits:
        give_back()
        raise RateLimitExceeded(retry_after=max(waits))
    return give_back


def _window_end(bucket: Bucket, window: int, now: float) -> int:
    return max(1, math.ceil((window + 1) * bucket.interval - now))


def _until_admitted(previous: int, others: int, bucket: Bucket, now: float) -> int:
    """Seconds until the weighted count leaves room for one more start (``others``: this
    window's other starts), as Retry-After; the window's end when this window is full."""
    start = bucket.window(now) * bucket.interval
    if previous and others + 1 <= bucket.max:
        needed = 1 - (bucket.max - others - 1) / previous  # the part of the window that must pass
        return max(1, math.ceil(start + needed * bucket.interval - now))
    return max(1, math.ceil(start + bucket.interval - now))
