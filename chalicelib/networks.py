"""The one canonical form of a client's address, for every per-IP count (v1's sourceIp, v2's
DeviceIp, the checks' per-IP limit, TOTP's sources, the v2 door's failure count).

A count keys what a client cannot cheaply change: an IPv4 address as is; an IPv6 address as
its /64 (the usual allocation to one subscriber, RFC 6177 and RIPE-690: a host picks any of
its 2^64 addresses at will, SLAAC privacy addresses rotate on their own); an IPv4-mapped IPv6
address (``::ffff:a.b.c.d``, RFC 4291 2.5.5.2, what a dual-stack socket reports for an IPv4
peer) as the IPv4 address it is. A zone (``fe80::1%eth0``) is dropped. Standard library only,
imported by the limiter and the TOTP limits alike (no cycle)."""

from __future__ import annotations

import ipaddress

IPV6_PREFIX = 64


def client_network(raw: object) -> str | None:
    """``raw``'s canonical form (``"203.0.113.7"``, ``"2001:db8:5:7::/64"``), or None when
    it is not one IP address (a network, a host name, spaces, anything else)."""
    if not isinstance(raw, str):
        return None
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(address), IPV6_PREFIX), strict=False))
    return str(address)


def count_key(source: str) -> str:
    """What a per-IP counter keys for ``source``: its network, or ``source`` itself when it is
    no address (API Gateway always gives one; ``"unknown"`` outside it)."""
    return client_network(source) or source
