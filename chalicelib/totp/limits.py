"""How wrong authenticator codes are slowed down and stopped (NIST SP 800-63B 5.2.2, rules 18-20
of docs/security.md).

Every wrong code counts on the factor it was compared with (consecutive, across all time, reset
only by a right code or by the backend re-enabling the factor) and, when the backend passes the
end user's IP, on that source. After ``FREE`` wrong codes in a row the next one waits, 30 s,
then twice as long each time up to an hour. Sources are what a stranger cannot borrow: with a
source the factor itself only starts to wait after ``FREE_WITH_SOURCES`` (a stranger rotating
addresses), so a stranger cannot make the real user wait with a few wrong codes. At
``max_failures`` (100) the factor is suspended: a hard stop strangers can reach too, which is
why the backend hears of it (an event) and can re-enable the factor.
"""

from __future__ import annotations

from chalicelib.errors import InvalidRequest
from chalicelib.networks import client_network
from chalicelib.totp.store import IdentityItem, TotpFactor

FREE = 5  # wrong codes in a row before the first wait: per source, or per factor without one
FREE_WITH_SOURCES = 20  # per factor, when the backend passes the end user's IP
FIRST_DELAY_SECONDS = 30
MAX_DELAY_SECONDS = 3600
SOURCE_MEMORY_SECONDS = 86_400  # a source quiet for a day starts again (keeps the item small)


def delay_after(failures: int, free: int) -> int:
    """Seconds to wait after the last of ``failures`` consecutive wrong codes."""
    if failures < free:
        return 0
    return min(FIRST_DELAY_SECONDS << min(failures - free, 16), MAX_DELAY_SECONDS)


def parse_device_ip(raw: object) -> str | None:
    """The end user's address as the backend saw it, as the network it stands for
    (chalicelib/networks.py: an IPv4 address, an IPv6 /64, a mapped address as its IPv4)."""
    if raw is None:
        return None
    network = client_network(raw)
    if network is None:
        raise InvalidRequest("'device_ip' must be an IPv4 or IPv6 address.")
    return network


def source_fails(item: IdentityItem, source: str | None, now: float) -> tuple[int, bool]:
    """(consecutive wrong codes from ``source`` as stored, whether that record is stale)."""
    record = item.sources.get(source) if source else None
    if record is None:
        return 0, False
    return record.fails, now - record.failed_at >= SOURCE_MEMORY_SECONDS


def stale_sources(item: IdentityItem, now: float) -> list[str]:
    return [key for key, record in item.sources.items() if now - record.failed_at >= SOURCE_MEMORY_SECONDS]


def wait_seconds(item: IdentityItem, factors: list[TotpFactor], source: str | None, now: float) -> int:
    """How long before the next code may be compared (0: now)."""
    free = FREE_WITH_SOURCES if source else FREE
    until = max((_wait_ends(f.failed_at, f.fails, free) for f in factors), default=0)
    fails, stale = source_fails(item, source, now)
    if source and fails and not stale:
        record = item.sources[source]
        until = max(until, _wait_ends(record.failed_at, record.fails, FREE))
    return max(0, until - int(now))


def _wait_ends(failed_at: int, failures: int, free: int) -> int:
    """When the wait after ``failures`` consecutive wrong codes ends (0: none is due). Only a
    count past its free wrong codes makes a wait: a ``failed_at`` a concurrent request stamped a
    second after this request's ``now`` must not read as a one-second wait by itself."""
    delay = delay_after(failures, free)
    return failed_at + delay if delay else 0
