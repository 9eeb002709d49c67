"""Standard Webhooks signing against the spec repository's own test vectors
(github.com/standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py:
test_sign_function and PayloadForTesting)."""

from __future__ import annotations

import pytest

from chalicelib.events import standard_webhooks as sw

# test_sign_function: the same vector appears in the Go, JS, Java, PHP, Ruby and C# suites.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
PAYLOAD = b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_matches_the_spec_vector():
    assert sw.sign(SECRET, MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED


def test_secret_without_prefix_or_padding_is_the_same_key():
    assert sw.sign("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", MSG_ID, TIMESTAMP, PAYLOAD) == EXPECTED


def test_verify_accepts_the_vector_within_tolerance():
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": EXPECTED}
    sw.verify(SECRET, headers, PAYLOAD, now=TIMESTAMP + 299)


def test_verify_takes_any_matching_signature_in_the_list():
    sigs = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,xx " + EXPECTED
    headers = {"Webhook-Id": MSG_ID, "Webhook-Timestamp": str(TIMESTAMP), "Webhook-Signature": sigs}
    sw.verify(SECRET, headers, PAYLOAD, now=TIMESTAMP)


@pytest.mark.parametrize("change", [
    {"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="},  # the spec's bad one
    {"webhook-id": "msg_other"},
    {"webhook-timestamp": str(TIMESTAMP + 1)},
    {"webhook-timestamp": "hello"},
    {"webhook-signature": ""},
])
def test_verify_refuses_tampering(change):
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(TIMESTAMP), "webhook-signature": EXPECTED}
    headers.update(change)
    with pytest.raises(sw.InvalidWebhook):
        sw.verify(SECRET, headers, PAYLOAD, now=TIMESTAMP)


def test_verify_refuses_a_changed_body():
    headers = sw.headers(SECRET, MSG_ID, TIMESTAMP, PAYLOAD)
    with pytest.raises(sw.InvalidWebhook):
        sw.verify(SECRET, headers, b'{"test": 2432232315}', now=TIMESTAMP)


@pytest.mark.parametrize("skew", [-301, 301])
def test_verify_refuses_stale_or_future_timestamps(skew):
    headers = sw.headers(SECRET, MSG_ID, TIMESTAMP, PAYLOAD)
    with pytest.raises(sw.InvalidWebhook):
        sw.verify(SECRET, headers, PAYLOAD, now=TIMESTAMP - skew)


def test_new_secret_round_trips():
    secret = sw.new_secret()
    assert secret.startswith("whsec_") and len(sw.secret_bytes(secret)) == 32
    sw.verify(secret, sw.headers(secret, "msg_1", TIMESTAMP, b"{}"), b"{}", now=TIMESTAMP)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_!!!"])
def test_bad_secrets_are_refused(bad):
    with pytest.raises(ValueError):
        sw.secret_bytes(bad)
