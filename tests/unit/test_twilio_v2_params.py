"""Issue 29, every parameter of CreateService, UpdateService and CreateVerification: each is
accepted and does what Twilio documents, or answers 60200 naming it and saying why.

The reference is Twilio's OpenAPI document (tests/data/twilio-oai/twilio_verify_v2.json): its
parameter lists are read from it here, so a parameter the document has and this service
neither takes nor names is a failing test."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import boto3
import pytest

from chalicelib.twilio_v2.services import ServiceSettings
from tests.conftest import TABLE, last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401 (key: a fixture)

DOCUMENT = Path(__file__).parents[1] / "data" / "twilio-oai" / "twilio_verify_v2.json"


def _parameters(path: str) -> list[str]:
    operation = json.loads(DOCUMENT.read_text())["paths"][path]["post"]
    return sorted(operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"])


def _start(client, key, sid: str, **form):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": NUMBER, "Channel": "sms", **form})


# -- Services --------------------------------------------------------------------------------

# A value of the documented type for each parameter, as an app would send it.
SERVICE_VALUES = {
    "CodeLength": "6", "CustomCodeEnabled": "true", "DefaultTemplateSid": "HJ" + "0" * 32,
    "DoNotShareWarningEnabled": "true", "DtmfInputRequired": "true", "FriendlyName": "Acme",
    "LookupEnabled": "true", "Psd2Enabled": "true", "SkipSmsToLandlines": "true", "TtsName": "polly",
    "Push.ApnCredentialSid": "CR" + "0" * 32, "Push.FcmCredentialSid": "CR" + "0" * 32, "Push.IncludeDate": "true",
    "Totp.CodeLength": "8", "Totp.Issuer": "Acme Corp", "Totp.Skew": "2", "Totp.TimeStep": "60",
    "VerifyEventSubscriptionEnabled": "true", "Whatsapp.From": "+14155550100",
    "Whatsapp.MsgServiceSid": "MG" + "0" * 32,
    "Passkeys.AuthenticatorAttachment": "platform", "Passkeys.DiscoverableCredentials": "preferred",
    "Passkeys.RelyingParty.Id": "example.com", "Passkeys.RelyingParty.Name": "Example",
    "Passkeys.RelyingParty.Origins": "https://example.com,https://www.example.com",
    "Passkeys.UserVerification": "required",
}
APPLIED = {"CodeLength", "CustomCodeEnabled", "DoNotShareWarningEnabled", "FriendlyName", "LookupEnabled", "Psd2Enabled",
           "SkipSmsToLandlines", "Totp.Issuer", "Totp.Skew", "VerifyEventSubscriptionEnabled",
           *(name for name in SERVICE_VALUES if name.startswith("Passkeys."))}


@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize("parameter", _parameters("/v2/Services"))
def test_every_service_parameter_is_applied_or_60200_saying_why(client, key, operation, parameter):  # noqa: F811
    assert _parameters("/v2/Services") == _parameters("/v2/Services/{Sid}")
    form = {parameter: SERVICE_VALUES[parameter]}
    if parameter == "SkipSmsToLandlines":
        form["LookupEnabled"] = "true"  # "Requires lookup_enabled"
    if operation == "create":
        status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme", **form})
    else:
        sid = new_service(client, key)["sid"]
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", form)
    if parameter in APPLIED:
        assert status in (200, 201), body
        return
    assert status == 400 and twilio_error(body) == 60200, body
    assert f"`{parameter}`" in body["message"] and body["message"].split(": ", 1)[1]  # named, with a why


def test_the_service_body_returns_what_was_set_and_an_update_keeps_the_rest(client, key):  # noqa: F811
    service = new_service(client, key, FriendlyName="A" * 32, LookupEnabled="true", SkipSmsToLandlines="true",
                          DoNotShareWarningEnabled="true", Psd2Enabled="true", VerifyEventSubscriptionEnabled="true",
                          **{"Totp.Issuer": "Acme Online", "Totp.Skew": "0", "Totp.TimeStep": "30",
                             "Totp.CodeLength": "6"})
    assert service["friendly_name"] == "A" * 32  # Twilio's document: "up to 32 characters"
    assert (service["lookup_enabled"], service["skip_sms_to_landlines"], service["psd2_enabled"],
            service["do_not_share_warning_enabled"], service["verify_event_subscription_enabled"]) == (True,) * 5
    assert service["totp"] == {"issuer": "Acme Online", "time_step": 30, "code_length": 6, "skew": 0}
    status, body, _ = call(client, key, "POST", f"/v2/Services/{service['sid']}", {"Psd2Enabled": "false"})
    assert status == 200 and body["psd2_enabled"] is False and body["lookup_enabled"] is True
    assert call(client, key, "GET", f"/v2/Services/{service['sid']}")[1]["totp"]["issuer"] == "Acme Online"


def test_a_friendly_name_of_33_characters_is_60200_and_the_segment_budget_still_applies(client, key):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "A" * 33})
    assert status == 400 and twilio_error(body) == 60200 and "`FriendlyName`" in body["message"]
    # 32 characters of UCS-2 leave no room in one segment with a 10-digit code and the warning.
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "ア" * 32, "CodeLength": "10",
                                                                 "DoNotShareWarningEnabled": "true"})
    assert status == 400 and twilio_error(body) == 60200 and "one-segment" in body["message"]


def test_skip_sms_to_landlines_requires_lookup_enabled(client, key):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "A", "SkipSmsToLandlines": "true"})
    assert status == 400 and "`SkipSmsToLandlines`" in body["message"]


def test_a_service_stored_before_these_fields_updates_as_before(client, key):  # noqa: F811
    """The update's compare-and-set compares JSON: a Service of the first layout must write
    back the JSON it has, or every update would be a lost race."""
    sid = new_service(client, key)["sid"]
    table = boto3.client("dynamodb", region_name="us-east-1")
    old = ServiceSettings(sid, "Acme", 6, 1, 1)
    legacy = json.dumps({"sid": sid, "friendly_name": "Acme", "code_length": 6, "created_at": 1, "updated_at": 1},
                        sort_keys=True)
    assert old.to_json() == legacy
    table.put_item(TableName=TABLE, Item={"pk": {"S": f"v2#service#{sid}"}, "settings": {"S": legacy}})
    from chalicelib import wiring

    wiring.get_twilio().catalog.expire()
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"Psd2Enabled": "true"})
    assert status == 200 and body["psd2_enabled"] is True, body


def test_do_not_share_warning_ends_the_sms(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, DoNotShareWarningEnabled="true")["sid"]
    assert _start(client, key, sid)[0] == 201
    assert outbox[0]["body"].endswith("our employees will never ask for the code.")


def test_totp_issuer_and_skew_are_the_services_defaults_for_its_factors(client, key):  # noqa: F811
    sid = new_service(client, key, FriendlyName="Acme", **{"Totp.Issuer": "Acme Online", "Totp.Skew": "2"})["sid"]
    status, created, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/alice-0001/Factors",
                              {"FactorType": "totp", "FriendlyName": "phone"})
    assert status == 201, created
    assert parse_qs(urlparse(created["binding"]["uri"]).query)["issuer"] == ["Acme Online"]
    assert created["config"]["skew"] == 2
    status, created, _ = call(client, key, "POST", f"/v2/Services/{sid}/Entities/alice-0001/Factors",
                              {"FactorType": "totp", "FriendlyName": "tablet", "Config.Skew": "0"})
    assert created["config"]["skew"] == 0  # the factor's own Config.Skew wins


@pytest.mark.parametrize("issuer", ["Acme:Bank", "Acme\nBank", "", "x" * 65])
def test_a_bad_totp_issuer_is_60200(client, key, issuer):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "A", "Totp.Issuer": issuer})
    if issuer == "":  # empty: back to the FriendlyName (Twilio's default)
        assert status == 201 and body["totp"]["issuer"] == "A"
        return
    assert status == 400 and twilio_error(body) == 60200 and "`Totp.Issuer`" in body["message"]


# -- Verifications ---------------------------------------------------------------------------

START_VALUES = {
    "Amount": "€39.99", "AppHash": "He42w354ol9", "Channel": "sms", "ChannelConfiguration": '{"from_name": "x"}',
    "CustomCode": "123456", "CustomFriendlyName": "Shop", "CustomMessage": "hi", "DeviceIp": "198.51.100.7",
    "EnableSnaClientToken": "true", "Locale": "fr", "Payee": "Acme Inc", "RateLimits": '{"end_user_ip": "1"}',
    "RiskCheck": "disable", "SendDigits": "1234#", "Tags": '{"order": "42"}', "TemplateCustomSubstitutions": "{}",
    "TemplateSid": "HJ" + "0" * 32, "To": NUMBER,
}
START_APPLIED = {"AppHash", "Channel", "CustomFriendlyName", "DeviceIp", "Locale", "Tags", "To"}
PSD2 = {"Amount", "Payee"}


@pytest.mark.parametrize("parameter", _parameters("/v2/Services/{ServiceSid}/Verifications"))
def test_every_start_parameter_is_applied_or_refused_saying_why(client, key, outbox, parameter):  # noqa: F811
    sid = new_service(client, key, Psd2Enabled="true")["sid"]
    form = {parameter: START_VALUES[parameter]}
    if parameter in PSD2:
        form.update(Amount="€39.99", Payee="Acme Inc")
    status, body, _ = _start(client, key, sid, **form)
    if parameter in START_APPLIED | PSD2:
        assert status == 201, body
        return
    assert status == 400 and twilio_error(body) in (60200, 60204), body
    assert f"`{parameter}`" in body["message"] and body["message"].split(": ", 1)[1]
    assert not outbox


def test_app_hash_ends_the_sms_on_its_own_line(client, key, outbox):  # noqa: F811
    """Android's SMS Retriever reads the 11-character hash at the message's end (Twilio's
    example: "... verification code is: 1234 He42w354ol9")."""
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid, AppHash="He42w354ol9")[0] == 201
    assert outbox[0]["body"].endswith("\n\nHe42w354ol9")
    assert _start(client, key, sid, To=OTHER_NUMBER)[0] == 201
    assert "He42w354ol9" not in outbox[0]["body"]  # one verification's hash, not the Service's


@pytest.mark.parametrize("app_hash", ["He42w354ol", "He42w354ol9x", "He42w354o\n9", "He42w354ol%", "Hé42w354ol9"])
def test_a_bad_app_hash_is_60200_and_sends_nothing(client, key, outbox, app_hash):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, AppHash=app_hash)
    assert status == 400 and twilio_error(body) == 60200 and "`AppHash`" in body["message"]
    assert not outbox


def test_tags_are_kept_on_the_verification_item_by_the_creates_write(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, Tags=json.dumps({"order": "42", "flow": "signup"}))
    assert status == 201, body
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    item = next(i for i in items if i.get("vid", {}).get("S") == body["sid"])
    assert json.loads(item["meta"]["S"]) == {"tags": {"flow": "signup", "order": "42"}}


@pytest.mark.parametrize("tags", ["[1]", '{"a": 1}', "not json", json.dumps({str(i): "v" for i in range(11)}),
                                  json.dumps({"k": "v" * 129}), json.dumps({"k" * 129: "v"}), '{"": "v"}'])
def test_bad_tags_are_60200(client, key, outbox, tags):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, Tags=tags)
    assert status == 400 and twilio_error(body) == 60200 and "`Tags`" in body["message"]
    assert not outbox


def test_amount_and_payee_reach_the_sms_and_the_verification(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, Psd2Enabled="true")["sid"]
    status, body, _ = _start(client, key, sid, Amount="€39.99", Payee="Acme Inc")
    assert status == 201 and (body["amount"], body["payee"]) == ("€39.99", "Acme Inc"), body
    assert "Amount: €39.99. Payee: Acme Inc." in outbox[0]["body"]
    fetched = call(client, key, "GET", f"/v2/Services/{sid}/Verifications/{body['sid']}")[1]
    assert (fetched["amount"], fetched["payee"]) == ("€39.99", "Acme Inc")


@pytest.mark.parametrize("form,parameter", [
    ({"Amount": "1 EUR", "Payee": "Acme"}, "Amount"),  # the Service has no Psd2Enabled
])
def test_psd2_needs_the_services_flag(client, key, outbox, form, parameter):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, **form)
    assert status == 400 and f"`{parameter}`" in body["message"] and "Psd2Enabled" in body["message"]


@pytest.mark.parametrize("form,parameter", [
    ({"Amount": "1 EUR"}, "Payee"), ({"Payee": "Acme"}, "Amount"),
    ({"Amount": "1\nEUR", "Payee": "Acme"}, "Amount"), ({"Amount": "1 EUR", "Payee": "pay at evil.com"}, "Payee"),
    ({"Amount": "1 EUR", "Payee": "Acme\u202e"}, "Payee"), ({"Amount": "x" * 33, "Payee": "Acme"}, "Amount"),
    ({"Amount": "1 EUR", "Payee": "Acme", "Channel": "call"}, "Amount"),
])
def test_a_bad_amount_or_payee_is_60200_and_sends_nothing(client, key, outbox, form, parameter):  # noqa: F811
    sid = new_service(client, key, Psd2Enabled="true")["sid"]
    status, body, _ = _start(client, key, sid, **form)
    assert status == 400 and twilio_error(body) == 60200 and f"`{parameter}`" in body["message"], body
    assert not outbox


def test_the_code_still_checks_with_the_extras_in_the_sms(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, Psd2Enabled="true", DoNotShareWarningEnabled="true")["sid"]
    started = _start(client, key, sid, To=OTHER_NUMBER, AppHash="He42w354ol9", Amount="12 EUR", Payee="Acme")[1]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"VerificationSid": started["sid"], "Code": last_code(outbox), "Amount": "12 EUR",
                            "Payee": "Acme"})
    assert status == 200 and body["status"] == "approved", body


def test_a_check_for_another_amount_or_payee_fails_and_the_right_one_approves(client, key, outbox):  # noqa: F811
    """PSD2's dynamic linking: the code approves the transaction it was sent for only."""
    sid = new_service(client, key, Psd2Enabled="true")["sid"]
    started = _start(client, key, sid, Amount="100 EUR", Payee="Acme")[1]
    code, path = last_code(outbox), f"/v2/Services/{sid}/VerificationCheck"
    for other in ({"Amount": "9999 EUR", "Payee": "Acme"}, {"Amount": "100 EUR", "Payee": "Mallory"}, {}):
        status, body, _ = call(client, key, "POST", path, {"VerificationSid": started["sid"], "Code": code, **other})
        assert status == 200 and body["status"] == "pending", body
    status, body, _ = call(client, key, "POST", path, {"VerificationSid": started["sid"], "Code": code,
                                                       "Amount": "100 EUR", "Payee": "Acme"})
    assert status == 200 and body["status"] == "approved" and body["amount"] == "100 EUR", body
