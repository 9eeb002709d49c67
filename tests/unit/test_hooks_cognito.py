"""Amazon Cognito's CustomSMSSender trigger (issue 32): the event as Cognito makes it, its code
encrypted with the AWS Encryption SDK under moto's KMS, handed to app.py's trigger function.

The event's shape is Cognito's ("Custom SMS sender Lambda trigger" in its developer guide:
``triggerSource``, ``request.type`` customSMSSenderRequestV1, ``request.code`` the base64 of the
SDK's ciphertext, ``request.userAttributes.phone_number``); the ciphertext is made here as
Cognito makes it, by ``EncryptionSDKClient.encrypt`` with a strict KMS master key provider."""

from __future__ import annotations

import base64
import logging

import pytest

from tests.unit.helpers import NUMBER
from tests.unit.test_twilio_v2 import call, key, new_service  # noqa: F401 (key: a fixture)

SOURCES = ["CustomSMSSender_SignUp", "CustomSMSSender_ResendCode", "CustomSMSSender_ForgotPassword",
           "CustomSMSSender_UpdateUserAttribute", "CustomSMSSender_VerifyUserAttribute",
           "CustomSMSSender_Authentication", "CustomSMSSender_AdminCreateUser"]


def new_key(alias: str | None = None) -> str:
    import boto3

    from scripts.keys.kms import ensure_cognito_key

    kms = boto3.client("kms")
    if alias is None:
        return ensure_cognito_key(kms, "test", "123456789012")  # as make deploy makes it
    return str(kms.create_key(KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"])


def encrypted(code: str, key_id: str) -> str:
    """What Cognito puts in request.code: the Encryption SDK's message, base64."""
    import aws_encryption_sdk
    import boto3
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    arn = boto3.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    ciphertext, _ = client.encrypt(source=code.encode(),
                                   key_provider=aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=[arn]))
    return base64.b64encode(ciphertext).decode()


def cognito_event(source: str, code: str | None, phone: str | None = NUMBER, **more: str) -> dict:
    attributes = {"sub": "3f5b8c1e-0000-4000-8000-000000000001", "cognito:user_status": "UNCONFIRMED",
                  "phone_number_verified": "false", **({"phone_number": phone} if phone is not None else {}),
                  **more}
    return {"version": "1", "triggerSource": source, "region": "us-east-1", "userPoolId": "us-east-1_Example1",
            "userName": "3f5b8c1e-0000-4000-8000-000000000001",
            "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
            "request": {"type": "customSMSSenderRequestV1", "code": code, "clientMetadata": {},
                        "userAttributes": attributes},
            "response": {}}


@pytest.fixture
def trigger(configured):
    """The trigger's function as Lambda calls it, on a stage whose key is ``new_key()``'s."""
    import app

    alias = new_key()

    def make(**env: str):
        configured(OTP_HOOK_COGNITO_KEY_ID=alias, **env)
        return app.cognito_sms_sender

    make.key = alias
    return make


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_sends_one_message_carrying_cognitos_code(trigger, outbox, source):
    handler = trigger()
    code = "Tmp4Pass9" if source.endswith("AdminCreateUser") else "482913"
    done = handler(cognito_event(source, encrypted(code, trigger.key)))
    assert done["sent"] is True and done["source"] == source
    assert len(outbox) == 1 and outbox[0]["to"] == NUMBER
    # This service's template, never a text of the pool's (rule 33).
    assert outbox[0]["body"].startswith(f"Your Verify verification code is {code}")


def test_a_notice_without_a_code_sends_nothing_and_is_not_an_error(trigger, outbox):
    done = trigger()(cognito_event("CustomSMSSender_AccountTakeOverNotification", None))
    assert done["sent"] is False and not outbox


def test_a_code_under_another_key_is_refused_and_sends_nothing(trigger, outbox, caplog):
    from chalicelib.hooks.cognito import CognitoRefused

    handler = trigger()
    other = new_key(alias="another")
    with pytest.raises(CognitoRefused, match="not encrypted under this trigger's key"):
        handler(cognito_event("CustomSMSSender_SignUp", encrypted("482913", other)))
    assert not outbox


def _garbage() -> str:
    return base64.b64encode(b"\x01\x80" + bytes(range(200))).decode()


@pytest.mark.parametrize("event", [
    None, [], {}, cognito_event("CustomSMSSender_Unknown", "x"),
    cognito_event("CustomSMSSender_SignUp", None), cognito_event("CustomSMSSender_SignUp", ""),
    cognito_event("CustomSMSSender_SignUp", "not base64!"), cognito_event("CustomSMSSender_SignUp", "A" * 9000),
    cognito_event("CustomSMSSender_SignUp", _garbage()),
    {**cognito_event("CustomSMSSender_SignUp", "x"), "request": {"code": "x"}},
], ids=["none", "list", "empty", "unknown-source", "no-code", "empty-code", "not-base64", "too-long",
        "not-a-message", "no-attributes"])
def test_a_malformed_event_is_refused_and_sends_nothing(trigger, outbox, event):
    from chalicelib.hooks.cognito import CognitoRefused

    with pytest.raises(CognitoRefused):
        trigger()(event)
    assert not outbox


@pytest.mark.parametrize("code, phone", [
    ("12", NUMBER), ("４８２９１３", NUMBER), ("Tmp#Pass1!", NUMBER), ("482913", None), ("482913", "4155552671"[:5]),
    ("482913", "+0123456789"),
], ids=["short", "full-width", "a-password-not-code-shaped", "no-number", "short-number", "leading-zero"])
def test_a_decrypted_code_or_a_number_that_is_not_one_is_refused(trigger, outbox, code, phone):
    from chalicelib.hooks.cognito import CognitoRefused

    handler = trigger()
    with pytest.raises(CognitoRefused):
        handler(cognito_event("CustomSMSSender_AdminCreateUser", encrypted(code, trigger.key), phone))
    assert not outbox


def test_a_number_the_service_does_not_allow_is_refused_and_sends_nothing(trigger, outbox, key):  # noqa: F811
    import app
    from chalice.test import Client

    from tests.conftest import ROOT

    trigger()
    with Client(app.app, stage_name="test", project_dir=str(ROOT)) as http:
        sid = new_service(http, key, AllowedCountries="GB")["sid"]
    handler = trigger(OTP_HOOK_COGNITO_SERVICE=sid)
    from chalicelib.hooks.cognito import CognitoRefused

    with pytest.raises(CognitoRefused, match=r"Not sent \(403\)"):
        handler(cognito_event("CustomSMSSender_SignUp", encrypted("482913", trigger.key)))
    assert not outbox


def test_the_named_services_check_approves_cognitos_code(trigger, outbox, key):  # noqa: F811
    import app
    from chalice.test import Client

    from tests.conftest import ROOT

    trigger()
    with Client(app.app, stage_name="test", project_dir=str(ROOT)) as http:
        sid = new_service(http, key)["sid"]
    handler = trigger(OTP_HOOK_COGNITO_SERVICE=sid)
    handler(cognito_event("CustomSMSSender_ForgotPassword", encrypted("7731", trigger.key)))
    with Client(app.app, stage_name="test", project_dir=str(ROOT)) as http:
        _, body, _ = call(http, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": "7731"})
    assert body["status"] == "approved", body


def test_no_code_number_or_ciphertext_reaches_the_log(trigger, outbox, caplog):
    from chalicelib.hooks.cognito import CognitoRefused

    handler = trigger()
    ciphertext, foreign = encrypted("582914", trigger.key), encrypted("582914", new_key(alias="x"))
    with caplog.at_level(logging.INFO):  # the function's level (chalicelib/telemetry.py)
        handler(cognito_event("CustomSMSSender_SignUp", ciphertext))
        with pytest.raises(CognitoRefused) as refused:
            handler(cognito_event("CustomSMSSender_SignUp", foreign))
    logged = caplog.text + str(refused.value)
    assert "hook cognito" in caplog.text  # the lines are there, without what they must not hold
    assert "582914" not in logged and ciphertext[:40] not in logged and "5552671" not in logged


# -- pumping through sign-ups ------------------------------------------------------------------

def test_an_attacker_pumping_sign_ups_across_a_range_is_stopped_by_the_prefix_limit(trigger, outbox, clock):
    """Sign-ups for every number of one range (Cognito passes no end user's address, so no
    per-IP limit can count): the prefix's 20 sends an hour hold, and nothing more is sent."""
    from chalicelib.hooks.cognito import CognitoRefused

    handler = trigger()
    sent, refused = 0, 0
    for n in range(30):
        clock.advance(1)
        try:
            handler(cognito_event("CustomSMSSender_SignUp", encrypted(f"{300000 + n}", trigger.key),
                                  f"+1415555{2600 + n}"))
            sent += 1
        except CognitoRefused:
            refused += 1
    assert (sent, refused, len(outbox)) == (20, 10, 20)


def test_resends_for_one_number_stop_at_five(trigger, outbox, clock):
    from chalicelib.hooks.cognito import CognitoRefused

    handler = trigger()
    answers = []
    for n in range(7):
        clock.advance(31)  # past the resend interval
        try:
            handler(cognito_event("CustomSMSSender_ResendCode", encrypted(f"{400000 + n}", trigger.key)))
            answers.append("sent")
        except CognitoRefused as exc:
            answers.append(str(exc)[:16])
    assert answers[:5] == ["sent"] * 5 and all(a.startswith("Not sent (429)") for a in answers[5:]), answers
    assert len(outbox) == 5


# -- the function in the stack -----------------------------------------------------------------

def test_the_trigger_function_exists_only_when_its_key_is_set():
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import app, sys; print(sorted(app.app.handler_map)); "
            "print('aws_encryption_sdk' in sys.modules, 'cryptography' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTP_HOOK_")}
    on = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                        env={**env, "OTP_HOOK_COGNITO_KEY_ID": "alias/phone-verify-dev-cognito"})
    off = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env=env)
    assert "'cognito_sms'" in on.stdout.splitlines()[0], on.stderr
    assert "'cognito_sms'" not in off.stdout.splitlines()[0], off.stderr
    assert on.stdout.splitlines()[1] == "False False"  # the SDK is imported on the first event only


