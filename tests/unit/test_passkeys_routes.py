"""The page's v1 passkey routes (the contract in docs/passkeys.md): a number verified by SMS
registers a passkey with the check's receipt (spent once), then signs in with it, in v1's
error shape; through Chalice's test client with a software authenticator."""

from __future__ import annotations

import json
import time

import pytest

from tests.passkey_authenticator import SoftAuthenticator, b64url, unb64url
from tests.unit.helpers import NUMBER, OTHER_NUMBER, error_code
from tests.unit.test_events import events  # noqa: F401  (fixture)
from tests.unit.test_receipts import approve, jwks, verify

HOST = "localhost:8000"
ORIGIN = f"http://{HOST}"
HEADERS = {"content-type": "application/json", "host": HOST, "origin": ORIGIN}


@pytest.fixture
def real_time(clock):
    clock.now = time.time()
    return clock


def post(client, path, body, **headers):
    response = client.http.post(path, headers={**HEADERS, **headers}, body=json.dumps(body))
    return response.status_code, json.loads(response.body or b"null"), response.headers


def registered(client, outbox, to=NUMBER, **kwargs):
    receipt = approve(client, outbox, to=to)["receipt"]
    status, body, _ = post(client, "/v1/passkeys/registrations", {"receipt": receipt})
    assert status == 201, body
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost", **kwargs)
    status, verified, _ = post(client, "/v1/passkeys/registrations/verify",
                               {"credential": authenticator.create(body["public_key"])})
    assert status == 200 and verified["status"] == "verified" and verified["to"] == to, verified
    return authenticator, verified, body["public_key"]


def test_the_creation_options_are_webauthns_json_for_the_requests_host(client, outbox, real_time):
    _, _, options = registered(client, outbox)
    assert options["rp"] == {"id": "localhost", "name": "Verify"}
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -8, -257]
    assert options["authenticatorSelection"] == {"residentKey": "preferred", "requireResidentKey": False,
                                                 "userVerification": "preferred"}
    assert options["attestation"] == "none" and options["excludeCredentials"] == []
    assert options["user"]["name"] == NUMBER and unb64url(options["user"]["id"]).startswith(b"YE")
    assert "=" not in options["challenge"] and options["timeout"] == 300_000


def test_a_receipt_registers_once_and_a_bad_one_is_400(client, outbox, real_time):
    receipt = approve(client, outbox)["receipt"]
    assert post(client, "/v1/passkeys/registrations", {"receipt": receipt})[0] == 201
    status, body, _ = post(client, "/v1/passkeys/registrations", {"receipt": receipt})
    assert status == 409 and error_code(body) == "receipt_used"
    tampered = receipt[:-4] + ("AAAA" if not receipt.endswith("AAAA") else "BBBB")
    for bad in (tampered, "x.y.z", 42):
        status, body, _ = post(client, "/v1/passkeys/registrations", {"receipt": bad})
        assert status == 400 and error_code(body) == "invalid_receipt", bad


def test_an_expired_receipt_registers_nothing(client, outbox, real_time):
    receipt = approve(client, outbox)["receipt"]
    real_time.advance(301)  # the test stage's receipts live 300 s
    status, body, _ = post(client, "/v1/passkeys/registrations", {"receipt": receipt})
    assert status == 400 and error_code(body) == "invalid_receipt" and "expired" in body["error"]["message"]


