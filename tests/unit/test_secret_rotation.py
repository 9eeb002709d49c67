"""What rotating the server secret voids (docs/deploying.md, "Rotating the secret"): alone, the
secret keys every code's MAC, every number's and identity's item key, the v2 API's SIDs and API
keys; with an identity key (OTP_IDENTITY_SECRET) beside it, only the codes' MACs. The rotation
section says so; these tests show it, so the page cannot understate it."""

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



IDENTITY_SECRET = "an-identity-key-for-this-test-only-0123456789abcdef"


def test_with_an_identity_key_rotating_the_code_key_voids_only_pending_codes(configured, clock, outbox):
    """OTP_IDENTITY_SECRET keys everything but code MACs: after a rotation of OTP_SECRET (the
    code key) the number's item, the TOTP factor, the account SID and the API keys still work."""
    from scripts.keys.api_keys import create
    from tests.unit.test_twilio_v2 import call

    client = configured(OTP_IDENTITY_SECRET=IDENTITY_SECRET)
    key = create("test", "tests")  # scripts/keys/api_keys.py, as an operator makes one
    status, service, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme"})
    assert status == 201 and service["account_sid"] == key["account_sid"], service
    assert start(client)[0] == 201
    code = last_code(outbox)
    factor = enrolled(client, clock)

    rotated = configured(OTP_SECRET=ROTATED)  # the code key only; the identity key stays
    status, body, _ = check(rotated, code)  # the item is found: the old code is just a wrong one
    assert status != 404 and error_code(body) == "incorrect_code", (status, body)
    status, listed, _ = get(rotated, f"/v1/totp/factors?identity={IDENTITY}")
    assert status == 200 and [f["id"] for f in listed["factors"]] == [factor["id"]]
    assert challenge(rotated, code_at(factor["secret"], clock.now))[0] == 200
    status, fetched, _ = call(rotated, key, "GET", f"/v2/Services/{service['sid']}")  # the key authenticates
    assert status == 200 and fetched["account_sid"] == key["account_sid"], fetched

    # The control: the same rotation without an identity key voids the key and the SID.
    alone = configured(OTP_IDENTITY_SECRET="")
    assert call(alone, key, "GET", f"/v2/Services/{service['sid']}")[0] == 401


def test_the_code_key_keys_code_macs_only_and_one_key_keeps_todays_values():
    import hashlib
    import hmac

    from chalicelib.codes import CodeHasher

    code_a, code_b, identity = b"a" * 32, b"b" * 32, b"i" * 32
    one, two = CodeHasher(code_a, identity), CodeHasher(code_b, identity)
    number_key = one.number_key(NUMBER)
    verification_id = one.verification_id(number_key)
    old_id = one.legacy_verification_id(number_key, "0123456789abcdef")  # before 34-character SIDs
    for method, args in [("number_key", (NUMBER,)), ("number_key", (NUMBER, "VA" + "0" * 32)),
                         ("derived_sid", ("AC", "account")), ("api_key_mac", ("SK1", "s")),
                         ("identity_key", ("alice",)), ("source_key", ("203.0.113.0/24",)),
                         ("number_key_of", (old_id,)), ("send_reference", (old_id, 1)),
                         ("send_reference", (verification_id, 1, number_key))]:
        assert getattr(one, method)(*args) == getattr(two, method)(*args), method  # the identity key's
    assert two.read_send_reference(one.send_reference(verification_id, 1, number_key))[1] == verification_id
    assert two.read_send_reference(one.send_reference(old_id, 1))[1] == old_id
    assert one.code_mac("k", "123456") != two.code_mac("k", "123456")  # the code key's
    assert one.code_mac("k", "123456") == CodeHasher(code_a, b"x" * 32).code_mac("k", "123456")

    # No identity key: the server secret does both jobs, with the values a stage has today.
    alone = CodeHasher(code_a)
    assert alone.derived_sid("AC", "account") == "AC" + hmac.new(code_a, b"sid\x00account", hashlib.sha256).hexdigest()[:32]
    assert alone.code_mac("k", "1") == hmac.new(code_a, b"code\x00k\x001", hashlib.sha256).hexdigest()
    assert alone.number_key(NUMBER) == CodeHasher(code_a, code_a).number_key(NUMBER)
