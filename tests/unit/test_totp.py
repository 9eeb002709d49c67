"""Authenticator-app factors: codes computed by pyotp against the test's clock.

KMS is moto's (Encrypt/Decrypt with encryption context as AAD: moto/kms/utils.py encrypt()
binds the context, as AWS documents: https://docs.aws.amazon.com/kms/latest/developerguide/
encrypt_context.html "the same encryption context is required to decrypt").
"""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlparse

import boto3
import jwt
import pyotp
import pytest

from tests.conftest import TABLE
from tests.unit.helpers import error_code, get, post
from chalicelib import wiring

IDENTITY = "user-42@example.com"
# Chalice's local gateway warns that it does not enforce IAM; test_every_totp_route_is_behind_iam
# checks the route table instead.
pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


@pytest.fixture
def step_clock(clock):
    """The middle of a 30-second step, so +-15 s stays in the same step."""
    clock.now = (int(clock.now) // 30) * 30 + 15
    return clock


def enroll(client, identity: str = IDENTITY, **extra):
    status, body, _ = post(client, "/v1/totp/factors", {"identity": identity, **extra})
    assert status == 201, body
    return body


def code_at(secret: str, moment: float) -> str:
    return pyotp.TOTP(secret).at(moment)


def confirm(client, factor_id: str, code):
    return post(client, f"/v1/totp/factors/{factor_id}/verify", {"code": code})


def challenge(client, code, **who):
    return post(client, "/v1/totp/challenges", {"code": code, **(who or {"identity": IDENTITY})})


def enrolled(client, clock, identity: str = IDENTITY) -> dict:
    factor = enroll(client, identity)
    status, body, _ = confirm(client, factor["id"], code_at(factor["secret"], clock.now))
    assert status == 200 and body == {"id": factor["id"], "status": "verified"}
    clock.advance(30)  # the confirming code is used; tests challenge with the next one
    return factor


# -- enroll ------------------------------------------------------------------------------------


def test_enroll_answers_the_secret_uri_and_qr_once(client, step_clock):
    factor = enroll(client, label="Alice's phone")
    assert set(factor) == {"id", "identity", "status", "secret", "uri", "qr_svg", "digits", "period", "algorithm"}
    assert (factor["status"], factor["digits"], factor["period"], factor["algorithm"]) == ("unverified", 6, 30, "SHA1")
    assert re.fullmatch(r"[A-Z2-7]{32}", factor["secret"])  # base32, 160 bits
    uri = urlparse(factor["uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/Verify:Alice%27s%20phone"  # issuer and label escaped
    assert parse_qs(uri.query) == {"secret": [factor["secret"]], "issuer": ["Verify"]}
    assert factor["qr_svg"].startswith("<svg") and factor["qr_svg"].rstrip().endswith("</svg>")
    status, listed, _ = get(client, f"/v1/totp/factors?identity={IDENTITY}")
    assert status == 200 and factor["secret"] not in json.dumps(listed)


@pytest.mark.parametrize("body", [{}, {"identity": ""}, {"identity": "a" * 129}, {"identity": "bad identity"},
                                  {"identity": 42}, {"identity": "x", "label": ""}, {"identity": "x", "extra": 1}])
def test_bad_enrol_requests_are_400(client, body):
    status, answer, _ = post(client, "/v1/totp/factors", body)
    assert status == 400 and error_code(answer) == "invalid_request"


def test_an_identity_holds_at_most_max_factors(client, step_clock):
    for _ in range(5):
        enroll(client)
    status, body, _ = post(client, "/v1/totp/factors", {"identity": IDENTITY})
    assert status == 409 and error_code(body) == "too_many_factors"
    step_clock.advance(901)  # unconfirmed factors expire, and make room
    enroll(client)


# -- confirm -----------------------------------------------------------------------------------


def test_the_first_right_code_verifies_the_factor(client, step_clock):
    factor = enroll(client)
    status, body, _ = confirm(client, factor["id"], code_at(factor["secret"], step_clock.now))
    assert status == 200 and body == {"id": factor["id"], "status": "verified"}
    status, body, _ = confirm(client, factor["id"], code_at(factor["secret"], step_clock.now + 30))
    assert status == 409 and error_code(body) == "factor_already_verified"


def test_an_unconfirmed_factor_expires(client, step_clock):
    factor = enroll(client)
    step_clock.advance(900)
    status, body, _ = confirm(client, factor["id"], code_at(factor["secret"], step_clock.now))
    assert status == 404 and error_code(body) == "factor_not_found"


def test_an_unconfirmed_factor_cannot_approve(client, step_clock):
    factor = enroll(client)
    status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now))
    assert status == 404 and error_code(body) == "factor_not_found"


# -- challenge ---------------------------------------------------------------------------------


def test_a_challenge_answers_a_receipt_that_verifies_against_the_jwks(client, clock):
    clock.now = time.time() - 30  # PyJWT checks iat and exp against the wall clock (enrolled() adds 30)
    factor = enrolled(client, clock)
    status, body, _ = challenge(client, code_at(factor["secret"], clock.now))
    assert status == 200 and set(body) == {"status", "factor_id", "receipt"}
    assert (body["status"], body["factor_id"]) == ("approved", factor["id"])
    _, jwks, _ = get(client, "/.well-known/jwks.json")
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(body["receipt"])["kid"]]
    claims = jwt.decode(body["receipt"], key, algorithms=["ES256"], audience="http://localhost:8000")
    assert claims["sub"] == IDENTITY and claims["amr"] == ["otp"]
    assert "phone_number" not in claims and claims["jti"].startswith(factor["id"] + ".")


