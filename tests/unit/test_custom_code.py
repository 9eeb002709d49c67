"""Twilio's CustomCode on /v2 (issue 32): a Service with CustomCodeEnabled sends the caller's
code in this service's own message, keeps only its MAC, and checks it as any code; a Service
without the switch answers 60204 (https://www.twilio.com/docs/api/errors/60204). Driven by
twilio-python where the SDK has the parameter (custom_code, custom_code_enabled)."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from tests.conftest import TABLE
from tests.unit.helpers import NUMBER, OTHER_NUMBER
from tests.unit.test_attempts_scale import ChaliceHttp
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401 (key: a fixture)


def sdk(client, key):  # noqa: F811
    from twilio.rest import Client

    return Client(key["api_key_sid"], key["api_key_secret"], http_client=ChaliceHttp(client, key))


def _items() -> list[dict]:
    return boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]


def test_a_custom_code_is_sent_in_the_services_message_and_approved_by_a_check(client, key, outbox, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    twilio = sdk(client, key)
    service = twilio.verify.v2.services.create(friendly_name="Acme", custom_code_enabled=True)
    assert service.custom_code_enabled is True
    started = twilio.verify.v2.services(service.sid).verifications.create(to=NUMBER, channel="sms",
                                                                         custom_code="Ab3x9Q")
    assert started.status == "pending" and len(outbox) == 1
    body = outbox[0]["body"]
    assert "Ab3x9Q" in body and body.startswith("Your Acme verification code is Ab3x9Q")  # the template's
    assert "Ab3x9Q" not in json.dumps(_items()) and "Ab3x9Q" not in caplog.text  # a MAC only, never logged
    checks = twilio.verify.v2.services(service.sid).verification_checks
    assert checks.create(to=NUMBER, code="ab3x9q").status == "pending"  # matched exactly, case included
    assert checks.create(to=NUMBER, code="Ab3x9Q").status == "approved"


def test_another_is_confirmed_by_status_approved_and_counted_converted_in_attempts(client, key, outbox):  # noqa: F811
    twilio = sdk(client, key)
    service = twilio.verify.v2.services.create(friendly_name="Acme", custom_code_enabled=True)
    verifications = twilio.verify.v2.services(service.sid).verifications
    started = verifications.create(to=NUMBER, channel="sms", custom_code="4242")
    assert "4242" in outbox[0]["body"]
    assert verifications(started.sid).update(status="approved").status == "approved"
    attempts = twilio.verify.v2.verification_attempts.list(verify_service_sid=service.sid)
    assert [a.conversion_status for a in attempts] == ["converted"]


def test_a_service_without_the_switch_answers_60204_and_sends_nothing(client, key, outbox):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    twilio = sdk(client, key)
    service = twilio.verify.v2.services.create(friendly_name="Acme")
    assert service.custom_code_enabled is False
    with pytest.raises(TwilioRestException) as raised:
        twilio.verify.v2.services(service.sid).verifications.create(to=NUMBER, channel="sms",
                                                                    custom_code="123456")
    assert raised.value.code == 60204 and raised.value.status == 400
    assert not outbox


@pytest.mark.parametrize("code", ["123", "12345678901", "12 34", "１２３４", "12-34", "ab\n12", ""])
def test_a_custom_code_out_of_twilios_alphabet_is_60200_and_sends_nothing(client, key, outbox, code):  # noqa: F811
    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": NUMBER, "Channel": "sms", "CustomCode": code})
    assert status == 400 and twilio_error(body) == 60200 and "`CustomCode`" in body["message"], body
    assert not outbox


def test_a_second_start_is_a_resend_both_codes_live_and_the_sixth_is_60203(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    for n in range(5):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                               {"To": NUMBER, "Channel": "sms", "CustomCode": f"code{n}"})
        assert status == 201, body
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": NUMBER, "Channel": "sms", "CustomCode": "code5"})
    assert status == 429 and twilio_error(body) == 60203
    assert len(outbox) == 5
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": NUMBER, "Code": "code1"})
    assert body["status"] == "approved"


def test_the_default_service_takes_custom_codes_with_the_stage_setting(configured, key, outbox):  # noqa: F811
    client = configured(OTP_CUSTOM_CODE_ENABLED="true")
    default = [s for s in call(client, key, "GET", "/v2/Services")[1]["services"] if s["custom_code_enabled"]]
    assert len(default) == 1
    status, body, _ = call(client, key, "POST", f"/v2/Services/{default[0]['sid']}/Verifications",
                           {"To": OTHER_NUMBER, "Channel": "sms", "CustomCode": "778899"})
    assert status == 201 and "778899" in outbox[0]["body"], body


def test_custom_code_enabled_is_kept_and_can_be_turned_off(client, key):  # noqa: F811
    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    assert call(client, key, "GET", f"/v2/Services/{sid}")[1]["custom_code_enabled"] is True
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"CustomCodeEnabled": "false"})
    assert status == 200 and body["custom_code_enabled"] is False


# -- JSON bodies (authentik's generic provider and other platforms POST JSON) -----------------

def _json_call(client, key, path: str, body, raw: bytes | None = None):  # noqa: F811
    from tests.unit.test_twilio_v2 import basic

    headers = {**basic(key["api_key_sid"], key["api_key_secret"]), "content-type": "application/json"}
    response = client.http.request("POST", path, headers=headers,
                                   body=raw if raw is not None else json.dumps(body).encode())
    return response.status_code, json.loads(response.body or b"null")


def test_a_start_and_a_check_take_json_with_the_forms_names(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    status, body = _json_call(client, key, f"/v2/Services/{sid}/Verifications",
                              {"To": NUMBER, "Channel": "sms", "CustomCode": "9QX41", "Tags": {"order": "7"}})
    assert status == 201 and body["status"] == "pending" and "9QX41" in outbox[0]["body"], body
    status, body = _json_call(client, key, f"/v2/Services/{sid}/VerificationCheck",
                              {"To": NUMBER, "Code": "9QX41"})
    assert status == 200 and body["status"] == "approved", body


@pytest.mark.parametrize("raw", [
    b'{"To": "+14155552671", "To": "+14155552672", "Channel": "sms"}',  # a name twice
    b'{"To": null, "Channel": "sms"}', b'{"To": ["+14155552671"], "Channel": "sms"}',
    b'{"To": "+14155552671", "Channel": "sms", "Amount": 1.5}', b'["To"]', b'{"To": ', b"\xff\xfe",
    b'{"To": "+14155552671", "Channel": "sms", "x": "' + b"a" * 9000 + b'"}',
], ids=["twice", "null", "list", "fraction", "array", "truncated", "not-utf8", "too-long"])
def test_a_bad_json_body_is_60200_and_sends_nothing(client, key, outbox, raw):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body = _json_call(client, key, f"/v2/Services/{sid}/Verifications", None, raw=raw)
    assert status == 400 and twilio_error(body) == 60200, body
    assert not outbox


def test_a_service_update_still_takes_the_form_only(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body = _json_call(client, key, f"/v2/Services/{sid}", {"FriendlyName": "Other"})
    assert status == 400 and twilio_error(body) == 60200, body


# -- conversion feedback: Status=approved is the breaker's conversion too --------------------

@pytest.mark.parametrize("report", [True, False])
def test_custom_codes_confirmed_by_status_approved_keep_their_range_open(client, key, outbox, report):  # noqa: F811
    """OTP_BREAKER_MIN_SENDS=10 at 20 %: ten custom-code sends of one range, each confirmed by
    Status=approved, leave the 11th through; unreported, the 11th trips the breaker (60410)."""
    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    path = f"/v2/Services/{sid}/Verifications"
    for n in range(10):
        status, body, _ = call(client, key, "POST", path, {"To": f"+1415555{2600 + n}", "Channel": "sms",
                                                           "CustomCode": "8080"})
        assert status == 201, body
        if report:
            assert call(client, key, "POST", f"{path}/{body['sid']}", {"Status": "approved"})[0] == 200
    status, body, _ = call(client, key, "POST", path,
                           {"To": "+14155552699", "Channel": "sms", "CustomCode": "8080"})
    if report:
        assert status == 201, body
    else:
        assert status == 403 and twilio_error(body) == 60410, body


def test_a_service_whose_custom_codes_are_checked_elsewhere_never_suspends_its_ranges(client, key, outbox):  # noqa: F811
    """CustomCodeReported=false (Kratos, authentik: they check the code and never report it):
    15 unreported custom-code starts of one range stay out of the breaker's sample, yet count on
    the prefix's limit of 20."""
    sid = new_service(client, key, CustomCodeEnabled="true", CustomCodeReported="false")["sid"]
    assert call(client, key, "GET", f"/v2/Services/{sid}")[1]["custom_code_reported"] is False
    path = f"/v2/Services/{sid}/Verifications"
    statuses = [call(client, key, "POST", path, {"To": f"+1415555{2600 + n}", "Channel": "sms",
                                                 "CustomCode": "8080"})[0] for n in range(21)]
    assert statuses == [201] * 20 + [403]
    assert len(outbox) == 20


def test_only_an_account_wide_credential_sets_custom_code_reported_false(client, key, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import create
    from tests.unit.test_twilio_v2 import basic
    from tests.unit.test_v2_credentials import expire_cache

    sid = new_service(client, key, CustomCodeEnabled="true")["sid"]
    limited = create("test", "limited", services=[sid])
    expire_cache(monkeypatch, 1.5)  # the new key is read (as test_v2_credentials does)
    headers = basic(limited["api_key_sid"], limited["api_key_secret"])
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"CustomCodeReported": "false"},
                           headers=headers)
    assert status == 403 and twilio_error(body) == 20403, body
    assert call(client, key, "GET", f"/v2/Services/{sid}")[1]["custom_code_reported"] is True