def test_a_bad_cognito_setting_fails_naming_the_variable():
    from chalicelib.config import Config, ConfigError
    from tests.unit.test_config import BASE as base

    for name, value in (("OTP_HOOK_COGNITO_KEY_ID", "not a key!"), ("OTP_HOOK_COGNITO_SERVICE", "VA123")):
        with pytest.raises(ConfigError, match=name):
            Config.from_env({**base, name: value})
    config = Config.from_env({**base, "OTP_HOOK_COGNITO_KEY_ID": "alias/phone-verify-test-cognito"})
    assert config.hooks.cognito.enabled and config.hooks.cognito.key_id == "alias/phone-verify-test-cognito"


def test_the_trigger_answers_within_the_five_seconds_cognito_waits(trigger, outbox, monkeypatch):
    """Cognito retries a trigger that has not answered in 5 s (each retry a resend): the
    function's timeout is 5 s and its own budget 4 s, which its clients' timeouts are sized to."""
    import json

    from chalicelib import budget
    from tests.conftest import ROOT

    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    for stage in ("dev", "prod"):
        function = stages[stage]["lambda_functions"]["cognito_sms"]
        assert function["lambda_timeout"] == 5
        assert function["environment_variables"] == {"OTP_REQUEST_BUDGET_SECONDS": "4"}
    budgets = []
    original = budget.begin
    monkeypatch.setattr(budget, "begin", lambda seconds=8.0: (budgets.append(seconds), original(seconds))[1])
    handler = trigger(OTP_REQUEST_BUDGET_SECONDS="4")
    handler(cognito_event("CustomSMSSender_SignUp", encrypted("482913", trigger.key)))
    assert budgets == [4] and len(outbox) == 1


@pytest.mark.parametrize("locale, text", [
    ("fr_FR", "Votre code de verification Verify est 482913"), ("de", "Ihr Verify Bestätigungscode lautet 482913"),
    ("not a locale!", "Your Verify verification code is 482913"),
])
def test_the_message_is_in_the_users_locale_attribute_when_it_names_one(trigger, outbox, locale, text):
    trigger()(cognito_event("CustomSMSSender_SignUp", encrypted("482913", trigger.key), locale=locale))
    assert outbox[0]["body"].startswith(text), outbox[0]["body"]
