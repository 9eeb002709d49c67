"""Routing, failover, voice and locales, end to end through the API with mocked providers."""

from __future__ import annotations

from tests.conftest import reset_app

import json
import logging
import re
from typing import Callable
from urllib.parse import parse_qs

import pytest
import responses

from tests.conftest import ROOT
from tests.unit.helpers import PhoneNumberType, check, error_code, example, get, start
from chalicelib import wiring

TWILIO_SMS = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"
TWILIO_CALL = "https://api.twilio.com/2010-04-01/Accounts/AC123/Calls.json"
PLIVO = "https://api.plivo.com/v1/Account/MAplivo/Message/"
XOXZO = "https://api.xoxzo.com/sms/messages/"
CREDENTIALS = {
    "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "tw-secret-token", "TWILIO_FROM": "+15005550006",
    "PLIVO_AUTH_ID": "MAplivo", "PLIVO_AUTH_TOKEN": "plivo-secret-token", "PLIVO_SRC": "+15005550006",
    "XOXZO_SID": "xsid", "XOXZO_AUTH_TOKEN": "xoxzo-secret-token",
}


@pytest.fixture
def configured(aws, clock, monkeypatch) -> Callable[..., object]:
    """A test client for the test stage plus the given variables."""
    from chalice.test import Client

    import app as app_module

    clients = []

    def make(**env: str):
        for name, value in {**CREDENTIALS, **env}.items():
            monkeypatch.setenv(name, value)
        reset_app()
        service = wiring.get_service()  # built now, with these variables; cached for requests
        monkeypatch.setattr(service, "_clock", clock)
        client = Client(app_module.app, stage_name="test", project_dir=str(ROOT))
        clients.append(client)
        return client

    yield make


def body_of(call) -> dict:
    raw = call.request.body
    raw = raw.decode() if isinstance(raw, bytes) else raw
    if raw.startswith("{"):
        return json.loads(raw)
    return {k: v[0] for k, v in parse_qs(raw).items()}


def code_in(text: str) -> str:
    return re.search(r"\b[0-9]{6}\b", text, re.ASCII).group(0)


@responses.activate
def test_transient_failure_fails_over_with_the_same_code(configured):
    client = configured(SMS_PROVIDER="twilio,plivo")
    responses.add(responses.POST, TWILIO_SMS, json={"code": 20503, "message": "down"}, status=503)
    responses.add(responses.POST, PLIVO, json={"message_uuid": ["u-1"]}, status=202)
    status, body, _ = start(client)
    assert status == 201
    twilio_call, plivo_call = responses.calls
    assert code_in(body_of(twilio_call)["Body"]) == code_in(body_of(plivo_call)["text"])
    _, state, _ = get(client, f"/v1/verifications/{body['id']}")
    assert state["send_attempts"][0]["provider"] == "plivo"


