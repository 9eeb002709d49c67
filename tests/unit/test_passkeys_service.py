"""The passkey service (chalicelib/passkeys/service.py) on moto's DynamoDB: each state change one
conditional write, single-use short-lived challenges, counters that never go back, scopes."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import errors
from chalicelib.codes import CodeHasher
from chalicelib.passkeys.models import (
    ChallengeNotFound,
    CounterWentBack,
    NoPasskey,
    PasskeyRefused,

    ReceiptUsed,
    RelyingParty,
    TooManyPasskeys,
    amr,
)
from chalicelib.passkeys.service import PasskeyService
from chalicelib.passkeys.store import DynamoDBPasskeyStore
from tests.conftest import TABLE
from tests.passkey_authenticator import SoftAuthenticator

ORIGIN = "http://localhost:8000"
RP = RelyingParty("localhost", "Verify", frozenset({ORIGIN}))
NUMBER = "+14155552671"

@pytest.fixture
def passkeys(aws, clock):
    hasher = CodeHasher(b"k" * 32)
    store = DynamoDBPasskeyStore(boto3.client("dynamodb"), TABLE)
    return PasskeyService(store, hasher.identity_key, ttl_seconds=300, max_factors=3, clock=clock)

def _enrolled(passkeys, identity=NUMBER, alg=-7, **kwargs):
    authenticator = SoftAuthenticator(alg=alg, origin=ORIGIN, rp_id="localhost", **kwargs)
    passkey, options = passkeys.register(identity, identity, "My passkey", RP)
    who, verified = passkeys.verify_registration(authenticator.create(options), RP)
    assert (who, verified.id, verified.status) == (identity, passkey.id, "verified")
    return authenticator, verified

def test_a_passkey_registers_and_signs_in_once_per_challenge(passkeys):
    authenticator, passkey = _enrolled(passkeys, sign_count=1)
    challenge, allowed, options = passkeys.challenge(NUMBER, None, RP)
    assert [p.id for p in allowed] == [passkey.id] and options["allowCredentials"][0]["transports"]
    assertion = authenticator.get(options)
    approval = passkeys.approve(assertion, RP)
    assert (approval.identity, approval.passkey.id) == (NUMBER, passkey.id)
    assert approval.challenge_id == challenge.id
    assert approval.sign_count == 2 and amr(approval.passkey, approval.user_verified) == ("swk", "user")
    with pytest.raises(ChallengeNotFound):  # the same assertion again: the challenge is spent
        passkeys.approve(assertion, RP)

def test_the_registration_options_exclude_the_numbers_passkeys_and_refuse_the_same_one_twice(passkeys):
    authenticator, passkey = _enrolled(passkeys)
    _, options = passkeys.register(NUMBER, NUMBER, "again", RP)
    assert [c["id"] for c in options["excludeCredentials"]] == [authenticator.create(options)["id"]]
    with pytest.raises(PasskeyRefused) as refused:
        passkeys.verify_registration(authenticator.create(options), RP)
    assert refused.value.check == "credential"

def test_a_registration_is_answered_once(passkeys):
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    _, options = passkeys.register(NUMBER, NUMBER, "x", RP)
    created = authenticator.create(options)
    passkeys.verify_registration(created, RP)
    with pytest.raises(ChallengeNotFound):
        passkeys.verify_registration(created, RP)

def test_an_expired_challenge_is_not_found(passkeys, clock):
    authenticator, _ = _enrolled(passkeys)
    _, _, options = passkeys.challenge(NUMBER, None, RP)
    clock.advance(301)
    with pytest.raises(ChallengeNotFound):
        passkeys.approve(authenticator.get(options), RP)
    _, options = passkeys.register(NUMBER, NUMBER, "late", RP)
    clock.advance(301)
    with pytest.raises(ChallengeNotFound):
        passkeys.verify_registration(SoftAuthenticator(origin=ORIGIN, rp_id="localhost").create(options), RP)

def test_a_counter_that_goes_back_is_refused_and_the_challenge_stays(passkeys):
    authenticator, _ = _enrolled(passkeys, sign_count=10)
    _, _, options = passkeys.challenge(NUMBER, None, RP)
    passkeys.approve(authenticator.get(options), RP)  # 11
    _, _, options = passkeys.challenge(NUMBER, None, RP)
    with pytest.raises(CounterWentBack):
        passkeys.approve(authenticator.get(options, count=5), RP)
    assert passkeys.approve(authenticator.get(options, count=12), RP).sign_count == 12

def test_another_numbers_passkey_is_refused_for_this_numbers_challenge(passkeys):
    _enrolled(passkeys)
    other, _ = _enrolled(passkeys, identity="+14155552672")
    _, _, options = passkeys.challenge(NUMBER, None, RP)
    with pytest.raises(PasskeyRefused) as refused:
        passkeys.approve(other.get(options), RP)
    assert refused.value.check == "credential"

def test_another_services_passkeys_are_not_found(passkeys):
    authenticator, _ = _enrolled(passkeys)
    theirs = passkeys.for_scope("VA" + "1" * 32)
    with pytest.raises(NoPasskey):
        theirs.challenge(NUMBER, None, RP)
    _, _, options = passkeys.challenge(NUMBER, None, RP)
    with pytest.raises((ChallengeNotFound, PasskeyRefused)):
        theirs.approve(authenticator.get(options), RP)
    with pytest.raises(errors.FactorNotFound):
        theirs.register(NUMBER, NUMBER, "x", RP)

def test_a_discoverable_sign_in_finds_the_passkey_by_its_user_handle_once(passkeys):
    authenticator, passkey = _enrolled(passkeys, alg=-8)
    challenge, allowed, options = passkeys.challenge(None, None, RP)
    assert challenge.id.startswith("YC") and allowed == [] and options["allowCredentials"] == []
    assertion = authenticator.get(options)
    approval = passkeys.approve(assertion, RP)
    assert (approval.identity, approval.passkey.id) == (NUMBER, passkey.id)
    assert approval.challenge_id == challenge.id
    assert approval.discoverable
    with pytest.raises(ChallengeNotFound):
        passkeys.approve(assertion, RP)

def test_a_receipt_registers_one_passkey(passkeys, clock):
    passkeys.register(NUMBER, NUMBER, "x", RP, receipt=("VE123", int(clock.now) + 300))
    with pytest.raises(ReceiptUsed):
        passkeys.register(NUMBER, NUMBER, "x", RP, receipt=("VE123", int(clock.now) + 300))

def test_the_number_of_passkeys_is_bounded_and_expired_registrations_make_room(passkeys, clock):
    for _ in range(3):
        passkeys.register(NUMBER, NUMBER, "x", RP)
    with pytest.raises(TooManyPasskeys):
        passkeys.register(NUMBER, NUMBER, "x", RP)
    clock.advance(301)
    passkeys.register(NUMBER, NUMBER, "x", RP)
    assert len(passkeys.passkeys(NUMBER)) == 1

def test_a_number_without_passkeys_has_no_challenge(passkeys):
    with pytest.raises(NoPasskey):
        passkeys.challenge(NUMBER, None, RP)


# -- a write retried after a lost answer recognises its own success (chalicelib/dynamodb.py) ----


@pytest.fixture
def lossy(aws, clock):
    """The service over a client whose next armed write lands and loses its answer: botocore's
    standard retry mode sends it again (tests/faults.py)."""
    from botocore.config import Config

    from tests.faults import Faults

    faults = Faults()
    client = faults.attach(boto3.client("dynamodb", config=Config(retries={"mode": "standard",
                                                                           "total_max_attempts": 3})))
    hasher = CodeHasher(b"k" * 32)
    service = PasskeyService(DynamoDBPasskeyStore(client, TABLE), hasher.identity_key, ttl_seconds=300,
                             max_factors=3, clock=clock)
    return service, faults


@pytest.mark.parametrize("step", ["register", "verify", "challenge", "approve"])
def test_each_write_retried_after_a_lost_answer_is_its_own_success(lossy, step):
    passkeys, faults = lossy
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost", sign_count=1)
    if step == "register":
        faults.arm("totp_write", "lost")
        passkeys.register(NUMBER, NUMBER, "x", RP, receipt=("VE1", 2_000_000_000))
        assert faults.hit == [("totp_write", "lost")]
        with pytest.raises(ReceiptUsed):  # spent once, by the first attempt
            passkeys.register(NUMBER, NUMBER, "x", RP, receipt=("VE1", 2_000_000_000))
        return
    _, options = passkeys.register(NUMBER, NUMBER, "x", RP)
    if step == "verify":
        faults.arm("totp_write", "lost")
    passkeys.verify_registration(authenticator.create(options), RP)
    if step == "challenge":
        faults.arm("totp_write", "lost")
    _, _, request = passkeys.challenge(NUMBER, None, RP)
    if step == "approve":
        faults.arm("totp_write", "lost")
    assert passkeys.approve(authenticator.get(request), RP).sign_count == 2
    assert faults.hit == [("totp_write", "lost")]


def test_a_discoverable_challenges_spend_retried_after_a_lost_answer_is_its_own(lossy):
    passkeys, faults = lossy
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    _, options = passkeys.register(NUMBER, NUMBER, "x", RP)
    passkeys.verify_registration(authenticator.create(options), RP)
    _, _, request = passkeys.challenge(None, None, RP)
    faults.arm("UpdateItem", "lost")  # the pkc# item's spend
    assert passkeys.approve(authenticator.get(request), RP).identity == NUMBER
    assert faults.hit == [("UpdateItem", "lost")]