def test_a_challenge_by_factor_id(client, step_clock):
    factor = enrolled(client, step_clock)
    status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now), factor_id=factor["id"])
    assert status == 200 and body["factor_id"] == factor["id"]


@pytest.mark.parametrize("offset,accepted", [(-30, True), (30, True), (-60, False), (60, False)])
def test_one_step_either_side_is_accepted(client, step_clock, offset, accepted):
    factor = enrolled(client, step_clock)
    step_clock.advance(30)  # the step before is not the confirming code's
    status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now + offset))
    assert status == (200 if accepted else 403), body


def test_window_zero_accepts_the_current_step_only(client, step_clock, monkeypatch):
    factor = enrolled(client, step_clock)
    monkeypatch.setenv("OTP_TOTP_WINDOW", "0")
    wiring.get_config.cache_clear()
    wiring._totp_for.cache_clear()
    assert challenge(client, code_at(factor["secret"], step_clock.now - 30))[0] == 403
    assert challenge(client, code_at(factor["secret"], step_clock.now))[0] == 200


def test_a_code_is_accepted_once(client, step_clock):
    factor = enrolled(client, step_clock)
    code = code_at(factor["secret"], step_clock.now)
    assert challenge(client, code)[0] == 200
    status, body, _ = challenge(client, code)
    assert status == 403 and error_code(body) == "incorrect_code"
    step_clock.advance(15)  # still inside the window: still refused
    assert challenge(client, code)[0] == 403
    # An earlier step's code is refused too once a later one was accepted.
    assert challenge(client, code_at(factor["secret"], step_clock.now - 45))[0] == 403
    assert challenge(client, code_at(factor["secret"], step_clock.now + 15))[0] == 200


def test_no_verified_factor_is_404(client, step_clock):
    status, body, _ = challenge(client, "123456", identity="nobody")
    assert status == 404 and error_code(body) == "factor_not_found"
    status, body, _ = challenge(client, "123456", factor_id="YF" + "0" * 48)
    assert status == 404 and error_code(body) == "factor_not_found"


@pytest.mark.parametrize("code", ["12345", "1234567", "１２３４５６", "١٢٣٤٥٦", " 123456", "12_345", "",
                                  None, True, 123456, ["123456"], "123456\n"])
def test_the_code_format_is_checked_before_any_lookup(client, step_clock, code):
    enrolled(client, step_clock)
    calls = []
    wiring.get_service()._store._client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    wiring._kms_client().meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    status, body, _ = challenge(client, code)
    assert status == 400 and error_code(body) == "invalid_code_format"
    assert calls == []


