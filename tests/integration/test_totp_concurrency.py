"""TOTP codes over real HTTP on dynalite (per-item locking): a code is accepted once even
under 20 concurrent submissions (the other 19 are replays, counted as wrong codes), and
concurrent wrong codes are counted exactly up to the throttle, per source and per factor.
KMS is moto's server (Encrypt/Decrypt and Sign as in tests/unit/test_totp.py)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest

from tests.live import moto_kms

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


@pytest.fixture(scope="module")
def totp_server(serve, tmp_path_factory):
    with moto_kms("test") as variables:
        yield serve(**variables)


def _enrolled(server, identity: str) -> str:
    response = server.post("/v1/totp/factors", {"identity": identity})
    assert response.status_code == 201, response.text
    factor = response.json()
    totp = pyotp.TOTP(factor["secret"])
    # Confirm with the previous step's code, so the current step's code is still unused.
    confirmed = server.post(f"/v1/totp/factors/{factor['id']}/verify", {"code": totp.at(time.time() - 30)})
    assert confirmed.status_code == 200, confirmed.text
    return factor["secret"]


def test_twenty_concurrent_submissions_of_one_code_approve_once(totp_server):
    secret = _enrolled(totp_server, "concurrent-user")
    code = pyotp.TOTP(secret).at(time.time())
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(
            lambda _: totp_server.post("/v1/totp/challenges", {"identity": "concurrent-user", "code": code}),
            range(20),
        ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 403, 429}, statuses
    (approved,) = [r.json() for r in responses if r.status_code == 200]
    assert approved["receipt"] and approved["receipt"].count(".") == 2
    # A replay is only seen after the approval landed: each one answered 403 was counted once
    # as a wrong code (the 429s were refused by the throttle, uncounted).
    listed = totp_server.get("/v1/totp/factors?identity=concurrent-user").json()["factors"][0]
    assert listed["consecutive_failures"] == statuses.count(403) <= 5, (listed, statuses)


def test_fifty_concurrent_wrong_codes_count_exactly_to_the_limit(totp_server):
    secret = _enrolled(totp_server, "guessed-user")
    right = pyotp.TOTP(secret).at(time.time())
    wrong = f"{(int(right) + 500_000) % 10**6:06d}"
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(
            lambda _: totp_server.post("/v1/totp/challenges", {"identity": "guessed-user", "code": wrong}),
            range(50),
        ))
    statuses = [r.status_code for r in responses]
    assert statuses.count(403) == 5 and statuses.count(429) == 45, sorted(statuses)
    late = totp_server.post("/v1/totp/challenges", {"identity": "guessed-user", "code": right})
    assert late.status_code == 429 and late.json()["error"]["code"] == "max_attempts_reached"
    listed = totp_server.get("/v1/totp/factors?identity=guessed-user").json()["factors"][0]
    assert listed["consecutive_failures"] == 5


def test_fifty_concurrent_wrong_codes_from_fifty_sources_stop_at_the_factor_s_twenty(totp_server):
    """One source each (a stranger rotating addresses): the factor's own throttle holds."""
    secret = _enrolled(totp_server, "rotated-user")
    right = pyotp.TOTP(secret).at(time.time())
    wrong = f"{(int(right) + 500_000) % 10**6:06d}"
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(
            lambda n: totp_server.post("/v1/totp/challenges", {"identity": "rotated-user", "code": wrong,
                                                               "device_ip": f"192.0.2.{n + 1}"}),
            range(50),
        ))
    statuses = [r.status_code for r in responses]
    assert statuses.count(403) == 20 and statuses.count(429) == 30, sorted(statuses)
    listed = totp_server.get("/v1/totp/factors?identity=rotated-user").json()["factors"][0]
    assert listed["consecutive_failures"] == 20
