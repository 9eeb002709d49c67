"""The WebAuthn verifier (chalicelib/passkeys/webauthn.py), each case cross-checked against
py_webauthn (Duo Labs, on ``cryptography``): both accept what one accepts, both refuse what
one refuses, for ES256, EdDSA and RS256 keys from a software authenticator."""

from __future__ import annotations

import json
import os

import pytest
import webauthn as py_webauthn
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse

from chalicelib.passkeys import cose
from chalicelib.passkeys.webauthn import (
    CeremonyRefused,
    CounterRegressed,
    b64url,
    verify_assertion,
    verify_registration,
)
from tests.passkey_authenticator import AT, BE, UP, UV, SoftAuthenticator, unb64url

ORIGIN, RP_ID = "http://localhost:8000", "localhost"
ALGS = [cose.ES256, cose.EDDSA, cose.RS256]


def _options(challenge: bytes) -> dict:
    return {"challenge": b64url(challenge), "rp": {"id": RP_ID}, "rpId": RP_ID,
            "user": {"id": b64url(b"user-1")}}


def _register_both(credential: dict, challenge: bytes, uv: str = "preferred"):
    """(ours, py_webauthn's): each the result or the exception."""
    try:
        ours: object = verify_registration(credential, challenge=challenge, origins=[ORIGIN], rp_id=RP_ID,
                                           user_verification=uv)
    except CeremonyRefused as exc:
        ours = exc
    try:
        theirs: object = py_webauthn.verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID,
            require_user_verification=uv == "required",
            supported_pub_key_algs=[py_webauthn.helpers.cose.COSEAlgorithmIdentifier(a) for a in ALGS])
    except InvalidRegistrationResponse as exc:
        theirs = exc
    return ours, theirs


def _assert_both(credential: dict, challenge: bytes, public_key: bytes, count: int, uv: str = "preferred"):
    try:
        ours: object = verify_assertion(credential, challenge=challenge, origins=[ORIGIN], rp_id=RP_ID,
                                        public_key=public_key, sign_count=count, user_verification=uv)
    except CeremonyRefused as exc:
        ours = exc
    try:
        theirs: object = py_webauthn.verify_authentication_response(
            credential=credential, expected_challenge=challenge, expected_origin=ORIGIN, expected_rp_id=RP_ID,
            credential_public_key=public_key, credential_current_sign_count=count,
            require_user_verification=uv == "required")
    except InvalidAuthenticationResponse as exc:
        theirs = exc
    return ours, theirs


def _registered(alg: int, **kwargs) -> tuple[SoftAuthenticator, bytes]:
    authenticator = SoftAuthenticator(alg=alg, origin=ORIGIN, rp_id=RP_ID, **kwargs)
    challenge = os.urandom(32)
    new = verify_registration(authenticator.create(_options(challenge)), challenge=challenge,
                              origins=[ORIGIN], rp_id=RP_ID)
    return authenticator, new.public_key


@pytest.mark.parametrize("alg", ALGS)
def test_a_registration_is_accepted_by_both_with_its_key_and_counter(alg):
    authenticator = SoftAuthenticator(alg=alg, origin=ORIGIN, rp_id=RP_ID, sign_count=5)
    challenge = os.urandom(32)
    ours, theirs = _register_both(authenticator.create(_options(challenge)), challenge)
    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception), (ours, theirs)
    assert ours.credential_id == theirs.credential_id == authenticator.credential_id
    assert ours.public_key == theirs.credential_public_key
    assert ours.algorithm == alg and ours.sign_count == theirs.sign_count == 5
    assert ours.transports == ("hybrid", "internal") and ours.user_verified and ours.backed_up


def _tamper_json(credential: dict, **changes) -> dict:
    response = dict(credential["response"])
    data = json.loads(unb64url(response["clientDataJSON"]))
    data.update(changes)
    response["clientDataJSON"] = b64url(json.dumps(data).encode())
    return {**credential, "response": response}


REGISTRATION_REFUSALS = {
    "other origin": (lambda a, c: a.create(_options(c), origin="https://evil.example"), "origin"),
    "other challenge": (lambda a, c: a.create(_options(os.urandom(32))), "challenge"),
    "rpId of another site": (lambda a, c: a.create(_options(c), rp_id="evil.example"), "rpId"),
    "no user presence": (lambda a, c: a.create(_options(c), flags=AT | UV), "flags"),
    "a get() result's type": (lambda a, c: _tamper_json(a.create(_options(c)), type="webauthn.get"), "type"),
}


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("case", sorted(REGISTRATION_REFUSALS))
def test_a_registration_refused_by_one_is_refused_by_both(alg, case):
    make, check = REGISTRATION_REFUSALS[case]
    challenge = os.urandom(32)
    ours, theirs = _register_both(make(SoftAuthenticator(alg=alg, origin=ORIGIN, rp_id=RP_ID), challenge),
                                  challenge)
    assert isinstance(ours, CeremonyRefused) and ours.check == check, ours
    assert isinstance(theirs, InvalidRegistrationResponse)


