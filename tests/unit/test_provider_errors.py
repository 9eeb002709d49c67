"""The audit of issue 13, one test per finding: each fake answer is the provider's documented
body (source beside it), and the classification follows the rule in chalicelib/providers:
permanent only when the provider says the destination itself cannot take the message."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

import pytest
import requests
import responses

from chalicelib.config import Config, ConfigError
from chalicelib.channels.messages import VoiceMessage
from chalicelib.channels.providers import ProviderContext, ProviderError, load_provider
from tests.unit.test_providers import PHONE, TEXT, WIRES, IDS, provider_for, reply

TWILIO = WIRES[IDS.index("twilio")]
SIGNALWIRE = WIRES[IDS.index("signalwire")]


def outcome(wire, status_body) -> bool:
    reply(wire, status_body)
    with pytest.raises(ProviderError) as info:
        provider_for(wire).send_sms(PHONE, TEXT)
    return info.value.permanent


# https://www.twilio.com/docs/errors/<code>; body shape {"code", "message", "more_info", "status"}.
@pytest.mark.parametrize("code,message,permanent", [
    (21612, "The 'To' phone number is not currently reachable using the 'From' phone number via SMS.", False),
    (21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number", False),
    (21215, "Geographic Permission configuration is not permitting call", False),
    (21606, "The 'From' phone number provided is not a valid, SMS-capable inbound phone number", False),
    (21608, "The number is unverified. Trial accounts cannot send messages to unverified numbers", False),
    (21610, "Attempt to send to unsubscribed recipient", True),
    (21614, "'To' number is not a valid mobile number", True),
    (21211, "Invalid 'To' Phone Number", True),
    (20003, "Authenticate", False),
])
@responses.activate
def test_twilio_codes_about_this_account_are_transient(code, message, permanent):
    body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": 400}
    assert outcome(TWILIO, (400, body)) is permanent


# SignalWire's own error list (Compatibility API "Error codes"): its codes differ from Twilio's.
@pytest.mark.parametrize("code,permanent", [
    ("21212", False),  # "The From number provided has invalid format": To is always E.164
    ("21210", False),  # 'From' phone number not verified
    ("21610", False),  # "blocked by the user or sent from a blacklisted number": may be the sender
    ("21612", False),  # "The Media provided is not supported"
    ("21606", True),   # "The 'To' number provided is not a mobile number"
    ("21217", True),   # "The To phone number provided does not appear to be valid"
])
@responses.activate
def test_signalwire_codes_follow_signalwires_list(code, permanent):
    # The errors-array form of specs/compatibility-api/_shared/errors.tsp (CompatibilityErrorArrayItem).
    body = {"errors": [{"code": code, "message": "m",
                        "more_info": "https://signalwire.com/docs/rest/compatibility-api/error-codes"}]}
    assert outcome(SIGNALWIRE, (400, body)) is permanent


@responses.activate
def test_signalwire_string_errors_are_transient():
    # errors.tsp CompatibilityErrorStringArrayResponse: {"errors": ["Validation error message"]}
    assert outcome(SIGNALWIRE, (422, {"errors": ["Validation error message"]})) is False


# https://developer.vonage.com/en/api-errors/sms: 3 "Invalid Parameters. The value of one or
# more parameters is invalid", with the parameter named in error-text.
@pytest.mark.parametrize("status,text,permanent", [
    ("3", "Invalid from param", False),
    ("3", "Invalid to address", True),
    ("2", "Missing to param", False),
    ("6", "Invalid Message", True),
    ("33", "Number De-activated", True),
    ("15", "Illegal Sender Address - rejected", False),
    ("29", "Non White-listed Destination - rejected", False),
])
@responses.activate
def test_vonage_status_3_is_permanent_only_when_it_names_the_destination(status, text, permanent):
    wire = WIRES[IDS.index("vonage")]
    body = {"message-count": "1", "messages": [{"status": status, "error-text": text}]}
    assert outcome(wire, (200, body)) is permanent


@pytest.mark.parametrize("status,body,permanent", [
    # https://www.plivo.com/docs/messaging/concepts/destination-number-validation
    (400, {"api_id": "df5d4304-66af-11eb-91d8-0242ac110004", "error": "19332631167 is not a valid phone number"}, True),
    (400, {"api_id": "fd0ad4ee-66ae-11eb-8d40-0242ac110004", "error": "19003356789 is not an MMS enabled phone number"}, False),
    # https://www.plivo.com/docs/messaging/api/overview: 401 authentication failed
    (401, {"api_id": "a1", "error": "authentication failed"}, False),
])
@responses.activate
def test_plivo_invalid_destination_is_permanent(status, body, permanent):
    assert outcome(WIRES[IDS.index("plivo")], (status, body)) is permanent


@pytest.mark.parametrize("status,text", [
    # Restcomm-Connect SmsMessagesEndpoint.validate(): our request missing a field
    (400, "To can not be null."),
    (400, "From can not be null."),
    # normalize(): IllegalArgumentException(NumberParseException) for From or To alike
    (400, "com.google.i18n.phonenumbers.NumberParseException: Error type: NOT_A_NUMBER. "
          "The string supplied did not seem to be a phone number."),
    # AbstractEndpoint.buildErrorResponseBody(msg, "SMS_LIMIT_EXCEEDED", JSON)
    (403, '{"message":"limit",\n"error":SMS_LIMIT_EXCEEDED}'),
])
@responses.activate
def test_restcomm_failures_are_all_transient(status, text):
    assert outcome(WIRES[IDS.index("restcomm")], (status, text)) is False


@pytest.mark.parametrize("status,body,permanent", [
    (403, {"code": "illegal_number_type", "text": "Illegal number type"}, True),
    # a 400 about our request mentioning MSISDN is not about the destination
    (400, {"code": "syntax_invalid_parameter_format", "text": "Invalid MSISDN in 'to'"}, False),
    (403, {"code": "forbidden", "text": "Service plan is not allowed to send to this country"}, False),
    (401, {"code": "unauthorized", "text": "Unauthorized"}, False),
])
@responses.activate
def test_sinch_illegal_number_type_is_permanent_and_msisdn_text_is_not(status, body, permanent):
    assert outcome(WIRES[IDS.index("sinch")], (status, body)) is permanent


# -- voice ---------------------------------------------------------------------------------


def twiml_of(call) -> str:
    return parse_qs(call.request.body if isinstance(call.request.body, str) else call.request.body.decode())["Twiml"][0]


@pytest.mark.parametrize("wire", [TWILIO, SIGNALWIRE], ids=["twilio", "signalwire"])
@pytest.mark.parametrize("language,voice,lang_attr", [
    ("ja-JP", "Polly.Mizuki", "ja-JP"), ("zh-CN", "Polly.Zhiyu", "cmn-CN"), ("ar-SA", "Polly.Zeina", "arb"),
    ("hi-IN", "Polly.Aditi", "hi-IN"), ("ru-RU", "Polly.Tatyana", "ru-RU"), ("en-US", "Polly.Joanna", "en-US"),
])
@responses.activate
def test_say_names_a_voice_that_speaks_the_locale(wire, language, voice, lang_attr):
    # <Say voice="Polly.X" language="..."> (twilio.com/docs/voice/twiml/say); Polly's voices and
    # language codes: docs.aws.amazon.com/polly/latest/dg/available-voices.html
    responses.add(responses.POST, wire.url.replace("Messages.json", "Calls.json"), json={"sid": "CA1"}, status=201)
    provider_for(wire).call(PHONE, VoiceMessage("コード: 0, 1, 2, 3, 4, 5. 0, 1, 2, 3, 4, 5.", language))
    twiml = twiml_of(responses.calls[0])
    assert f'<Say voice="{voice}" language="{lang_attr}">' in twiml


@responses.activate
def test_a_language_without_a_voice_is_said_in_english_words():
    responses.add(responses.POST, TWILIO.url.replace("Messages.json", "Calls.json"), json={"sid": "CA1"}, status=201)
    provider_for(TWILIO).call(PHONE, VoiceMessage("인증 코드: 0, 1, 9. 다시: 0, 1, 9.", "ko-KR"))
    twiml = twiml_of(responses.calls[0])
    assert 'language="en-US"' in twiml and twiml.count("zero, one, nine") == 2
    assert "인증" not in twiml


# -- configuration -------------------------------------------------------------------------

BASE = {"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32}


@pytest.mark.parametrize("env", [
    {"SMS_PROVIDER": "xoxzo"},
    {"SMS_PROVIDER": "twilio,xoxzo"},
    {"SMS_ROUTES": '{"*": "xoxzo"}'},
    {"SMS_ROUTES": '{"US": "twilio,xoxzo"}'},
])
def test_xoxzo_outside_a_japanese_route_is_refused_at_start(env):
    with pytest.raises(ConfigError, match=re.escape('SMS_ROUTES={"JP": "xoxzo"')):
        Config.from_env({**BASE, **env})


@pytest.mark.parametrize("env", [
    {"SMS_PROVIDER": "twilio", "SMS_ROUTES": '{"JP": "xoxzo,twilio"}'},
    {"SMS_PROVIDER": "xoxzo", "SMS_ROUTES": '{"JP": "xoxzo", "*": "twilio"}'},  # the default chain serves nobody
    {"SMS_PROVIDER": "xoxzo", "OTP_ALLOWED_COUNTRIES": "JP"},
])
def test_xoxzo_for_japan_only_is_accepted(env):
    Config.from_env({**BASE, **env})


@pytest.mark.parametrize("value", ["http://api.example.com", "ftp://x.example", "https://user:pw@x.example",
                                   "not a url", "https://"])
def test_base_urls_must_be_https_or_loopback(value):
    with pytest.raises(ConfigError, match="TWILIO_BASE_URL"):
        Config.from_env({**BASE, "SMS_PROVIDER": "twilio", "TWILIO_BASE_URL": value})


def test_a_loopback_base_url_is_accepted_for_local_fakes():
    config = Config.from_env({**BASE, "SMS_PROVIDER": "twilio", "TWILIO_BASE_URL": "http://127.0.0.1:9000/t"})
    assert config.provider_settings["twilio"]["base_url"] == "http://127.0.0.1:9000/t"


def test_a_bad_base_url_from_ssm_fails_the_send_naming_the_setting():
    context = ProviderContext("plivo", {"auth_id": "a", "auth_token": "t", "src": "1", "base_url": "http://x.example"},
                              None, requests.Session, None)
    with pytest.raises(ConfigError, match="PLIVO_BASE_URL"):
        load_provider(context).send_sms(PHONE, TEXT)
