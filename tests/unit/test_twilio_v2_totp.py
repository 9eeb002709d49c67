"""Twilio Verify's TOTP resources on /v2 (issue 20) over the same TotpService as /v1/totp:
Entities, Factors (FactorType=totp) and Challenges, in Twilio's shapes (its OpenAPI document
twilio_verify_v2; the 2021 change that answers a wrong AuthPayload with 200 unverified / 201
pending: https://www.twilio.com/docs/verify/quickstarts/verify-totp-change-in-api-response-when-authpayload-is-incorrect)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

IDENTITY = "ff483d1ff591898a9942916050d2ca3f"


@pytest.fixture
def step_clock(clock):
    clock.now = (int(clock.now) // 30) * 30 + 15  # mid-step
    return clock


def factor(client, key, sid: str, identity: str = IDENTITY, **form):
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/{identity}/Factors",
                           {"FactorType": "totp", "FriendlyName": "Alice's phone", **form})
    assert status == 201, body
    return body


def test_enroll_verify_and_challenge(client, key, step_clock):
    service = new_service(client, key, FriendlyName="Acme Bank")
    sid = service["sid"]
    status, entity, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities", {"Identity": IDENTITY})
    assert status == 201 and entity["sid"].startswith("YE") and entity["identity"] == IDENTITY
    created = factor(client, key, sid)
    assert (created["status"], created["factor_type"]) == ("unverified", "totp")
    assert created["config"] == {"alg": "sha1", "code_length": 6, "time_step": 30, "skew": 1}
    uri = urlparse(created["binding"]["uri"])
    assert uri.scheme == "otpauth" and parse_qs(uri.query)["issuer"] == ["Acme Bank"]  # the Service's name
    totp = pyotp.TOTP(created["binding"]["secret"])
    path = f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors/{created['sid']}"

    wrong = f"{(int(totp.at(step_clock.now)) + 1) % 10**6:06d}"
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": wrong})
    assert status == 200 and body["status"] == "unverified"
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})
    assert status == 200 and body["status"] == "verified" and "binding" not in body
    step_clock.advance(30)

    challenges = f"/v2/Services/{sid}/Entities/{IDENTITY}/Challenges"
    status, body, _ = call(client, key, "POST", challenges, {"FactorSid": created["sid"], "AuthPayload": wrong})
    assert status == 201 and body["status"] == "pending"
    status, body, _ = call(client, key, "POST", challenges,
                           {"FactorSid": created["sid"], "AuthPayload": totp.at(step_clock.now)})
    assert status == 201 and body["status"] == "approved" and body["sid"].startswith("YC")
    status, body, _ = call(client, key, "POST", challenges,  # the same code again: used
                           {"FactorSid": created["sid"], "AuthPayload": totp.at(step_clock.now)})
    assert status == 201 and body["status"] == "pending"

    status, listed, _ = call(client, key, "GET", f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors")
    assert [f["sid"] for f in listed["factors"]] == [created["sid"]] and "binding" not in listed["factors"][0]
    assert call(client, key, "GET", f"/v2/Services/{sid}/Entities/{IDENTITY}")[0] == 200
    assert call(client, key, "DELETE", path)[0] == 204
    assert twilio_error(call(client, key, "GET", path)[1]) == 20404


def test_an_identity_in_another_service_is_another_person(client, key, step_clock):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    created = factor(client, key, first)
    for method, suffix in [("GET", ""), ("POST", ""), ("DELETE", "")]:
        path = f"/v2/Services/{second}/Entities/{IDENTITY}/Factors/{created['sid']}{suffix}"
        assert twilio_error(call(client, key, method, path, {"AuthPayload": "123456"})[1]) == 20404
    assert call(client, key, "GET", f"/v2/Services/{second}/Entities/{IDENTITY}/Factors")[1]["factors"] == []
    status, body, _ = call(client, key, "POST", f"/v2/Services/{second}/Entities/{IDENTITY}/Challenges",
                           {"FactorSid": created["sid"], "AuthPayload": "123456"})
    assert status == 404 and twilio_error(body) == 20404


def test_too_many_wrong_codes_are_60310_for_a_factor(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created = factor(client, key, sid)
    wrong = f"{(int(pyotp.TOTP(created['binding']['secret']).at(step_clock.now)) + 1) % 10**6:06d}"
    path = f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors/{created['sid']}"
    for _ in range(5):
        assert call(client, key, "POST", path, {"AuthPayload": wrong})[1]["status"] == "unverified"
    status, body, headers = call(client, key, "POST", path, {"AuthPayload": wrong})
    assert status == 429 and twilio_error(body) == 60310 and int(headers["Retry-After"]) > 0


@pytest.mark.parametrize("form,parameter", [
    ({"FactorType": "push"}, "FactorType"), ({"FactorType": "passkeys"}, "FactorType"), ({}, "FactorType"),
    ({"FactorType": "totp", "Config.TimeStep": "60"}, "Config.TimeStep"),
    ({"FactorType": "totp", "Config.CodeLength": "8"}, "Config.CodeLength"),
    ({"FactorType": "totp", "Binding.PublicKey": "x"}, "Binding.PublicKey"),
])
def test_what_this_service_does_not_do_is_60200(client, key, form, parameter):
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors", form)
    assert status == 400 and twilio_error(body) == 60200 and f"`{parameter}`" in body["message"]


def test_an_unknown_entity_is_20404(client, key):
    sid = new_service(client, key)["sid"]
    assert twilio_error(call(client, key, "GET", f"/v2/Services/{sid}/Entities/nobody-here")[1]) == 20404


def test_config_skew_is_the_factors_own_window(client, key, step_clock):
    """Twilio's Config.Skew (https://www.twilio.com/docs/verify/api/factor: the time steps, past
    and future, a code is valid for; 0-2, default 1): kept on the factor, applied on its verify
    and its challenges, and what its config says."""
    sid = new_service(client, key)["sid"]
    path = f"/v2/Services/{sid}/Entities/{IDENTITY}"
    assert factor(client, key, sid, FriendlyName="default")["config"]["skew"] == 1  # the stage's OTP_TOTP_WINDOW
    strict, wide = factor(client, key, sid, **{"Config.Skew": "0"}), factor(client, key, sid, **{"Config.Skew": "2"})
    assert (strict["config"]["skew"], wide["config"]["skew"]) == (0, 2)
    strict_totp, wide_totp = pyotp.TOTP(strict["binding"]["secret"]), pyotp.TOTP(wide["binding"]["secret"])
    last_step = step_clock.now - 30
    status, body, _ = call(client, key, "POST", f"{path}/Factors/{strict['sid']}", {"AuthPayload": strict_totp.at(last_step)})
    assert status == 200 and body["status"] == "unverified"  # one step late: outside a skew of 0
    assert call(client, key, "POST", f"{path}/Factors/{strict['sid']}",
                {"AuthPayload": strict_totp.at(step_clock.now)})[1]["status"] == "verified"
    status, body, _ = call(client, key, "POST", f"{path}/Factors/{wide['sid']}",
                           {"AuthPayload": wide_totp.at(step_clock.now - 60)})
    assert status == 200 and body["status"] == "verified" and body["config"]["skew"] == 2  # two steps late
    step_clock.advance(90)
    challenges = f"{path}/Challenges"
    assert call(client, key, "POST", challenges, {"FactorSid": strict["sid"],
                "AuthPayload": strict_totp.at(step_clock.now - 30)})[1]["status"] == "pending"
    assert call(client, key, "POST", challenges, {"FactorSid": wide["sid"],
                "AuthPayload": wide_totp.at(step_clock.now + 60)})[1]["status"] == "approved"
    listed = call(client, key, "GET", f"{path}/Factors")[1]["factors"]
    assert sorted((f["friendly_name"], f["config"]["skew"]) for f in listed) == [
        ("Alice's phone", 0), ("Alice's phone", 2), ("default", 1)]
    assert call(client, key, "GET", f"{path}/Factors/{wide['sid']}")[1]["config"]["skew"] == 2


@pytest.mark.parametrize("skew", ["3", "-1", "1.5", "one", ""])
def test_a_skew_outside_0_to_2_is_60200(client, key, skew):
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors",
                           {"FactorType": "totp", "Config.Skew": skew})
    assert status == 400 and twilio_error(body) == 60200 and "`Config.Skew`" in body["message"]


# -- Services apart: v1 is the stage's default Service, v2 each Service its own ----------------


def _verified(client, key, sid: str, clock, identity: str = IDENTITY) -> tuple[dict, pyotp.TOTP]:
    created = factor(client, key, sid, identity)
    totp = pyotp.TOTP(created["binding"]["secret"])
    path = f"/v2/Services/{sid}/Entities/{identity}/Factors/{created['sid']}"
    assert call(client, key, "POST", path, {"AuthPayload": totp.at(clock.now)})[1]["status"] == "verified"
    clock.advance(30)
    return created, totp


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_v1_reaches_no_entity_of_a_v2_service(client, key, step_clock):
    """v1's routes are the default Service's: a Service's factor named by its id, or its
    entity by the scoped name v2 keys it under, is not found, not counted, not deleted."""
    from tests.unit.helpers import delete, error_code, get, post

    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    pending = factor(client, key, sid, FriendlyName="second")
    scoped = f"{sid}:{IDENTITY}"  # how twilio_v2/totp.py names A's user to the domain
    status, body, _ = get(client, f"/v1/totp/factors?identity={scoped}")
    assert status == 400 and error_code(body) == "invalid_request"
    for who in ({"factor_id": created["sid"]}, {"identity": scoped}):
        for _ in range(6):  # wrong codes: none counted on A's factor (no wait, no suspension)
            status, body, _ = post(client, "/v1/totp/challenges", {"code": "000000", **who})
            assert status in (400, 404) and "receipt" not in body, body
        status, body, _ = post(client, "/v1/totp/challenges", {"code": totp.at(step_clock.now), **who})
        assert status in (400, 404) and "receipt" not in body, body
    status, body, _ = post(client, f"/v1/totp/factors/{pending['sid']}/verify",
                           {"code": pyotp.TOTP(pending["binding"]["secret"]).at(step_clock.now)})
    assert status == 404 and error_code(body) == "factor_not_found"
    assert error_code(post(client, f"/v1/totp/factors/{created['sid']}/enable", {})[1]) == "factor_not_found"
    status, body, _ = delete(client, f"/v1/totp/factors/{created['sid']}")
    assert status == 404 and error_code(body) == "factor_not_found"
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/{IDENTITY}/Challenges",
                           {"FactorSid": created["sid"], "AuthPayload": totp.at(step_clock.now)})
    assert status == 201 and body["status"] == "approved"  # the code v1 was shown is still A's to use
    listed = call(client, key, "GET", f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors")[1]["factors"]
    assert {f["status"] for f in listed} == {"verified", "unverified"} and len(listed) == 2


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_a_v2_service_reaches_no_entity_of_v1_or_of_another_service(client, key, step_clock):
    from tests.unit.helpers import post

    status, v1, _ = post(client, "/v1/totp/factors", {"identity": IDENTITY})
    assert status == 201
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    theirs, _ = _verified(client, key, first, step_clock)
    for sid in (first, second):
        for factor_sid in (v1["id"], theirs["sid"] if sid == second else v1["id"]):
            path = f"/v2/Services/{sid}/Entities/{IDENTITY}/Factors/{factor_sid}"
            for method in ("GET", "POST", "DELETE"):
                assert twilio_error(call(client, key, method, path, {"AuthPayload": "123456"})[1]) == 20404
            status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/{IDENTITY}/Challenges",
                                   {"FactorSid": factor_sid, "AuthPayload": "123456"})
            assert status == 404 and twilio_error(body) == 20404
    assert call(client, key, "GET", f"/v2/Services/{second}/Entities/{IDENTITY}/Factors")[1]["factors"] == []
    default = call(client, key, "GET", "/v2/Services")[1]["services"][0]["sid"]  # v1's own Service
    listed = call(client, key, "GET", f"/v2/Services/{default}/Entities/{IDENTITY}/Factors")[1]["factors"]
    assert [f["sid"] for f in listed] == [v1["id"]]


def test_every_totp_write_proves_the_items_service_in_its_condition(client, key, step_clock):
    """The write's condition, not an earlier read: each write of the store, made for another
    Service (or for the default) on a Service's item, is refused by DynamoDB."""
    from chalicelib import wiring
    from chalicelib.dynamodb import ConditionFailed
    from chalicelib.totp.store import Expected

    sid = new_service(client, key)["sid"]
    created, _ = _verified(client, key, sid, step_clock)
    store, factor_id = wiring.get_totp()._store, created["sid"]
    identity_key = wiring.get_totp().factor_key(factor_id)
    expected = Expected({factor_id: 0}, None, 0)
    for scope in (None, "VA" + "0" * 32):
        writes = [
            lambda: store.delete(identity_key, factor_id, scope),
            lambda: store.reinstate(identity_key, factor_id, scope),
            lambda: store.accept(identity_key, factor_id, 10**9, confirm=False, now=int(step_clock.now),
                                 expected=expected, scope=scope),
            lambda: store.record_failure(identity_key, expected, now=int(step_clock.now), max_failures=100,
                                         replayed=None, stale_sources=[], scope=scope),
        ]
        for write in writes:
            with pytest.raises(ConditionFailed):
                write()
    assert store.load(identity_key).factors[factor_id].fails == 0