def test_user_verification_required_refuses_a_registration_without_it_as_py_webauthn_does():
    challenge = os.urandom(32)
    credential = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID, uv=False).create(_options(challenge))
    ours, theirs = _register_both(credential, challenge, uv="required")
    assert isinstance(ours, CeremonyRefused) and ours.check == "flags"
    assert isinstance(theirs, InvalidRegistrationResponse)
    ours, theirs = _register_both(credential, challenge, uv="preferred")
    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception)
    assert not ours.user_verified


def test_an_attestation_other_than_none_is_refused():
    challenge = os.urandom(32)
    credential = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID).create(_options(challenge), fmt="packed")
    ours, theirs = _register_both(credential, challenge)
    assert isinstance(ours, CeremonyRefused) and ours.check == "attestation"
    assert isinstance(theirs, InvalidRegistrationResponse)  # packed with no signature


@pytest.mark.parametrize("alg", ALGS)
def test_an_assertion_is_accepted_by_both_and_moves_the_counter(alg):
    authenticator, key = _registered(alg, sign_count=7)
    challenge = os.urandom(32)
    ours, theirs = _assert_both(authenticator.get(_options(challenge)), challenge, key, 7)
    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception), (ours, theirs)
    assert ours.sign_count == theirs.new_sign_count == 8
    assert ours.user_handle == b"user-1" and ours.user_verified


def test_synced_passkeys_counters_at_zero_are_accepted_by_both():
    authenticator, key = _registered(cose.ES256, sign_count=0, step=0)
    challenge = os.urandom(32)
    ours, theirs = _assert_both(authenticator.get(_options(challenge)), challenge, key, 0)
    assert not isinstance(ours, Exception) and not isinstance(theirs, Exception)
    assert ours.sign_count == 0


def _flip(credential: dict, field: str, at: int) -> dict:
    response = dict(credential["response"])
    raw = bytearray(unb64url(response[field]))
    raw[at] ^= 0x01
    response[field] = b64url(bytes(raw))
    return {**credential, "response": response}


ASSERTION_REFUSALS = {
    "other origin": (lambda a, c: a.get(_options(c), origin="https://evil.example"), "origin"),
    "other challenge": (lambda a, c: a.get(_options(os.urandom(32))), "challenge"),
    "rpId of another site": (lambda a, c: a.get(_options(c), rp_id="evil.example"), "rpId"),
    "no user presence": (lambda a, c: a.get(_options(c), flags=UV | BE), "flags"),
    "tampered clientDataJSON": (lambda a, c: _tamper_json(a.get(_options(c)), tokenBinding="x"),
                                "signature"),
    "tampered authenticatorData": (lambda a, c: _flip(a.get(_options(c)), "authenticatorData", 36),
                                   "signature"),
    "tampered signature": (lambda a, c: _flip(a.get(_options(c)), "signature", 40), "signature"),
    "counter not above the stored one": (lambda a, c: a.get(_options(c), count=10), "counter"),
    "counter back": (lambda a, c: a.get(_options(c), count=3), "counter"),
    "a create() result's type": (lambda a, c: _tamper_json(a.get(_options(c)), type="webauthn.create"),
                                 "type"),
}


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("case", sorted(ASSERTION_REFUSALS))
def test_an_assertion_refused_by_one_is_refused_by_both(alg, case):
    authenticator, key = _registered(alg, sign_count=10)
    make, check = ASSERTION_REFUSALS[case]
    challenge = os.urandom(32)
    ours, theirs = _assert_both(make(authenticator, challenge), challenge, key, 10)
    assert isinstance(ours, CeremonyRefused) and ours.check == check, ours
    assert isinstance(ours, CounterRegressed) == (check == "counter")
    assert isinstance(theirs, InvalidAuthenticationResponse)


def test_an_assertion_signed_by_another_authenticator_is_refused_by_both():
    authenticator, key = _registered(cose.ES256)
    other = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID, credential_id=authenticator.credential_id)
    challenge = os.urandom(32)
    ours, theirs = _assert_both(other.get(_options(challenge)), challenge, key, 0)
    assert isinstance(ours, CeremonyRefused) and ours.check == "signature"
    assert isinstance(theirs, InvalidAuthenticationResponse)


def test_user_verification_required_refuses_an_assertion_without_it():
    authenticator, key = _registered(cose.EDDSA)
    challenge = os.urandom(32)
    credential = authenticator.get(_options(challenge), flags=UP)
    ours, theirs = _assert_both(credential, challenge, key, 0, uv="required")
    assert isinstance(ours, CeremonyRefused) and ours.check == "flags"
    assert isinstance(theirs, InvalidAuthenticationResponse)


@pytest.mark.parametrize("credential", [None, [], {}, {"response": "x"},
                                        {"response": {"clientDataJSON": "!!"}},
                                        {"type": "password", "response": {}}])
def test_malformed_credentials_are_refused_not_raised(credential):
    with pytest.raises(CeremonyRefused):
        verify_assertion(credential, challenge=b"x", origins=[ORIGIN], rp_id=RP_ID, public_key=b"",
                         sign_count=0)


def test_an_rsa_key_under_2048_bits_is_refused():
    import cbor2
    with pytest.raises(cose.UnsupportedKey):
        cose.parse_key(cbor2.dumps({1: 3, 3: -257, -1: b"\xff" * 128, -2: b"\x01\x00\x01"}))
