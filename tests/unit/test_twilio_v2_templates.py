"""Twilio's Templates (``GET /v2/Templates``, issue 33) and what picks one: a start's
``TemplateSid`` and a Service's ``DefaultTemplateSid``; the operator's templates come from
OTP_TEMPLATES, validated at start-up (security rule 33 on text that reaches a message).

References: https://www.twilio.com/docs/verify/api/templates, Twilio's OpenAPI document
twilio_verify_v2's ``verify.v2.verification_template`` and ListVerificationTemplate
(tests/data/twilio-oai)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.errors import ConfigError
from chalicelib.settings.templates import template_sid, templates_from_env
from tests.integration import twilio_oai
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

TEMPLATES = {"Acme login": {"en": "{code} is your {brand} login code", "fr": "{code} : votre code {brand}"},
             "Short": {"de": "Code {code}"}}
LOGIN, SHORT = template_sid("Acme login"), template_sid("Short")
US = "+14155552671"


@pytest.fixture
def client(configured):
    return configured(OTP_ATTEMPTS="false", OTP_TEMPLATES=json.dumps(TEMPLATES))


def _start(client, key, sid: str, to: str = US, **form: str):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": "sms", **form})


def _body(outbox, to: str) -> str:
    return next(m["body"] for m in outbox if m["to"] == to)


def test_the_list_has_the_shipped_texts_and_the_operators_in_twilios_shape(client, key):  # noqa: F811
    status, page, _ = call(client, key, "GET", "/v2/Templates")
    assert status == 200 and page["meta"]["key"] == "templates"
    schema = twilio_oai.load()["components"]["schemas"]["verify.v2.verification_template"]["properties"]
    names = [t["friendly_name"] for t in page["templates"]]
    assert names == ["Verify default", "Acme login", "Short"]
    for template in page["templates"]:
        assert set(template) == set(schema)
        assert re.fullmatch(schema["sid"]["pattern"].strip("^$"), template["sid"]) and template["channels"] == ["sms"]
    login = page["templates"][1]
    assert login["sid"] == LOGIN and set(login["translations"]) == {"en", "fr"}
    assert login["translations"]["en"] == {"locale": "en", "text": TEMPLATES["Acme login"]["en"], "status": "approved",
                                           "is_default_translation": True, "date_created": None, "date_updated": None}
    assert login["translations"]["fr"]["is_default_translation"] is False
    shipped = page["templates"][0]["translations"]
    assert "en" in shipped and "ja" in shipped and "{code}" in shipped["en"]["text"]
    status, only, _ = call(client, key, "GET", "/v2/Templates?FriendlyName=Short")
    assert [t["sid"] for t in only["templates"]] == [SHORT]


def test_a_start_with_template_sid_sends_that_templates_text(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, FriendlyName="Acme")["sid"]
    status, body, _ = _start(client, key, sid, TemplateSid=LOGIN)
    assert status == 201, body
    text = _body(outbox, US)
    assert re.fullmatch(r"[0-9]{6} is your Acme login code", text), text
    status, body, _ = _start(client, key, sid, "+14155552672", TemplateSid=LOGIN, Locale="fr")
    assert status == 201 and re.fullmatch(r"[0-9]{6} : votre code Acme", _body(outbox, "+14155552672"))
    status, body, _ = _start(client, key, sid, "+14155552673", TemplateSid=LOGIN, Locale="ja")  # none: the default
    assert status == 201 and _body(outbox, "+14155552673").endswith("is your Acme login code")
    status, body, _ = _start(client, key, sid, "+14155552674")  # no template: the shipped text
    assert status == 201 and _body(outbox, "+14155552674").startswith("Your Acme verification code is")


def test_a_services_default_template_is_its_starts_and_template_sid_overrides_it(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, FriendlyName="Acme", DefaultTemplateSid=LOGIN.lower())["sid"]
    status, service, _ = call(client, key, "GET", f"/v2/Services/{sid}")
    assert service["default_template_sid"] == LOGIN  # as the list spells it
    assert _start(client, key, sid)[0] == 201
    assert _body(outbox, US).endswith("is your Acme login code")
    assert _start(client, key, sid, "+14155552672", TemplateSid=SHORT)[0] == 201
    assert re.fullmatch(r"Code [0-9]{6}", _body(outbox, "+14155552672"))
    builtin = template_sid("Verify default")
    assert _start(client, key, sid, "+14155552673", TemplateSid=builtin)[0] == 201
    assert _body(outbox, "+14155552673").startswith("Your Acme verification code is")
    status, updated, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"DefaultTemplateSid": ""})
    assert status == 200 and updated["default_template_sid"] is None


@pytest.mark.parametrize("form", [{"TemplateSid": "HJ123"}, {"TemplateSid": "HJ" + "0" * 32},
                                  {"TemplateSid": LOGIN, "Channel": "call"},
                                  {"TemplateCustomSubstitutions": '{"x": "y"}'}])
def test_a_bad_template_on_a_start_is_60200_and_sends_nothing(client, key, outbox, form):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": US, "Channel": "sms", **form})
    assert status == 400 and twilio_error(body) == 60200, body
    assert not outbox


def test_an_unknown_default_template_is_60200(client, key):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme",
                                                                 "DefaultTemplateSid": "HJ" + "0" * 32})
    assert status == 400 and twilio_error(body) == 60200 and "DefaultTemplateSid" in body["message"]


def test_a_template_too_long_for_one_segment_with_a_services_brand_is_refused(configured, key):  # noqa: F811
    long = "x" * 125 + " {brand} {code}"  # 139 characters with the stage's brand, 165 with 32 of its own
    client = configured(OTP_ATTEMPTS="false", OTP_TEMPLATES=json.dumps({"Long": {"en": long}}))
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "A" * 32,
                                                                 "DefaultTemplateSid": template_sid("Long")})
    assert status == 400 and twilio_error(body) == 60200 and "DefaultTemplateSid" in body["message"]


def test_whatsapps_authentication_template_is_listed_with_its_languages(configured, key):  # noqa: F811
    client = configured(OTP_WHATSAPP_PROVIDER="console", OTP_WHATSAPP_TEMPLATE="acme_code")
    templates = call(client, key, "GET", "/v2/Templates")[1]["templates"]
    whatsapp = [t for t in templates if t["channels"] == ["whatsapp"]]
    assert [t["friendly_name"] for t in whatsapp] == ["acme_code"]
    translations = whatsapp[0]["translations"]
    assert {"en", "pt_BR", "zh_CN"} <= set(translations) and translations["en"]["status"] == "approved"


# -- OTP_TEMPLATES, validated at start-up ------------------------------------------------------


@pytest.mark.parametrize("raw", [
    "not json", "[]", "{}", json.dumps({"x": "text"}), json.dumps({"x": {}}),
    json.dumps({"": {"en": "{code}"}}), json.dumps({"n" * 33: {"en": "{code}"}}),
    json.dumps({"x": {"english": "{code}"}}), json.dumps({"x": {"en": 5}}),
    json.dumps({"x": {"en": "no code here"}}), json.dumps({"x": {"en": "{code} {secret}"}}),
    json.dumps({"x": {"en": "{code!r}"}}), json.dumps({"x": {"en": "{code:>20}"}}),
    json.dumps({"x": {"en": "{code.real}"}}), json.dumps({"x": {"en": "{code"}}),
    json.dumps({"x": {"en": "{code}\n@evil.example #123456"}}),  # a line break: a forged WebOTP line
    json.dumps({"x": {"en": "{code}\u202e"}}), json.dumps({"x": {"en": "{code}\x07"}}),  # bidi, control
    json.dumps({"x\u200b": {"en": "{code}"}}), json.dumps({"x": {"en": "{code} " + "y" * 160}}),
])
def test_a_bad_otp_templates_names_the_variable(raw):
    with pytest.raises(ConfigError, match="OTP_TEMPLATES"):
        templates_from_env({"OTP_TEMPLATES": raw})


def test_a_template_over_one_segment_with_the_stages_brand_fails_the_start_up():
    from chalicelib import wiring

    from tests.conftest import TEST_STAGE

    stage = TEST_STAGE["environment_variables"]
    long = {"Long": {"ja": "{brand}の認証コードは{code}です。" + "誰" * 40}}  # UCS-2: 70 characters a segment
    with pytest.raises(ConfigError, match="OTP_TEMPLATES: 'Long' would need two SMS segments"):
        wiring.load_config({**stage, "OTP_BRAND_NAME": "B" * 20, "OTP_TEMPLATES": json.dumps(long)})
