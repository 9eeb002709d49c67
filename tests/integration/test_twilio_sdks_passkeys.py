"""twilio-python, unchanged, drives Twilio's four Passkeys routes over HTTP (scripts/local/serve.py
and dynalite, as tests/integration/test_twilio_sdks.py serves the app), with what a browser's
create() and get() give (tests/passkey_authenticator.py, a software authenticator); each
refusal the issue lists is a test here."""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.test_twilio_sdks import make_key, sdk
from tests.live import moto_kms
from tests.passkey_authenticator import SoftAuthenticator, b64url, unb64url

ORIGIN, RP_ID = "https://app.example.com", "app.example.com"


@pytest.fixture(scope="module")
def key(dynamodb_endpoint):
    return make_key(dynamodb_endpoint)


@pytest.fixture(scope="module")
def server(serve):
    """With the receipts' key (KMS: moto's server), as `make run` has it."""
    with moto_kms("test") as kms:
        yield serve(**kms)


def _classes():
    from twilio.rest.verify.v2.service.approve_challenge import ApproveChallengeList
    from twilio.rest.verify.v2.service.new_challenge import NewChallengeList
    from twilio.rest.verify.v2.service.new_factor import NewFactorList
    from twilio.rest.verify.v2.service.new_verify_factor import NewVerifyFactorList

    return NewFactorList, NewVerifyFactorList, NewChallengeList, ApproveChallengeList


def _service(client, **passkeys):
    params = {f"passkeys_{k}": v for k, v in passkeys.items()}
    return client.verify.v2.services.create(friendly_name="Acme", **params)


def _factor(client, service_sid, identity, config=None):
    new_factor = _classes()[0]
    request = new_factor.CreateNewPasskeysFactorRequest(
        {"friendly_name": "Alice's laptop", "identity": identity, "config": config})
    return client.verify.v2.services(service_sid).new_factors.create(request)


def _verify(client, service_sid, created):
    request = _classes()[1].VerifyPasskeysFactorRequest(created)
    return client.verify.v2.services(service_sid).new_verify_factors.update(request)


def _challenge(client, service_sid, **who):
    request = _classes()[2].CreatePasskeysChallengeRequest(who)
    return client.verify.v2.services(service_sid).new_challenge().create(request)  # a context, as generated


def _approve(client, service_sid, asserted):
    request = _classes()[3].ApprovePasskeysChallengeRequest(asserted)
    return client.verify.v2.services(service_sid).approve_challenge.update(request)


CONFIG = {"relying_party": {"id": RP_ID, "name": "Acme", "origins": [ORIGIN]},
          "authenticator_attachment": "platform", "discoverable_credentials": "preferred",
          "user_verification": "preferred"}


def _enrolled(client, service_sid, identity, alg=-7, **kwargs):
    authenticator = SoftAuthenticator(alg=alg, origin=ORIGIN, rp_id=RP_ID, **kwargs)
    factor = _factor(client, service_sid, identity, CONFIG)
    verified = _verify(client, service_sid, authenticator.create(factor.options["publicKey"]))
    assert (verified.sid, verified.status) == (factor.sid, "verified")
    return authenticator, factor


@pytest.mark.parametrize("alg", [-7, -8, -257])
def test_twilio_python_registers_a_passkey_and_approves_a_challenge(server, key, alg):
    client = sdk(server, key)
    service = _service(client)
    authenticator, factor = _enrolled(client, service.sid, f"alice{-alg}", alg=alg, sign_count=1)
    assert factor.status == "unverified" and factor.factor_type == "passkeys"
    options = factor.options["publicKey"]
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["attestation"] == "none" and options["rp"] == {"id": RP_ID, "name": "Acme"}
    assert unb64url(options["user"]["id"]).decode() == factor.entity_sid
    challenge = _challenge(client, service.sid, identity=f"alice{-alg}")
    assert challenge.sid.startswith("YC") and challenge.status == "pending"
    assert challenge.options["publicKey"]["allowCredentials"][0]["id"] == b64url(authenticator.credential_id)
    approved = _approve(client, service.sid, authenticator.get(challenge.options["publicKey"]))
    assert (approved.sid, approved.status, approved.factor_sid) == (challenge.sid, "approved", factor.sid)
    by_factor = _challenge(client, service.sid, factor_sid=factor.sid)  # its SID names its entity
    assert by_factor.identity == f"alice{-alg}" and by_factor.factor_sid == factor.sid
    asserted = authenticator.get(by_factor.options["publicKey"])
    assert _approve(client, service.sid, asserted).status == "approved"
    listed = client.verify.v2.services(service.sid).entities(f"alice{-alg}").factors.list()
    assert [(f.sid, f.factor_type, f.status) for f in listed] == [(factor.sid, "passkeys", "verified")]


def _refused(call):
    from twilio.base.exceptions import TwilioRestException

    with pytest.raises(TwilioRestException) as refused:
        call()
    return refused.value.status, refused.value.code, refused.value.msg


