"""Receipts a backend binds to its own session (issue 22 item 8): the nonce and purpose given
at start (or with a TOTP challenge) travel into the receipt; a backend refuses a receipt with a
foreign nonce (examples/receipt_check.py, shown in docs/security.md)."""

from __future__ import annotations

import time

import jwt
import pytest

from examples.receipt_check import accept_receipt
from tests.unit.helpers import NUMBER, check, error_code, start
from tests.unit.test_receipts import ISSUER, jwks

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


@pytest.fixture
def real_time(clock):
    clock.now = time.time()
    return clock


@pytest.fixture
def jwks_url(client, monkeypatch):
    """PyJWKClient's HTTP fetch (jwt/jwks_client.py ``fetch_data``, which returns the parsed
    JWK Set) answered by the app's own route."""
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks(client))
    return "http://localhost:8000/.well-known/jwks.json"


def approve(client, outbox, **binding) -> str:
    outbox.clear()
    status, body, _ = start(client, **binding)
    assert status in (200, 201), body
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]
    status, body, _ = check(client, code)
    assert status == 200, body
    return body["receipt"]


def test_the_nonce_and_purpose_travel_into_the_receipt(client, outbox, real_time, jwks_url):
    receipt = approve(client, outbox, nonce="n-0S6_WzA2Mj", purpose="login")
    claims = accept_receipt(receipt, jwks_url, ISSUER, ISSUER, "n-0S6_WzA2Mj", "login")
    assert (claims["nonce"], claims["purpose"], claims["sub"]) == ("n-0S6_WzA2Mj", "login", NUMBER)


def test_the_example_backend_refuses_a_foreign_nonce_or_purpose(client, outbox, real_time, jwks_url):
    receipt = approve(client, outbox, nonce="session-A", purpose="signup")
    with pytest.raises(jwt.InvalidTokenError):
        accept_receipt(receipt, jwks_url, ISSUER, ISSUER, "session-B", "signup")
    with pytest.raises(jwt.InvalidTokenError):
        accept_receipt(receipt, jwks_url, ISSUER, ISSUER, "session-A", "login")
    with pytest.raises(jwt.InvalidAudienceError):
        accept_receipt(receipt, jwks_url, ISSUER, "https://another-app.example", "session-A", "signup")


def test_a_receipt_without_a_nonce_is_refused_by_a_backend_that_asks_for_one(client, outbox, real_time,
                                                                             jwks_url):
    receipt = approve(client, outbox)
    assert "nonce" not in jwt.decode(receipt, options={"verify_signature": False})
    with pytest.raises(jwt.MissingRequiredClaimError):
        accept_receipt(receipt, jwks_url, ISSUER, ISSUER, "session-A", None)


def test_the_last_start_s_nonce_wins_and_a_new_verification_inherits_none(client, outbox, real_time,
                                                                          clock):
    outbox.clear()
    assert start(client, nonce="first")[0] == 201
    clock.advance(60)  # past the resend interval
    outbox.clear()
    assert start(client, nonce="second")[0] == 200  # a resend of the same verification
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]
    receipt = check(client, code)[1]["receipt"]
    assert jwt.decode(receipt, options={"verify_signature": False})["nonce"] == "second"
    later = approve(client, outbox)  # a new verification of the same number
    assert "nonce" not in jwt.decode(later, options={"verify_signature": False})


@pytest.mark.parametrize("binding", [{"nonce": ""}, {"nonce": "has space"}, {"nonce": "x" * 257},
                                     {"nonce": 5}, {"purpose": ""}, {"purpose": "p" * 65},
                                     {"purpose": "line\nbreak"}])
def test_a_bad_nonce_or_purpose_is_400(client, binding):
    status, body, _ = start(client, **binding)
    assert status == 400 and error_code(body) == "invalid_request"


def test_a_totp_challenge_carries_them_too(client, clock):
    from tests.unit.test_totp import IDENTITY, challenge, code_at, enrolled

    clock.now = (int(time.time()) // 30) * 30 + 15 - 30
    factor = enrolled(client, clock)
    status, body, _ = challenge(client, code_at(factor["secret"], clock.now), identity=IDENTITY,
                                nonce="sess-1", purpose="transaction")
    assert status == 200, body
    claims = jwt.decode(body["receipt"], options={"verify_signature": False})
    assert (claims["nonce"], claims["purpose"]) == ("sess-1", "transaction")


def test_a_test_number_s_receipt_says_so_and_a_real_one_does_not(configured, outbox, real_time):
    """Issue 22 item 7: OTP_TEST_NUMBERS (refused in prod unless OTP_ALLOW_TEST_NUMBERS_IN_PROD,
    tests/unit/test_limits.py) answer a receipt a backend can tell apart."""
    client = configured(OTP_TEST_NUMBERS='{"+15005550006": "123456"}')
    assert start(client, to="+15005550006")[0] == 201
    status, body, _ = check(client, "123456", to="+15005550006")
    assert status == 200
    assert jwt.decode(body["receipt"], options={"verify_signature": False})["test_number"] is True
    real = approve(client, outbox)
    assert "test_number" not in jwt.decode(real, options={"verify_signature": False})
