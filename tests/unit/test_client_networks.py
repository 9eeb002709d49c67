"""Per-IP limits count a client's network, not its address (issue 28, item 6): an IPv6 source
per /64 (one subscriber's usual allocation, RFC 6177: rotating inside it is free), an
IPv4-mapped address (``::ffff:a.b.c.d``, RFC 4291 2.5.5.2) as its IPv4 address, an IPv4
address as is. One rule (chalicelib/networks.py) for every per-IP counter: v1's sourceIp,
v2's DeviceIp, the check's per-IP limit, TOTP's sources and the v2 door's failure count."""

from __future__ import annotations

import pytest

from tests.unit.helpers import NUMBER, check, error_code, start
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401 (key: a fixture)

PREFIX = "2001:db8:5:7"  # one /64


def number(i: int) -> str:
    """Distinct US numbers in distinct prefixes (only the per-IP limit binds)."""
    return f"+1415{200 + i:03d}{i % 10}000"


@pytest.mark.parametrize("raw, network", [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:5:7::1", "2001:db8:5:7::/64"),
    ("2001:0DB8:0005:0007:ffff:1:2:3", "2001:db8:5:7::/64"),  # any spelling: one form
    ("::ffff:203.0.113.7", "203.0.113.7"),
    ("::FFFF:cb00:7107", "203.0.113.7"),  # the mapped form in hex
    ("fe80::1%eth0", "fe80::/64"),  # a zone never makes a separate count
    ("not-an-ip", None), ("", None), ("203.0.113.7/32", None), (None, None), (7, None),
])
def test_one_canonical_form(raw, network):
    from chalicelib.networks import client_network

    assert client_network(raw) == network


def test_parse_device_ip_is_the_same_rule():
    from chalicelib.totp.limits import parse_device_ip

    assert parse_device_ip("::ffff:203.0.113.7") == "203.0.113.7"  # was "::/64": every mapped client as one
    assert parse_device_ip("2001:db8:5:7::9") == "2001:db8:5:7::/64"


# -- v2 DeviceIp: 25 starts from one /64 with a limit of 20 ----------------------------------


def test_v2_device_ips_of_one_64_share_one_count(configured, key, outbox):  # noqa: F811
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="20")
    sid = new_service(client, key)["sid"]
    statuses, last = [], None
    for i in range(25):  # the attacker walks 25 addresses of its /64
        status, body, headers = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                                     {"To": number(i), "Channel": "sms", "DeviceIp": f"{PREFIX}::{i + 1:x}"})
        statuses.append(status)
        last = (status, body, headers)
    assert statuses == [201] * 20 + [429] * 5, statuses
    status, body, headers = last
    assert twilio_error(body) == 20429 and int(headers["Retry-After"]) > 0
    assert len(outbox) == 20
    # An honest neighbour on another /64 (and an IPv4 user) is not refused.
    for to, ip in ((number(30), "2001:db8:5:8::1"), (number(31), "198.51.100.4")):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                               {"To": to, "Channel": "sms", "DeviceIp": ip})
        assert status == 201, body


def test_v2_the_mapped_form_counts_with_its_ipv4_address(configured, key):  # noqa: F811
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="2")
    sid = new_service(client, key)["sid"]
    ips = ["203.0.113.9", "::ffff:203.0.113.9", "::ffff:cb00:7109"]
    statuses = [call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                     {"To": number(i), "Channel": "sms", "DeviceIp": ip})[0] for i, ip in enumerate(ips)]
    assert statuses == [201, 201, 429]


@pytest.mark.parametrize("ip", ["2001:db8::/64", "203.0.113.0/24", "::ffff:999.1.1.1", " 203.0.113.9"])
def test_v2_a_device_ip_that_is_no_address_is_60200(client, key, ip):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": NUMBER, "Channel": "sms", "DeviceIp": ip})
    assert status == 400 and twilio_error(body) == 60200 and "DeviceIp" in body["message"]


# -- v1: API Gateway's sourceIp ----------------------------------------------------------------


def test_v1_8_starts_from_one_64_with_a_limit_of_3(configured, outbox):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="3")
    statuses = []
    for i in range(8):
        configured.from_ip(f"{PREFIX}:{i:x}:{i:x}:{i:x}:{i + 1:x}")
        statuses.append(start(client, to=number(i)))
    assert [s[0] for s in statuses] == [201] * 3 + [429] * 5
    status, body, headers = statuses[-1]
    assert error_code(body) == "ip_rate_limited" and int(headers["Retry-After"]) > 0
    assert len(outbox) == 3
    configured.from_ip("2001:db8:5:8::1")  # the neighbour's /64
    assert start(client, to=number(20))[0] == 201


def test_v1_the_mapped_form_counts_with_its_ipv4_address(configured):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1")
    configured.from_ip("198.51.100.7")
    assert start(client, to=number(1))[0] == 201
    configured.from_ip("::ffff:198.51.100.7")
    assert start(client, to=number(2))[0] == 429
    configured.from_ip("198.51.100.8")
    assert start(client, to=number(3))[0] == 201


def test_v1_checks_from_one_64_share_one_count(configured, outbox):
    client = configured(OTP_MAX_CHECKS_PER_IP_PER_HOUR="3")
    configured.from_ip("198.51.100.20")
    start(client)
    statuses = []
    for i in range(5):
        configured.from_ip(f"{PREFIX}::{i + 1:x}")
        statuses.append(check(client, "000000")[0])
    assert statuses == [403, 403, 403, 429, 429]
    configured.from_ip("2001:db8:5:8::1")
    assert check(client, "000000")[0] == 403  # another /64: counted apart (a wrong code, not 429)


def test_the_v2_doors_failure_count_is_per_network():
    """The door's count of wrong keys per source (past it, an unknown key SID no longer makes
    the container re-read the keys) counts a /64 as one source."""
    import base64

    from chalicelib.twilio_v2.credentials import FAILURES_PER_MINUTE, Authenticator

    class Keys:  # the key store: its reads are what the failure count saves
        loads = 0

        def load(self):
            from chalicelib.twilio_v2.credentials import Credentials

            Keys.loads += 1
            return Credentials({})

    now = [0.0]  # all in one minute (the count is per minute)
    authenticator = Authenticator(Keys(), lambda sid, secret: "0" * 64, monotonic=lambda: now[0])
    unknown = "Basic " + base64.b64encode(b"SK" + b"0" * 32 + b":secret").decode()
    for i in range(FAILURES_PER_MINUTE):
        now[0] += 1.5  # past MISS_REFRESH_SECONDS: each miss could re-read
        assert authenticator.authenticate(unknown, f"{PREFIX}::{i + 1:x}") is None
    before = Keys.loads
    now[0] += 1.5
    authenticator.authenticate(unknown, f"{PREFIX}::ffff")  # the same /64: no re-read
    assert Keys.loads == before
    now[0] += 1.5
    authenticator.authenticate(unknown, "2001:db8:5:8::1")  # a neighbour's /64 still re-reads
    assert Keys.loads == before + 1