@responses.activate
def test_permanent_failure_does_not_fail_over_and_leaves_nothing(configured):
    client = configured(SMS_PROVIDER="twilio,plivo")
    responses.add(responses.POST, TWILIO_SMS, json={"code": 21614, "message": "not a mobile"}, status=400)
    status, body, _ = start(client)
    assert status == 422 and error_code(body) == "undeliverable_number"
    assert len(responses.calls) == 1  # plivo was not tried
    responses.replace(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    assert start(client)[0] == 201  # nothing half-written blocks a retry


@responses.activate
def test_all_providers_failing_is_502_and_a_retry_works(configured):
    client = configured(SMS_PROVIDER="twilio,plivo")
    responses.add(responses.POST, TWILIO_SMS, json={"code": 20429}, status=429)
    responses.add(responses.POST, PLIVO, json={"error": "internal"}, status=500)
    status, body, _ = start(client)
    assert status == 502 and error_code(body) == "delivery_failed"
    responses.replace(responses.POST, TWILIO_SMS, json={"sid": "SM2"}, status=201)
    status, body, _ = start(client)
    assert status == 201 and body["send_count"] == 1


@responses.activate
def test_per_country_routes(configured):
    client = configured(SMS_PROVIDER="twilio", SMS_ROUTES='{"JP": "xoxzo", "*": "twilio"}')
    responses.add(responses.POST, XOXZO, json=[{"msgid": "x-1"}], status=201)
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM3"}, status=201)
    assert start(client, to=example("JP", PhoneNumberType.MOBILE))[0] == 201
    assert start(client, to="+14155552671")[0] == 201
    assert [c.request.url for c in responses.calls] == [XOXZO, TWILIO_SMS]


@responses.activate
def test_voice_skips_providers_without_voice_and_reaches_landlines(configured):
    client = configured(SMS_PROVIDER="plivo,twilio")
    responses.add(responses.POST, TWILIO_CALL, json={"sid": "CA1"}, status=201)
    landline = example("GB", PhoneNumberType.FIXED_LINE)
    status, body, _ = start(client, to=landline, channel="voice")
    assert status == 201 and body["channel"] == "voice"
    (call,) = responses.calls
    assert call.request.url == TWILIO_CALL
    twiml = body_of(call)["Twiml"]
    digits = re.search(r"is: ([0-9](?:, [0-9]){5})", twiml).group(1)
    assert twiml.count(digits) == 2


@responses.activate
def test_voice_without_a_voice_provider_is_unsupported_channel(configured):
    client = configured(SMS_PROVIDER="plivo")
    status, body, _ = start(client, channel="voice")
    assert status == 400 and error_code(body) == "unsupported_channel"
    assert not responses.calls


def test_voice_refuses_premium_numbers(configured):
    client = configured(SMS_PROVIDER="twilio")
    status, body, _ = start(client, to=example("GB", PhoneNumberType.PREMIUM_RATE), channel="voice")
    assert status == 400 and error_code(body) == "unsupported_number_type"


@responses.activate
def test_a_resend_may_switch_to_voice(configured, clock):
    client = configured(SMS_PROVIDER="twilio")
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    responses.add(responses.POST, TWILIO_CALL, json={"sid": "CA1"}, status=201)
    _, first, _ = start(client)
    clock.advance(30)
    status, second, _ = start(client, channel="voice")
    assert status == 200 and second["id"] == first["id"] and second["channel"] == "voice"
    _, state, _ = get(client, f"/v1/verifications/{first['id']}")
    assert [a["channel"] for a in state["send_attempts"]] == ["sms", "voice"]


@responses.activate
def test_locale_picks_the_template_and_unknown_falls_back_to_english(configured):
    client = configured(SMS_PROVIDER="twilio")
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    start(client, locale="es")
    start(client, to="+14155552672", locale="pt-BR")
    start(client, to="+14155552673", locale="xx")
    texts = [body_of(c)["Body"] for c in responses.calls]
    assert texts[0].startswith("Tu clave de verificacion")
    assert texts[1].startswith("Seu código")
    assert texts[2].startswith("Your Verify verification code")


@responses.activate
def test_no_log_record_of_a_send_holds_the_code_or_a_credential(configured, caplog):
    caplog.set_level(logging.INFO)
    client = configured(SMS_PROVIDER="twilio,plivo")
    responses.add(responses.POST, TWILIO_SMS, json={"code": 20003, "message": "Authenticate"}, status=401)
    responses.add(responses.POST, PLIVO, json={"message_uuid": ["u-1"]}, status=202)
    start(client)
    code = code_in(body_of(responses.calls[1])["text"])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "provider=twilio permanent=False" in text and "provider=plivo" in text
    assert code not in text
    for secret in ("tw-secret-token", "plivo-secret-token", "AC123:"):
        assert secret not in text


@responses.activate
def test_failover_costs_one_extra_write_and_only_then(configured):
    from tests.unit.test_security import CallCounter

    client = configured(SMS_PROVIDER="twilio,plivo")
    counter = CallCounter(wiring.get_service()._store._client)
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    start(client)
    assert counter.take().count("UpdateItem v") == 1
    responses.replace(responses.POST, TWILIO_SMS, json={"code": 20503}, status=503)
    responses.add(responses.POST, PLIVO, json={"message_uuid": ["u-1"]}, status=202)
    start(client, to="+14155552672")
    assert counter.take().count("UpdateItem v") == 2


# -- numbers that fail on purpose (OTP_TEST_NUMBERS {"fail": ...}) ---------------------------

REHEARSALS = json.dumps({
    "+15005550001": {"fail": "permanent"},
    "+15005550002": {"fail": "transient", "code": "424242"},
    "+15005550003": {"fail": "timeout"},
    "+15005550004": {"code": "123456"},
    "+15005550005": "654321",  # the original plain form
    r"^\+1500555009[0-9]$": {"fail": "transient"},
})


@responses.activate
def test_a_permanent_test_number_is_422_without_failover_and_sends_nothing(configured):
    client = configured(SMS_PROVIDER="twilio,plivo", OTP_TEST_NUMBERS=REHEARSALS)
    status, body, _ = start(client, to="+15005550001")
    assert status == 422 and error_code(body) == "undeliverable_number"
    assert status_of(client, "+15005550001") == 404  # nothing left behind
    assert not responses.calls


@responses.activate
def test_a_transient_test_number_fails_over_to_the_next_provider_and_verifies(configured):
    client = configured(SMS_PROVIDER="twilio,plivo", OTP_TEST_NUMBERS=REHEARSALS)
    status, body, _ = start(client, to="+15005550002")
    assert status == 201
    _, state, _ = get(client, f"/v1/verifications/{body['id']}")
    assert state["send_attempts"][0]["provider"] == "plivo"  # the failover, as with real providers
    assert check(client, "424242", to="+15005550002")[0] == 200
    assert not responses.calls


@responses.activate
def test_a_failing_over_test_number_without_a_code_verifies_with_zeros(configured):
    client = configured(SMS_PROVIDER="twilio,plivo", OTP_TEST_NUMBERS=REHEARSALS)
    assert start(client, to="+15005550091")[0] == 201
    assert check(client, "000000", to="+15005550091")[0] == 200


@responses.activate
def test_a_transient_test_number_with_one_provider_is_502(configured):
    client = configured(SMS_PROVIDER="twilio", OTP_TEST_NUMBERS=REHEARSALS)
    status, body, _ = start(client, to="+15005550095")
    assert status == 502 and error_code(body) == "delivery_failed"
    assert not responses.calls


@responses.activate
def test_a_timeout_test_number_is_502_at_once(configured, monkeypatch):
    # "At once": no provider is called and nothing waits (no timed assertion: the machine's load
    # must not decide a test).
    import time as real_time

    def no_waiting(seconds):
        raise AssertionError(f"a rehearsed timeout slept {seconds} s")

    client = configured(SMS_PROVIDER="twilio,plivo", OTP_TEST_NUMBERS=REHEARSALS)
    monkeypatch.setattr(real_time, "sleep", no_waiting)
    status, body, _ = start(client, to="+15005550003")
    assert status == 502 and error_code(body) == "delivery_failed"
    assert not responses.calls


@responses.activate
def test_code_test_numbers_in_both_forms_still_verify(configured):
    client = configured(SMS_PROVIDER="twilio", OTP_TEST_NUMBERS=REHEARSALS)
    for number, code in (("+15005550004", "123456"), ("+15005550005", "654321")):
        assert start(client, to=number)[0] == 201
        assert check(client, code, to=number)[0] == 200
    assert not responses.calls


@responses.activate
def test_rehearsed_failures_stay_out_of_the_provider_metrics(configured, capsys):
    client = configured(SMS_PROVIDER="twilio,plivo", OTP_TEST_NUMBERS=REHEARSALS)
    capsys.readouterr()
    start(client, to="+15005550002")
    start(client, to="+15005550003")
    assert '"Sends"' not in capsys.readouterr().out
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    start(client)  # a real send is counted
    assert '"Sends"' in capsys.readouterr().out


@pytest.mark.parametrize("value", [
    '{"+15005550001": {"fail": "sometimes"}}',
    '{"+15005550001": {"fail": "permanent", "extra": 1}}',
    '{"+15005550001": {}}',
    '{"+15005550001": {"code": 123456}}',
    '{"+15005550001": 123456}',
])
def test_bad_test_number_values_name_the_variable(value):
    from chalicelib.config import Config, ConfigError

    with pytest.raises(ConfigError, match="OTP_TEST_NUMBERS"):
        Config.from_env({"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "OTP_TEST_NUMBERS": value})


def status_of(client, number: str) -> int:
    from tests.unit.helpers import post

    return post(client, "/v1/verifications/check", {"to": number, "code": "000000"})[0]


# -- the webhook provider through the API ------------------------------------------------------

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@responses.activate
def test_webhook_failover_through_the_api_keeps_the_code_out_of_the_logs(configured, caplog):
    from standardwebhooks import Webhook

    caplog.set_level(logging.DEBUG)
    client = configured(SMS_PROVIDER="webhook,twilio", WEBHOOK_URL="https://hooks.example.com/sms",
                        WEBHOOK_SECRET=WEBHOOK_SECRET)
    responses.add(responses.POST, "https://hooks.example.com/sms", body="echo: " + "x" * 10, status=503)
    responses.add(responses.POST, TWILIO_SMS, json={"sid": "SM1"}, status=201)
    status, body, _ = start(client, locale="fr")
    assert status == 201
    hook, twilio = responses.calls
    sent = Webhook(WEBHOOK_SECRET).verify(hook.request.body, dict(hook.request.headers))
    assert sent["type"] == "sms" and sent["locale"] == "fr" and sent["verification_id"] == body["id"]
    assert sent["code"] == code_in(body_of(twilio)["Body"]) and sent["code"] in sent["text"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "provider=webhook permanent=False detail=HTTP 503" in text
    assert sent["code"] not in text and WEBHOOK_SECRET not in text


def test_aws_sends_are_not_retried_by_botocore(aws):
    # A retried Publish/Invoke after a read timeout can deliver twice: failover is the retry.
    service = wiring.get_service()
    factory = service._providers._context("sns", {}).aws
    for name in ("sns", "pinpoint-sms-voice-v2", "lambda"):
        assert factory(name).meta.config.retries["total_max_attempts"] == 1, name
    assert factory("dynamodb").meta.config.retries.get("total_max_attempts", 3) > 1
