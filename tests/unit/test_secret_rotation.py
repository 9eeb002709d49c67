"""What rotating the server secret voids (docs/deploying.md, "Rotating the secret"): the secret
keys every code's MAC, every number's and identity's item key, the v2 API's SIDs and API keys.
The rotation section says so; this test shows it, so the page cannot understate it."""

from __future__ import annotations

from tests.conftest import TEST_STAGE, last_code
from tests.unit.helpers import NUMBER, check, error_code, get, start
from tests.unit.test_totp import IDENTITY, challenge, code_at, enrolled

ROTATED = "a-rotated-secret-for-this-test-only-0123456789abcdef"


def test_rotating_the_secret_voids_pending_codes_and_totp_enrolments(configured, clock, outbox):
    client = configured()
    assert start(client)[0] == 201
    code = last_code(outbox)
    factor = enrolled(client, clock)
    assert get(client, f"/v1/totp/factors?identity={IDENTITY}")[1]["factors"]

    rotated = configured(OTP_SECRET=ROTATED)
    status, body, _ = check(rotated, code)  # the number's item is keyed by the old secret
    assert status == 404 and error_code(body) == "verification_not_found", body
    status, listed, _ = get(rotated, f"/v1/totp/factors?identity={IDENTITY}")
    assert status == 200 and listed["factors"] == []  # the enrolment is not found any more
    status, body, _ = challenge(rotated, code_at(factor["secret"], clock.now))
    assert status == 404, body

    restored = configured(OTP_SECRET=TEST_STAGE["environment_variables"]["OTP_SECRET"])
    assert challenge(restored, code_at(factor["secret"], clock.now))[0] == 200  # nothing was lost