def test_sign_in_answers_a_receipt_naming_the_passkey_and_when_it_was_bound(client, outbox, real_time):
    authenticator, verified, _ = registered(client, outbox, sign_count=1)
    status, body, _ = post(client, "/v1/passkeys/challenges", {"to": NUMBER})
    assert status == 201 and body["public_key"]["rpId"] == "localhost"
    allowed = [c["id"] for c in body["public_key"]["allowCredentials"]]
    assert allowed == [b64url(authenticator.credential_id)]
    assertion = authenticator.get(body["public_key"])
    status, approved, _ = post(client, "/v1/passkeys/challenges/approve", {"credential": assertion})
    assert status == 200, approved
    assert (approved["status"], approved["to"]) == ("approved", NUMBER)
    assert approved["factor_id"] == verified["factor_id"]
    claims = verify(approved["receipt"], jwks(client))
    assert claims["sub"] == NUMBER and claims["amr"] == ["swk", "user"]
    assert claims["passkey_bound_at"] <= claims["iat"] and "phone_number_verified" not in claims
    status, body, _ = post(client, "/v1/passkeys/challenges/approve", {"credential": assertion})
    assert status == 404 and error_code(body) == "challenge_not_found"  # replayed


def test_a_passkeys_receipt_registers_no_other_passkey(client, outbox, real_time):
    authenticator, _, _ = registered(client, outbox)
    options = post(client, "/v1/passkeys/challenges", {"to": NUMBER})[1]["public_key"]
    approved = post(client, "/v1/passkeys/challenges/approve", {"credential": authenticator.get(options)})[1]
    receipt = approved["receipt"]
    status, body, _ = post(client, "/v1/passkeys/registrations", {"receipt": receipt})
    assert status == 400 and error_code(body) == "invalid_receipt"


def test_a_discoverable_sign_in(client, outbox, real_time):
    authenticator, verified, _ = registered(client, outbox, alg=-257)
    status, body, _ = post(client, "/v1/passkeys/challenges", {})
    assert status == 201 and body["public_key"]["allowCredentials"] == []
    status, approved, _ = post(client, "/v1/passkeys/challenges/approve",
                               {"credential": authenticator.get(body["public_key"])})
    assert status == 200 and approved["to"] == NUMBER and approved["factor_id"] == verified["factor_id"]


def test_refusals_in_v1s_shape(client, outbox, real_time):
    authenticator, _, _ = registered(client, outbox, sign_count=9)
    status, body, _ = post(client, "/v1/passkeys/challenges", {"to": OTHER_NUMBER})
    assert status == 404 and error_code(body) == "no_passkey"
    options = post(client, "/v1/passkeys/challenges", {"to": NUMBER})[1]["public_key"]
    status, body, _ = post(client, "/v1/passkeys/challenges/approve",
                           {"credential": authenticator.get(options, origin="https://evil.example")})
    assert status == 400 and error_code(body) == "invalid_credential" and "origin" in body["error"]["message"]
    status, body, _ = post(client, "/v1/passkeys/challenges/approve",
                           {"credential": authenticator.get(options, count=3)})
    assert status == 403 and error_code(body) == "counter_regressed"
    status, body, _ = post(client, "/v1/passkeys/challenges/approve", {"credential": "x"})
    assert status == 400 and error_code(body) == "invalid_request"


def test_another_sites_page_and_a_body_not_json_are_refused(client, outbox, real_time):
    status, body, _ = post(client, "/v1/passkeys/challenges", {}, origin="https://evil.example")
    assert status == 403 and error_code(body) == "origin_not_allowed"
    response = client.http.post("/v1/passkeys/challenges", headers={**HEADERS, "content-type": "text/plain"},
                                body="{}")
    assert response.status_code == 415


def test_the_public_door_counts_passkey_requests_per_number(configured, outbox, real_time):
    client = configured(OTP_PASSKEY_MAX_PER_NUMBER_PER_HOUR="2")
    registered(client, outbox)  # the registration: one
    assert post(client, "/v1/passkeys/challenges", {"to": NUMBER})[0] == 201  # two
    status, body, headers = post(client, "/v1/passkeys/challenges", {"to": NUMBER})
    assert status == 429 and error_code(body) == "too_many_passkey_requests" and "Retry-After" in headers