def _flip(credential, field, at):
    response = dict(credential["response"])
    raw = bytearray(unb64url(response[field]))
    raw[at] ^= 1
    return {**credential, "response": {**response, field: b64url(bytes(raw))}}


def _with_client_data(credential, **changes):
    response = dict(credential["response"])
    data = {**json.loads(unb64url(response["clientDataJSON"])), **changes}
    return {**credential, "response": {**response, "clientDataJSON": b64url(json.dumps(data).encode())}}


def test_each_refusal_of_an_approval(server, key):
    client = sdk(server, key)
    service = _service(client)
    authenticator, _ = _enrolled(client, service.sid, "bob", sign_count=5)

    def options():
        return _challenge(client, service.sid, identity="bob").options["publicKey"]

    cases = {
        "another origin": authenticator.get(options(), origin="https://evil.example"),
        "tampered clientDataJSON": _with_client_data(authenticator.get(options()), extra="x"),
        "tampered authenticatorData": _flip(authenticator.get(options()), "authenticatorData", 36),
        "tampered signature": _flip(authenticator.get(options()), "signature", 20),
    }
    for case, asserted in cases.items():
        status, code, message = _refused(lambda: _approve(client, service.sid, asserted))
        assert (status, code) == (400, 60200), case
    replayed = authenticator.get(options())
    _approve(client, service.sid, replayed)
    assert _refused(lambda: _approve(client, service.sid, replayed))[:2] == (404, 20404)  # spent
    back = authenticator.get(options(), count=2)
    status, code, message = _refused(lambda: _approve(client, service.sid, back))
    assert (status, code) == (403, 20403) and "counter" in message


def test_another_services_or_entitys_credential_is_refused(server, key):
    client = sdk(server, key)
    first, second = _service(client), _service(client)
    carol, _ = _enrolled(client, first.sid, "carol")
    _enrolled(client, first.sid, "dave")
    dave_challenge = _challenge(client, first.sid, identity="dave").options["publicKey"]
    assert _refused(lambda: _approve(client, first.sid, carol.get(dave_challenge)))[:2] == (400, 60200)
    carol_challenge = _challenge(client, first.sid, identity="carol").options["publicKey"]
    assert _refused(lambda: _approve(client, second.sid, carol.get(carol_challenge)))[:2] == (404, 20404)
    assert _refused(lambda: _challenge(client, second.sid, identity="carol"))[:2] == (404, 20404)


def test_the_services_passkeys_settings_are_the_defaults_and_60393_without_them(server, key):
    client = sdk(server, key)
    bare = _service(client)
    assert _refused(lambda: _factor(client, bare.sid, "erin"))[:2] == (400, 60393)
    service = _service(client, relying_party_id=RP_ID, relying_party_name="Acme",
                       relying_party_origins=ORIGIN, user_verification="required")
    assert service.passkeys["relying_party"]["id"] == RP_ID
    factor = _factor(client, service.sid, "erin")
    options = factor.options["publicKey"]
    assert options["rp"]["id"] == RP_ID
    assert options["authenticatorSelection"]["userVerification"] == "required"
    no_uv = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID, uv=False)
    status, code, message = _refused(lambda: _verify(client, service.sid, no_uv.create(options)))
    assert (status, code) == (400, 60200) and "flags" in message


def test_a_discoverable_challenge_finds_the_entity_by_the_user_handle(server, key):
    client = sdk(server, key)
    service = _service(client, relying_party_id=RP_ID, relying_party_origins=ORIGIN)
    authenticator, factor = _enrolled(client, service.sid, "frank", alg=-8)
    challenge = _challenge(client, service.sid)
    assert challenge.options["publicKey"]["allowCredentials"] == [] and challenge.identity is None
    approved = _approve(client, service.sid, authenticator.get(challenge.options["publicKey"]))
    assert (approved.status, approved.identity, approved.factor_sid) == ("approved", "frank", factor.sid)


def test_an_altered_challenge_is_refused_as_not_the_one_issued(server, key):
    client = sdk(server, key)
    service = _service(client)
    factor = _factor(client, service.sid, "gina", CONFIG)
    options = dict(factor.options["publicKey"])
    raw = bytearray(unb64url(options["challenge"]))
    raw[-1] ^= 1  # what finds it is intact, its randomness is not
    options["challenge"] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    created = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID).create(options)
    status, code, message = _refused(lambda: _verify(client, service.sid, created))
    assert (status, code) == (400, 60200) and "challenge" in message


