"""Every provider adapter, on the wire: method, URL, auth, encoding, fields, success parsing,
permanent and transient failures, timeouts. HTTP with `responses`; SNS through moto; End User
Messaging through botocore's Stubber (moto lacks it)."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
import requests
import responses
from botocore.stub import Stubber

from chalicelib.channels.messages import SmsMessage, VoiceMessage, measure
from chalicelib.channels.phone import parse_phone_number
from chalicelib.channels.providers import REGISTRY, ProviderContext, ProviderError, load_provider
from chalicelib import wiring

PHONE = parse_phone_number("+14155552671", "US")
TEXT = measure("Your Verify verification code is 012345. It expires in 10 minutes.")
UNICODE = measure("Seu código Verify: 012345. Expira em 10 min.")
SPEECH = VoiceMessage("Your code is: 0, 1, 2, 3, 4, 5. Again, your code is: 0, 1, 2, 3, 4, 5.", "en-US")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Wire:
    name: str
    settings: dict[str, str]
    url: str
    auth: str  # the Authorization header
    encoding: str  # "form" or "json"
    fields: dict[str, Any]
    success: tuple[int, Any]
    message_id: str
    permanent: tuple[int, Any] | None  # None: the provider documents no destination error
    transient: tuple[int, Any]
    unicode_fields: dict[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


WIRES = [
    Wire(
        "twilio", {"account_sid": "AC123", "auth_token": "tw-secret", "from": "+15005550006"},
        "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json",
        basic("AC123", "tw-secret"), "form",
        {"To": "+14155552671", "From": "+15005550006", "Body": TEXT.text},
        (201, {"sid": "SM0123", "status": "queued"}), "SM0123",
        # https://www.twilio.com/docs/errors/21211; the body shape is twilio-python's
        # TwilioRestException input: {"code", "message", "more_info", "status"}.
        (400, {"code": 21211, "message": "The 'To' number +14155552671 is not a valid phone number.",
               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        (503, {"code": 20503, "message": "Service unavailable"}),
        secrets=("tw-secret",),
    ),
    Wire(
        "signalwire",
        {"space": "acme", "project_id": "p-1", "api_token": "sw-secret", "from": "+15005550006"},
        "https://acme.signalwire.com/api/laml/2010-04-01/Accounts/p-1/Messages.json",
        basic("p-1", "sw-secret"), "form",
        {"To": "+14155552671", "From": "+15005550006", "Body": TEXT.text},
        (201, {"sid": "1f2e-uuid"}), "1f2e-uuid",
        # SignalWire docs, Compatibility API "Error codes" (21217) and its TypeSpec
        # specs/compatibility-api/_shared/errors.tsp (the flat {"code", "message", "more_info", "status"}).
        (400, {"code": 21217, "message": "The To phone number provided does not appear to be valid",
               "more_info": "https://developer.signalwire.com/rest/compatibility-api/overview/error-codes",
               "status": 400}),
        # errors.tsp's example 401 body.
        (401, {"code": 20003, "message": "Authentication failed",
               "more_info": "https://signalwire.com/docs/compatibility-api/reference/errors", "status": 401}),
        secrets=("sw-secret",),
    ),
    Wire(
        "vonage", {"api_key": "vk", "api_secret": "vonage-secret", "from": "Acme"},
        "https://rest.nexmo.com/sms/json", "", "form",
        {"api_key": "vk", "api_secret": "vonage-secret", "from": "Acme", "to": "14155552671", "text": TEXT.text},
        (200, {"message-count": "1", "messages": [{"to": "14155552671", "message-id": "0A00", "status": "0"}]}),
        "0A00",
        # Vonage/vonage-python-sdk sms/tests/data/send_sms_error.json and send_sms_partial_error.json;
        # statuses from https://developer.vonage.com/en/api-errors/sms (7 Number Barred, 1 Throttled).
        (200, {"message-count": "1", "messages": [{"status": "7", "error-text": "Number barred."}]}),
        (200, {"message-count": "1", "messages": [{"status": "1", "error-text": "Throttled"}]}),
        unicode_fields={"type": "unicode"},
        secrets=("vonage-secret",),
    ),
    Wire(
        "gatewayapi", {"token": "gw-token", "sender": "Acme"},
        "https://gatewayapi.com/rest/mtsms", basic("gw-token", ""), "json",
        {"sender": "Acme", "message": TEXT.text, "recipients": [{"msisdn": 14155552671}]},
        (200, {"ids": [421332671], "usage": {"countries": {"US": 1}}}), "421332671",
        (403, {"code": "0x0217", "message": "Destination country not allowed"}),
        (401, {"code": "0x0210", "message": "Unauthorized"}),
        unicode_fields={"encoding": "UCS2"},
        secrets=("gw-token",),
    ),
    Wire(
        "xoxzo", {"sid": "xsid", "auth_token": "xo-secret", "sender": "Acme"},
        "https://api.xoxzo.com/sms/messages/", basic("xsid", "xo-secret"), "form",
        {"message": TEXT.text, "recipient": "+14155552671", "sender": "Acme"},
        (201, [{"msgid": "msg-77"}]), "msg-77",
        (400, {"recipient": ["Invalid phone number"]}),
        (500, {"detail": "error"}),
        secrets=("xo-secret",),
    ),
    Wire(
        "restcomm",
        {"base_url": "https://cloud.restcomm.example", "account_sid": "ACrc", "auth_token": "rc-secret",
         "from": "+15005550006"},
        "https://cloud.restcomm.example/restcomm/2012-04-24/Accounts/ACrc/SMS/Messages.json",
        basic("ACrc", "rc-secret"), "form",
        {"From": "+15005550006", "To": "+14155552671", "Body": TEXT.text},
        (200, {"sid": "SMrc1", "status": "sending"}), "SMrc1",
        None,  # Restcomm has no error about the destination (see chalicelib/channels/providers/restcomm.py)
        # Restcomm-Connect AbstractEndpoint.buildErrorResponseBody(msg, error, JSON), as sent by
        # SmsMessagesEndpoint when the SMS limit is hit: the error value is not quoted.
        (403, '{"message":"Outbound SMS limit exceeded",\n"error":SMS_LIMIT_EXCEEDED}'),
        unicode_fields={"Encoding": "UCS-2"},
        secrets=("rc-secret",),
    ),
    Wire(
        "plivo", {"auth_id": "MAplivo", "auth_token": "pl-secret", "src": "+15005550006"},
        "https://api.plivo.com/v1/Account/MAplivo/Message/", basic("MAplivo", "pl-secret"), "json",
        {"src": "+15005550006", "dst": "14155552671", "text": TEXT.text},
        (202, {"api_id": "a1", "message": "message(s) queued", "message_uuid": ["uuid-1"]}), "uuid-1",
        # https://www.plivo.com/docs/messaging/concepts/destination-number-validation
        (400, {"api_id": "df5d4304-66af-11eb-91d8-0242ac110004", "error": "14155552671 is not a valid phone number"}),
        (500, {"api_id": "a1", "error": "internal error"}),
        secrets=("pl-secret",),
    ),
    Wire(
        "messagebird", {"access_key": "mb-key", "originator": "Acme"},
        "https://rest.messagebird.com/messages", "AccessKey mb-key", "json",
        {"originator": "Acme", "recipients": [14155552671], "body": TEXT.text, "datacoding": "plain"},
        (201, {"id": "mb-id-1", "recipients": {"totalCount": 1}}), "mb-id-1",
        (422, {"errors": [{"code": 10, "description": "no (correct) recipients found", "parameter": "recipients"}]}),
        (401, {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)"}]}),
        unicode_fields={"datacoding": "unicode"},
        secrets=("mb-key",),
    ),
    Wire(
        "sinch", {"service_plan_id": "plan9", "api_token": "si-token", "from": "+15005550006", "region": "eu"},
        "https://eu.sms.api.sinch.com/xms/v1/plan9/batches", "Bearer si-token", "json",
        {"from": "+15005550006", "to": ["+14155552671"], "body": TEXT.text},
        (201, {"id": "01FC66621XXXXX119Z8PMV1QPQ", "to": ["+14155552671"]}), "01FC66621XXXXX119Z8PMV1QPQ",
        # https://developers.sinch.com/docs/sms/api-reference/status-codes/ (403 illegal_number_type);
        # the error body is {"code", "text"}, and only the code is read.
        (403, {"code": "illegal_number_type", "text": "Illegal number type"}),
        (429, {"code": "too_many_requests", "text": "slow down"}),
        secrets=("si-token",),
    ),
]
IDS = [w.name for w in WIRES]


def provider_for(wire: Wire):
    return load_provider(ProviderContext(wire.name, wire.settings, None, requests.Session, None))


def sent_fields(call) -> dict[str, Any]:
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode()
    if call.request.headers.get("Content-Type", "").startswith("application/json"):
        return json.loads(body)
    return {k: v[0] for k, v in parse_qs(body).items()}


def reply(wire: Wire, status_body: tuple[int, Any]) -> None:
    status, body = status_body
    if isinstance(body, str):
        responses.add(responses.POST, wire.url, body=body, status=status, content_type="text/plain")
    else:
        responses.add(responses.POST, wire.url, json=body, status=status)


def test_every_registered_provider_is_covered_here():
    # webhook and lambda: tests/unit/test_hook_providers.py; ses: tests/unit/test_email_ses.py
    # meta, end-user-messaging-social (and twilio on WhatsApp): tests/unit/test_whatsapp.py
    assert set(REGISTRY) == set(IDS) | {"console", "sns", "end-user-messaging", "webhook", "lambda", "ses",
                                        "meta", "end-user-messaging-social"}


@pytest.mark.parametrize("wire", WIRES, ids=IDS)
@responses.activate
def test_send_puts_the_documented_request_on_the_wire(wire):
    reply(wire, wire.success)
    assert provider_for(wire).send_sms(PHONE, TEXT) == wire.message_id
    (call,) = responses.calls
    assert call.request.method == "POST" and call.request.url == wire.url
    if wire.auth:
        assert call.request.headers["Authorization"] == wire.auth
    content_type = call.request.headers["Content-Type"]
    assert content_type.startswith("application/json" if wire.encoding == "json" else "application/x-www-form-urlencoded")
    assert sent_fields(call) == wire.fields
    assert call.request.req_kwargs["timeout"] == (3.05, 5)


@pytest.mark.parametrize("wire", [w for w in WIRES if w.unicode_fields], ids=lambda w: w.name)
@responses.activate
def test_unicode_messages_are_flagged_as_unicode(wire):
    reply(wire, wire.success)
    provider_for(wire).send_sms(PHONE, UNICODE)
    fields = sent_fields(responses.calls[0])
    for key, value in wire.unicode_fields.items():
        assert fields[key] == value


WITH_PERMANENT = [w for w in WIRES if w.permanent is not None]


@pytest.mark.parametrize("wire", WITH_PERMANENT, ids=lambda w: w.name)
@responses.activate
def test_number_failures_are_permanent(wire):
    reply(wire, wire.permanent)
    with pytest.raises(ProviderError) as info:
        provider_for(wire).send_sms(PHONE, TEXT)
    assert info.value.permanent is True
    assert all(secret not in str(info.value) for secret in wire.secrets)


@pytest.mark.parametrize("wire", WIRES, ids=IDS)
@responses.activate
def test_provider_failures_are_transient(wire):
    reply(wire, wire.transient)
    with pytest.raises(ProviderError) as info:
        provider_for(wire).send_sms(PHONE, TEXT)
    assert info.value.permanent is False
    assert all(secret not in str(info.value) for secret in wire.secrets)


@pytest.mark.parametrize("wire", WIRES, ids=IDS)
@responses.activate
def test_timeouts_are_transient(wire):
    responses.add(responses.POST, wire.url, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderError) as info:
        provider_for(wire).send_sms(PHONE, TEXT)
    assert info.value.permanent is False and info.value.detail == "timeout"


@pytest.mark.parametrize("wire", WITH_PERMANENT, ids=lambda w: w.name)
@responses.activate
def test_a_5xx_is_transient_whatever_the_body_says(wire):
    status, body = wire.permanent
    reply(wire, (500, body))
    with pytest.raises(ProviderError) as info:
        provider_for(wire).send_sms(PHONE, TEXT)
    assert info.value.permanent is False


@pytest.mark.parametrize("wire", WIRES, ids=IDS)
def test_missing_credentials_name_the_variable(wire):
    from chalicelib.config import ConfigError

    key = next(k for k in wire.settings if k not in ("from", "sender", "originator", "region", "src"))
    settings = {k: v for k, v in wire.settings.items() if k != key}
    provider = load_provider(ProviderContext(wire.name, settings, None, requests.Session, None))
    with pytest.raises(ConfigError, match=f"{REGISTRY[wire.name].env_prefix}_{key.upper()}"):
        provider.send_sms(PHONE, TEXT)


@responses.activate
def test_gatewayapi_oauth1_signs_the_request():
    wire = WIRES[IDS.index("gatewayapi")]
    reply(wire, wire.success)
    context = ProviderContext("gatewayapi", {"key": "ck", "secret": "cs"}, "Acme", requests.Session, None)
    load_provider(context).send_sms(PHONE, TEXT)
    header = responses.calls[0].request.headers["Authorization"]
    header = header.decode() if isinstance(header, bytes) else header
    assert header.startswith("OAuth ") and 'oauth_signature_method="HMAC-SHA1"' in header
    assert 'oauth_consumer_key="ck"' in header and "cs" not in header


@pytest.mark.parametrize("url", [
    "https://gatewayapi.com/rest/mtsms",
    "https://GatewayAPI.com:443/rest/mtsms?a=1&b=x%20y&a=0",
    "http://127.0.0.1:8080/rest/mtsms?userref=%7E%21%2A",
])
def test_our_oauth1_signature_is_oauthlibs(url):
    # The reference implementation (oauthlib, a test-only dependency here) signs the same
    # request with the same nonce and timestamp; the header must be the same, signature included.
    from requests_oauthlib import OAuth1 as Reference

    from chalicelib.channels.providers.oauth1 import OAuth1

    def signed(auth):
        request = requests.Request("POST", url, json={"message": "x"}, auth=auth).prepare()
        header = request.headers["Authorization"]
        return dict(part.split("=", 1) for part in (header.decode() if isinstance(header, bytes) else header)[6:].split(", "))

    ours = signed(OAuth1("ck", "c&s~ecret", clock=lambda: 1_800_000_000, nonce=lambda: "abc123"))
    reference = Reference("ck", client_secret="c&s~ecret", signature_type="AUTH_HEADER",
                          timestamp="1800000000", nonce="abc123", signature_method="HMAC-SHA1")
    theirs = signed(reference)
    assert ours == theirs


@responses.activate
def test_twilio_messaging_service_replaces_from():
    wire = WIRES[IDS.index("twilio")]
    reply(wire, wire.success)
    settings = {"account_sid": "AC123", "auth_token": "t", "messaging_service_sid": "MG9"}
    load_provider(ProviderContext("twilio", settings, None, requests.Session, None)).send_sms(PHONE, TEXT)
    fields = sent_fields(responses.calls[0])
    assert fields["MessagingServiceSid"] == "MG9" and "From" not in fields


# -- voice ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["twilio", "signalwire"])
@responses.activate
def test_twiml_voice_call_says_the_digits_twice(name):
    wire = WIRES[IDS.index(name)]
    calls_url = wire.url.replace("Messages.json", "Calls.json")
    responses.add(responses.POST, calls_url, json={"sid": "CA1"}, status=201)
    assert provider_for(wire).call(PHONE, SPEECH) == "CA1"
    fields = sent_fields(responses.calls[0])
    assert fields["To"] == "+14155552671" and fields["From"] == "+15005550006"
    twiml = fields["Twiml"]
    assert twiml.startswith("<Response><Pause") and twiml.count("0, 1, 2, 3, 4, 5") == 2
    assert 'language="en-US"' in twiml


@responses.activate
def test_xoxzo_voice_is_a_tts_playback():
    wire = WIRES[IDS.index("xoxzo")]
    url = "https://api.xoxzo.com/voice/simple/playbacks/"
    responses.add(responses.POST, url, json=[{"callid": "call-9"}], status=201)
    settings = {**wire.settings, "caller": "+815012345678"}
    provider = load_provider(ProviderContext("xoxzo", settings, None, requests.Session, None))
    assert provider.call(PHONE, SPEECH) == "call-9"
    fields = sent_fields(responses.calls[0])
    assert fields == {"caller": "+815012345678", "recipient": "+14155552671", "tts_lang": "en",
                      "tts_message": SPEECH.text}


def _eum(stubbed_client) -> Any:
    return load_provider(
        ProviderContext("end-user-messaging", {"voice_origination_identity": "+15005550006"}, "+15005550001",
                        None, lambda service: stubbed_client)
    )


def test_end_user_messaging_sends_a_transactional_text():
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "send_text_message", {"MessageId": "eum-1"},
            {"DestinationPhoneNumber": "+14155552671", "MessageBody": TEXT.text,
             "MessageType": "TRANSACTIONAL", "OriginationIdentity": "+15005550001"},
        )
        assert _eum(client).send_sms(PHONE, TEXT) == "eum-1"


def test_end_user_messaging_places_a_voice_call():
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "send_voice_message", {"MessageId": "eum-v"},
            {"DestinationPhoneNumber": "+14155552671", "OriginationIdentity": "+15005550006",
             "MessageBody": SPEECH.text, "MessageBodyTextType": "TEXT", "VoiceId": "JOANNA"},
        )
        assert _eum(client).call(PHONE, SPEECH) == "eum-v"


@pytest.mark.parametrize("language,voice_id", [("ja-JP", "MIZUKI"), ("zh-CN", "ZHIYU"), ("ar-SA", "ZEINA"),
                                               ("hi-IN", "ADITI"), ("ru-RU", "TATYANA"), ("es-ES", "CONCHITA")])
def test_end_user_messaging_picks_a_voice_that_speaks_the_locale(language, voice_id):
    # VoiceId defaults to MATTHEW (English) per botocore's pinpoint-sms-voice-v2 model; the
    # Stubber checks the value against the model's VoiceId enum.
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    speech = VoiceMessage("コードは 0, 1, 2", language)
    with Stubber(client) as stub:
        stub.add_response(
            "send_voice_message", {"MessageId": "eum-v"},
            {"DestinationPhoneNumber": "+14155552671", "OriginationIdentity": "+15005550006",
             "MessageBody": speech.text, "MessageBodyTextType": "TEXT", "VoiceId": voice_id},
        )
        _eum(client).call(PHONE, speech)


# (error code, modelled fields, permanent). Reasons and shapes from botocore's service model
# botocore/data/pinpoint-sms-voice-v2/2022-03-31/service-2.json: ConflictException {Message,
# Reason, ResourceType, ResourceId}, ValidationException {Message, Reason, Fields[{Name, Message}]};
# the Stubber refuses fields or enum values the model does not have.
EUM_ERRORS = [
    ("ConflictException", {"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opted-out-number",
                           "ResourceId": "+14155552671"}, True),
    ("ConflictException", {"Reason": "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
                           "ResourceType": "verified-destination-number", "ResourceId": "+14155552671"}, False),
    ("ConflictException", {"Reason": "DESTINATION_COUNTRY_BLOCKED_BY_PROTECT_CONFIGURATION"}, False),
    ("ValidationException", {}, False),  # no reason: transient
    ("ValidationException", {"Reason": "INVALID_PARAMETER",
                             "Fields": [{"Name": "DestinationPhoneNumber", "Message": "invalid"}]}, True),
    ("ValidationException", {"Reason": "INVALID_PARAMETER",
                             "Fields": [{"Name": "OriginationIdentity", "Message": "invalid"}]}, False),
    ("ValidationException", {"Reason": "SENDER_ID_NOT_REGISTERED"}, False),
    ("ValidationException", {"Reason": "DESTINATION_COUNTRY_BLOCKED"}, False),
    ("ThrottlingException", {}, False),
    ("InternalServerException", {}, False),
    ("ServiceQuotaExceededException", {"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"}, False),
    ("AccessDeniedException", {"Reason": "ACCOUNT_DISABLED"}, False),
]


@pytest.mark.parametrize("code,fields,permanent", EUM_ERRORS,
                         ids=[f"{c}-{f.get('Reason', 'none')}" for c, f, _ in EUM_ERRORS])
def test_end_user_messaging_failures_are_classified(code, fields, permanent):
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("send_text_message", service_error_code=code, http_status_code=400,
                              modeled_fields={"Message": "m", **fields})
        with pytest.raises(ProviderError) as info:
            _eum(client).send_sms(PHONE, TEXT)
    assert info.value.permanent is permanent


# -- SNS -----------------------------------------------------------------------------------


def _sns(client, sender: str | None = None):
    return load_provider(ProviderContext("sns", {}, sender, None, lambda service: client))


def test_sns_publishes_through_moto(aws):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    message_id = _sns(boto3.client("sns"), "Acme").send_sms(PHONE, TEXT)
    messages = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    assert messages[message_id] == ("+14155552671", TEXT.text)


def test_sns_sends_the_transactional_type_and_sender_id():
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "publish", {"MessageId": "m-1"},
            {"PhoneNumber": "+14155552671", "Message": "hi",
             "MessageAttributes": {
                 "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                 "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Acme"}}},
        )
        assert _sns(client, "Acme").send_sms(PHONE, SmsMessage("hi", "GSM-7", 1)) == "m-1"


# Publish's errors: https://docs.aws.amazon.com/sns/latest/api/API_Publish.html. The
# PhoneNumber message is SNS's own, as reported in aws/aws-sdk-js#1368 and boto/boto3#2195.
SNS_ERRORS = [
    ("InvalidParameter", "Invalid parameter: PhoneNumber Reason: +14155552671 is not valid to publish to", True),
    ("InvalidParameter", "Invalid parameter: MessageAttributes Reason: AWS.SNS.SMS.SenderID is invalid", False),
    ("ParameterValueInvalid", "Invalid parameter: AWS.MM.SMS.OriginationNumber", False),
    ("Throttling", "Rate exceeded", False),
    ("InternalError", "Internal error", False),
    ("AuthorizationError", "not authorized to perform: SNS:Publish", False),
    ("KMSThrottling", "", False),
]


@pytest.mark.parametrize("code,message,permanent", SNS_ERRORS)
def test_sns_failures_are_classified(code, message, permanent):
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, service_message=message, http_status_code=400)
        with pytest.raises(ProviderError) as info:
            _sns(client).send_sms(PHONE, TEXT)
    assert info.value.permanent is permanent and info.value.detail == code


def test_console_provider_writes_the_message_and_keeps_it(capsys):
    from chalicelib.channels.providers.console import OUTBOX

    message_id = load_provider(ProviderContext("console")).send_sms(PHONE, TEXT)
    assert TEXT.text in capsys.readouterr().err
    assert OUTBOX[0]["id"] == message_id and OUTBOX[0]["to"] == "+14155552671"


# -- secrets -------------------------------------------------------------------------------


def test_secret_comes_from_ssm_securestring(aws):
    from chalicelib.config import Config
    from chalicelib.settings.parameters import load_server_secrets

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="x" * 40, Type="SecureString")
    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns",
         "OTP_SECRET_PARAMETER": "/phone-verify/test/otp-secret", "OTP_ALLOWED_COUNTRIES": "US"}
    )
    assert load_server_secrets(config, lambda: ssm) == (b"x" * 40, b"x" * 40)  # no identity key: one key


def test_both_secrets_come_from_one_getparameters_call(aws):
    from chalicelib.config import Config
    from chalicelib.settings.parameters import load_server_secrets

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="x" * 40, Type="SecureString")
    ssm.put_parameter(Name="/phone-verify/test/otp-identity-key", Value="i" * 40, Type="SecureString")
    calls: list[str] = []
    ssm.meta.events.register("before-call.ssm", lambda model, **_: calls.append(model.name))
    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns", "OTP_ALLOWED_COUNTRIES": "US",
         "OTP_SECRET_PARAMETER": "/phone-verify/test/otp-secret",
         "OTP_IDENTITY_SECRET_PARAMETER": "/phone-verify/test/otp-identity-key"}
    )
    assert load_server_secrets(config, lambda: ssm) == (b"x" * 40, b"i" * 40)
    assert calls == ["GetParameters"]  # one round trip on a cold start, not two


@pytest.mark.parametrize("value, message", [(None, "could not be read: ParameterNotFound"), ("i" * 31, "too short")])
def test_a_missing_or_short_identity_secret_is_a_configuration_error_naming_it(aws, value, message, monkeypatch):
    import chalicelib.settings.parameters as parameters
    from chalicelib.config import Config, ConfigError
    from chalicelib.settings.parameters import load_server_secrets

    monkeypatch.setattr(parameters, "_last_good", {})  # a cold container: nothing to fall back on
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="x" * 40, Type="SecureString")
    if value is not None:
        ssm.put_parameter(Name="/phone-verify/test/otp-identity-key", Value=value, Type="SecureString")
    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns", "OTP_ALLOWED_COUNTRIES": "US",
         "OTP_SECRET_PARAMETER": "/phone-verify/test/otp-secret",
         "OTP_IDENTITY_SECRET_PARAMETER": "/phone-verify/test/otp-identity-key"}
    )
    with pytest.raises(ConfigError, match=f"OTP_IDENTITY_SECRET_PARAMETER '/phone-verify/test/otp-identity-key'.*{message}"):
        load_server_secrets(config, lambda: ssm)


def test_missing_ssm_secret_is_a_configuration_error_naming_the_variable(aws):
    from chalicelib.config import Config, ConfigError
    from chalicelib.settings.parameters import load_server_secrets

    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns",
         "OTP_SECRET_PARAMETER": "/nope", "OTP_ALLOWED_COUNTRIES": "US"}
    )
    with pytest.raises(ConfigError, match="OTP_SECRET_PARAMETER"):
        load_server_secrets(config, lambda: boto3.client("ssm"))


def test_provider_credentials_come_from_one_ssm_json_over_the_environment(aws):
    from chalicelib.config import Config
    from chalicelib.settings.parameters import load_provider_settings

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/pv/creds", Type="SecureString",
                      Value=json.dumps({"twilio": {"auth_token": "from-ssm"}, "unused": {"x": "y"}}))
    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "SMS_PROVIDER": "twilio",
         "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "from-env", "SMS_CREDENTIALS_PARAMETER": "/pv/creds"}
    )
    settings = load_provider_settings(config, lambda: ssm)
    assert settings == {"twilio": {"account_sid": "AC1", "auth_token": "from-ssm"}}


def test_bad_credentials_json_is_refused_without_echoing_it(aws):
    from chalicelib.config import Config, ConfigError
    from chalicelib.settings.parameters import load_provider_settings

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/pv/bad", Type="SecureString", Value="token=hunter2")
    config = Config.from_env({"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32,
                              "SMS_CREDENTIALS_PARAMETER": "/pv/bad"})
    with pytest.raises(ConfigError) as info:
        load_provider_settings(config, lambda: ssm)
    assert "hunter2" not in str(info.value)


def test_a_rotated_secret_takes_effect_after_the_parameters_max_age(aws, monkeypatch):
    from tests.conftest import reset_app

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="a" * 40, Type="SecureString")
    monkeypatch.delenv("OTP_SECRET")
    monkeypatch.setenv("OTP_SECRET_PARAMETER", "/phone-verify/test/otp-secret")
    monkeypatch.setenv("OTP_PARAMETERS_MAX_AGE_SECONDS", "300")
    reset_app()
    now = [1000.0]
    monkeypatch.setattr(wiring.time, "monotonic", lambda: now[0])
    first = wiring.get_service()
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="b" * 40, Type="SecureString", Overwrite=True)
    now[0] += 299
    assert wiring.get_service() is first  # cached: one SSM read per container and max age
    now[0] += 2
    rotated = wiring.get_service()
    assert rotated is not first
    assert rotated._hasher.number_key("+14155552671") != first._hasher.number_key("+14155552671")
    reset_app()


def test_a_rotated_code_key_takes_effect_and_the_identity_key_stays(aws, monkeypatch):
    from tests.conftest import reset_app

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="a" * 40, Type="SecureString")
    ssm.put_parameter(Name="/phone-verify/test/otp-identity-key", Value="i" * 40, Type="SecureString")
    monkeypatch.delenv("OTP_SECRET")
    monkeypatch.setenv("OTP_SECRET_PARAMETER", "/phone-verify/test/otp-secret")
    monkeypatch.setenv("OTP_IDENTITY_SECRET_PARAMETER", "/phone-verify/test/otp-identity-key")
    monkeypatch.setenv("OTP_PARAMETERS_MAX_AGE_SECONDS", "300")
    reset_app()
    now = [1000.0]
    monkeypatch.setattr(wiring.time, "monotonic", lambda: now[0])
    first = wiring.get_service()
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="b" * 40, Type="SecureString", Overwrite=True)
    now[0] += 301
    rotated = wiring.get_service()
    assert rotated is not first
    assert rotated._hasher.code_mac("k", "123456") != first._hasher.code_mac("k", "123456")  # codes voided
    assert rotated._hasher.number_key("+14155552671") == first._hasher.number_key("+14155552671")
    assert rotated._hasher.derived_sid("AC", "account") == first._hasher.derived_sid("AC", "account")
    reset_app()