def test_the_answers_validate_against_openapi_json(client, outbox, real_time):
    from tests.unit.test_openapi import _validate

    receipt = approve(client, outbox)["receipt"]
    status, created, _ = post(client, "/v1/passkeys/registrations", {"receipt": receipt})
    _validate(created, "/v1/passkeys/registrations", "post", status)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id="localhost")
    status, verified, _ = post(client, "/v1/passkeys/registrations/verify",
                               {"credential": authenticator.create(created["public_key"])})
    _validate(verified, "/v1/passkeys/registrations/verify", "post", status)
    status, options, _ = post(client, "/v1/passkeys/challenges", {"to": NUMBER})
    _validate(options, "/v1/passkeys/challenges", "post", status)
    status, approved, _ = post(client, "/v1/passkeys/challenges/approve",
                               {"credential": authenticator.get(options["public_key"])})
    _validate(approved, "/v1/passkeys/challenges/approve", "post", status)
    status, refused, _ = post(client, "/v1/passkeys/challenges/approve",
                              {"credential": authenticator.get(options["public_key"])})
    _validate(refused, "/v1/passkeys/challenges/approve", "post", status)


def test_a_page_opened_at_an_ip_address_is_told_to_use_localhost(client, outbox, real_time):
    """Browsers refuse an IP address as a relying party id (WebAuthn: a valid domain only)."""
    status, body, _ = post(client, "/v1/passkeys/challenges", {}, host="127.0.0.1:8000",
                           origin="http://127.0.0.1:8000")
    assert status == 400 and error_code(body) == "invalid_request"
    assert "http://localhost:8000" in body["error"]["message"]


def test_an_approval_over_the_networks_count_writes_nothing(configured, outbox, real_time):
    """The per-network count goes out with the item's read and is settled before the approval's
    write: over it, 429 and the challenge still pending, the counter unmoved."""
    from chalicelib import wiring

    client = configured(OTP_PASSKEY_MAX_PER_IP_PER_HOUR="3")  # the registration, its verify, a challenge
    authenticator, verified, _ = registered(client, outbox, sign_count=4)
    options = post(client, "/v1/passkeys/challenges", {"to": NUMBER})[1]["public_key"]
    status, body, headers = post(client, "/v1/passkeys/challenges/approve",
                                 {"credential": authenticator.get(options)})
    assert status == 429 and error_code(body) == "ip_rate_limited" and "Retry-After" in headers
    item = wiring.get_passkeys().load(NUMBER)
    assert [c.status for c in item.challenges.values()] == ["pending"]
    assert item.passkeys[verified["factor_id"]].sign_count == 4


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_passkey_events_from_the_identitys_item(events, outbox, real_time):  # noqa: F811
    """passkey.registered, passkey.approved and passkey.counter_regressed (the clone's refusal
    recorded on the passkey), with the number masked and no key or credential id sent."""
    from tests.unit.test_events import Receiver

    receiver = Receiver()
    client, poller = events(receiver)
    authenticator, verified, _ = registered(client, outbox, sign_count=5)
    options = post(client, "/v1/passkeys/challenges", {"to": NUMBER})[1]["public_key"]
    approve_path = "/v1/passkeys/challenges/approve"
    assert post(client, approve_path, {"credential": authenticator.get(options)})[0] == 200
    options = post(client, "/v1/passkeys/challenges", {"to": NUMBER})[1]["public_key"]
    assert post(client, approve_path, {"credential": authenticator.get(options, count=2)})[0] == 403
    poller.run(rounds=3)
    passkey_events = [(b["type"], b["data"]) for _, b in receiver.taken() if b["type"].startswith("passkey.")]
    who = {"identity": NUMBER[:5] + "*" * (len(NUMBER) - 7) + NUMBER[-2:], "factor_id": verified["factor_id"]}
    assert passkey_events == [("passkey.registered", who), ("passkey.approved", {**who, "sign_count": 6}),
                              ("passkey.counter_regressed", {**who, "sign_count": 6})]
    assert b64url(authenticator.credential_id) not in json.dumps(receiver.taken())