# -- list, delete, storage ---------------------------------------------------------------------


def test_list_and_delete(client, step_clock):
    first = enrolled(client, step_clock)
    second = enroll(client, label="backup")
    status, body, _ = get(client, f"/v1/totp/factors?identity={IDENTITY}")
    assert status == 200 and body["identity"] == IDENTITY
    assert [(f["id"], f["status"]) for f in body["factors"]] == [(first["id"], "verified"), (second["id"], "unverified")]
    assert all("secret" not in f for f in body["factors"])
    response = client.http.delete(f"/v1/totp/factors/{first['id']}")
    assert response.status_code == 204
    assert client.http.delete(f"/v1/totp/factors/{first['id']}").status_code == 404
    status, body, _ = get(client, f"/v1/totp/factors?identity={IDENTITY}")
    assert [f["id"] for f in body["factors"]] == [second["id"]]
    status, body, _ = challenge(client, code_at(first["secret"], step_clock.now))
    assert status == 404


def test_the_table_holds_no_secret(client, step_clock):
    factors = [enrolled(client, step_clock), enroll(client, identity="other-user")]
    dump = json.dumps(boto3.client("dynamodb").scan(TableName=TABLE)["Items"], default=repr)  # test-only scan
    for factor in factors:
        assert factor["secret"] not in dump
        assert factor["secret"].encode() not in dump.encode()
    assert IDENTITY in dump  # the receipt's sub is kept; the secret is not


def test_a_secret_decrypts_only_for_its_own_factor(client, step_clock):
    """KMS binds the ciphertext to the factor id (encryption context): a ciphertext copied
    onto another factor does not decrypt."""
    factor = enroll(client)
    item = wiring.get_totp()._store.load(wiring.get_totp().factor_key(factor["id"]))
    ciphertext = item.factors[factor["id"]].secret_ciphertext
    kms = boto3.client("kms")
    key = wiring.get_config().totp.key_id
    plain = kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionContext={"factor_id": factor["id"]})
    assert plain["Plaintext"].decode() == factor["secret"]
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(KeyId=key, CiphertextBlob=ciphertext, EncryptionContext={"factor_id": "YF" + "1" * 48})


def test_every_totp_route_is_behind_iam():
    """Chalice's test client ignores authorizers, so the route table is read instead."""
    from chalice import IAMAuthorizer

    import app as app_module

    totp_routes = {(path, method): entry for path, methods in app_module.app.routes.items()
                   if path.startswith("/v1/totp") for method, entry in methods.items()}
    assert len(totp_routes) == 6
    for route, entry in totp_routes.items():
        assert isinstance(entry.authorizer, IAMAuthorizer), route
        assert entry.authorizer.to_swagger()["x-amazon-apigateway-authtype"] == "awsSigv4", route


def test_totp_responses_validate_against_the_published_document(client, step_clock):
    import jsonschema

    from chalicelib.openapi.document import document

    doc = document()

    def validate(body, path, method, status):
        schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {"components": doc["components"], **schema}, cls=jsonschema.Draft202012Validator)

    factor = enroll(client)
    validate(factor, "/v1/totp/factors", "post", 201)
    status, body, _ = confirm(client, factor["id"], "000000" if code_at(factor["secret"], step_clock.now) != "000000" else "000001")
    validate(body, "/v1/totp/factors/{factor_id}/verify", "post", status)
    status, body, _ = confirm(client, factor["id"], code_at(factor["secret"], step_clock.now))
    validate(body, "/v1/totp/factors/{factor_id}/verify", "post", status)
    step_clock.advance(30)
    status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now))
    validate(body, "/v1/totp/challenges", "post", status)
    status, body, _ = get(client, f"/v1/totp/factors?identity={IDENTITY}")
    validate(body, "/v1/totp/factors", "get", status)
    status, body, _ = post(client, f"/v1/totp/factors/{factor['id']}/enable", {})
    validate(body, "/v1/totp/factors/{factor_id}/enable", "post", status)