def test_expired_challenges_are_not_found(serve, key):
    """OTP_PASSKEY_CHALLENGE_TTL_SECONDS at its floor (5 s): a registration and a sign-in
    answered after it are 20404, as an unknown or used challenge."""
    import time

    with moto_kms("test") as kms:
        client = sdk(serve(OTP_PASSKEY_CHALLENGE_TTL_SECONDS="5", **kms), key)
        service = _service(client)
        authenticator, _ = _enrolled(client, service.sid, "hana")
        late = _factor(client, service.sid, "hana", CONFIG).options["publicKey"]
        challenge = _challenge(client, service.sid, identity="hana").options["publicKey"]
        assert challenge["timeout"] == 5000
        time.sleep(5.5)
        asserted = authenticator.get(challenge)
        assert _refused(lambda: _approve(client, service.sid, asserted))[:2] == (404, 20404)
        created = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID).create(late)
        assert _refused(lambda: _verify(client, service.sid, created))[:2] == (404, 20404)


def test_twilio_node_drives_the_four_routes(server, key):
    """twilio-node, unchanged (tests/integration/twilio_node_passkeys.js): a Service with the
    Passkeys.* parameters, a factor registered and verified, a challenge approved, its
    assertion replayed (20404); the software authenticator answers over the script's stdin."""
    import os
    import shutil
    import subprocess

    from tests.conftest import ROOT

    if shutil.which("node") is None or not (ROOT / ".deps" / "node_modules" / "twilio").exists():
        pytest.fail("twilio-node is missing: run `make test` (it installs it into .deps/)")
    env = {**os.environ, "API_URL": server.url, "TWILIO_ACCOUNT_SID": key["account_sid"],
           "API_KEY_SID": key["api_key_sid"], "API_KEY_SECRET": key["api_key_secret"], "RP_ID": RP_ID,
           "ORIGIN": ORIGIN, "NODE_PATH": str(ROOT / ".deps" / "node_modules")}
    script = str(ROOT / "tests" / "integration" / "twilio_node_passkeys.js")
    node = subprocess.Popen(["node", script], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID, sign_count=1)
    try:
        for answer in (authenticator.create, authenticator.get):
            line = node.stdout.readline()
            assert line, node.stderr.read()
            options = json.loads(line)
            node.stdin.write(json.dumps(answer(options)) + "\n")
            node.stdin.flush()
        seen = json.loads(node.stdout.readline())
        assert node.wait(timeout=60) == 0, node.stderr.read()
    finally:
        node.kill()
    assert seen == {"service": RP_ID, "factor": ["unverified", "passkeys"], "verified": "verified",
                    "approved": ["approved", True, True], "replayed": [404, 20404]}


def test_passkey_factors_are_the_entitys_factors_and_go_with_it(server, key):
    """Fetched and deleted with TOTP's Factors routes (factor_type passkeys); the entity exists
    from its first passkey, and deleting it deletes its passkeys (its one item)."""
    client = sdk(server, key)
    service = _service(client)
    authenticator, factor = _enrolled(client, service.sid, "ivan")
    second, kept = _enrolled(client, service.sid, "ivan")
    entity = client.verify.v2.services(service.sid).entities("ivan")
    assert entity.fetch().sid == factor.entity_sid
    fetched = entity.factors(factor.sid).fetch()
    assert (fetched.factor_type, fetched.status) == ("passkeys", "verified")
    assert fetched.config["relying_party"]["id"] == RP_ID
    entity.factors(factor.sid).delete()
    assert [f.sid for f in entity.factors.list()] == [kept.sid]
    pending = _challenge(client, service.sid, identity="ivan")
    options = pending.options["publicKey"]
    assert [c["id"] for c in options["allowCredentials"]] == [b64url(second.credential_id)]
    approved = _challenge(client, service.sid, identity="ivan")
    _approve(client, service.sid, second.get(approved.options["publicKey"]))
    listed = {(c.sid, c.status, c.factor_type) for c in entity.challenges.list()}  # TOTP's routes: one item
    assert listed == {(pending.sid, "pending", "passkeys"), (approved.sid, "approved", "passkeys")}
    assert entity.challenges(approved.sid).fetch().factor_sid == kept.sid
    assert [c.sid for c in entity.challenges.list(status="pending")] == [pending.sid]
    entity.delete()
    assert _refused(lambda: _challenge(client, service.sid, identity="ivan"))[:2] == (404, 20404)
    assert _refused(lambda: _approve(client, service.sid, second.get(options)))[:2] == (404, 20404)


def test_a_form_body_is_60200_after_the_credentials(server, key):
    """The Passkeys routes take JSON (Twilio's document): a form is refused in Twilio's shape, and
    only once the key is checked (without one, 401 as on every /v2 route)."""
    import requests

    service = _service(sdk(server, key))
    url = f"{server.url}/v2/Services/{service.sid}/Passkeys/Challenges"
    form = {"content-type": "application/x-www-form-urlencoded"}
    anonymous = requests.post(url, data="identity=x", headers=form, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 20003
    refused = requests.post(url, data="identity=x", headers=form, timeout=30,
                            auth=(key["api_key_sid"], key["api_key_secret"]))
    assert refused.status_code == 400 and refused.json()["code"] == 60200
    assert "application/json" in refused.json()["message"]
