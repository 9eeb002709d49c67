"""WhatsApp through the API: Meta's Cloud API (`responses` with Meta's documented bodies), End
User Messaging Social (botocore's Stubber: moto has no socialmessaging) and Twilio's WhatsApp
sender (`responses` with Twilio's documented bodies). Each: the request on the wire, the code
checked, and each error class (permanent, account, transient) doing what it should."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import responses

from chalicelib import wiring
from chalicelib.channels.channel_messages import cloud_api_message
from chalicelib.channels.messages import MessageComposer
from tests.unit.helpers import NUMBER, check, error_code, send_reference, start

CODE = "000042"  # secrets.randbelow patched to 42
META_URL = "https://graph.facebook.com/v21.0/106540352242922/messages"
META = {"OTP_WHATSAPP_PROVIDER": "meta", "META_PHONE_NUMBER_ID": "106540352242922",
        "META_ACCESS_TOKEN": "EAAJB-test-token"}
# Meta, Cloud API "Send messages" (developers.facebook.com/docs/whatsapp/cloud-api/guides/
# send-message-templates), the documented response.
META_SUCCESS = {"messaging_product": "whatsapp",
                "contacts": [{"input": "+14155552671", "wa_id": "14155552671"}],
                "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMzODMA",
                              "message_status": "accepted"}]}


def meta_error(code: int, message: str, details: str | None = None, subcode: int | None = None) -> dict:
    """Meta's error response syntax ("WhatsApp error codes", developers.facebook.com/
    documentation/business-messaging/whatsapp/support/error-codes)."""
    error: dict = {"message": message, "type": "OAuthException", "code": code,
                   "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# (HTTP status, body, class) from Meta's error-code table.
UNDELIVERABLE = (400, meta_error(131026, "(#131026) Message Undeliverable", "Message Undeliverable."))
TOKEN_EXPIRED = (401, meta_error(190, "Error validating access token: Session has expired on Friday, "
                                       "05-Jun-26 10:00:00 PDT.", subcode=463))
NOT_ALLOWED = (400, meta_error(131030, "(#131030) Recipient phone number not in allowed list",
                               "Recipient phone number not in allowed list: Add recipient phone number to "
                               "recipient list and try again.", subcode=2494010))
TEMPLATE_MISSING = (404, meta_error(132001, "(#132001) Template name does not exist in the translation",
                                    "template name (verification_code) does not exist in en"))
RATE_LIMIT = (429, meta_error(130429, "(#130429) Rate limit hit",
                              "Cloud API message throughput has been reached."))
UNKNOWN = (500, meta_error(131000, "(#131000) Something went wrong", "Something went wrong"))


@pytest.fixture
def fixed_code(monkeypatch):
    monkeypatch.setattr("chalicelib.codes.secrets.randbelow", lambda n: 42)


def expected_message(verification_id: str, locale: str = "en") -> dict:
    """What the send carries: the template, and the send's reference as biz_opaque_callback_data."""
    reference = send_reference(verification_id, 0)
    return cloud_api_message(NUMBER, MessageComposer("Verify", 600).whatsapp(CODE, locale), reference)


@responses.activate
def test_meta_sends_the_authentication_template_and_the_code_checks(configured, fixed_code):
    client = configured(**META)
    responses.add(responses.POST, META_URL, json=META_SUCCESS, status=200)
    status, body, _ = start(client, channel="whatsapp", locale="pt-BR")
    assert status == 201 and body["provider"] == "meta" and body["channel"] == "whatsapp"
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer EAAJB-test-token"
    assert json.loads(request.body) == expected_message(body["id"], "pt")
    assert json.loads(request.body)["template"]["language"] == {"code": "pt_BR"}
    assert check(client, CODE)[1]["status"] == "approved"


@responses.activate
def test_meta_not_a_whatsapp_user_is_permanent_no_failover(configured, outbox, fixed_code):
    client = configured(**{**META, "OTP_WHATSAPP_PROVIDER": "meta,console"})
    responses.add(responses.POST, META_URL, json=UNDELIVERABLE[1], status=UNDELIVERABLE[0])
    status, body, _ = start(client, channel="whatsapp")
    assert status == 422 and error_code(body) == "undeliverable_number"
    assert len(outbox) == 0


@pytest.mark.parametrize("failure", [TOKEN_EXPIRED, NOT_ALLOWED, TEMPLATE_MISSING, RATE_LIMIT, UNKNOWN],
                         ids=["token-expired", "not-allowed", "template-missing", "rate-limit", "5xx"])
@responses.activate
def test_meta_account_and_transient_errors_fail_over(configured, outbox, fixed_code, failure):
    client = configured(**{**META, "OTP_WHATSAPP_PROVIDER": "meta,console"})
    responses.add(responses.POST, META_URL, json=failure[1], status=failure[0])
    status, body, _ = start(client, channel="whatsapp")
    assert status == 201 and body["provider"] == "console"
    assert outbox[0]["channel"] == "whatsapp"


@pytest.mark.parametrize("code, kind", [(131026, "permanent"), (190, "account"), (131030, "account"),
                                        (132001, "account"), (132016, "account"), (250, "account"),
                                        (130429, "transient"), (131056, "transient"), (100, "transient"),
                                        (None, "transient")])
def test_meta_error_classes(code, kind):
    from chalicelib.channels.providers.whatsapp import meta_error_class

    assert meta_error_class(code) == kind


# -- End User Messaging Social ----------------------------------------------------------------

SOCIAL = {"OTP_WHATSAPP_PROVIDER": "end-user-messaging-social",
          "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID": "phone-number-id-0123456789abcdef0123456789abcdef"}


def social_client(configured, env=SOCIAL):
    """The app with its socialmessaging client stubbed (the provider is built with it)."""
    import boto3
    from botocore.stub import Stubber

    client = configured(**env)
    aws = boto3.client("socialmessaging", region_name="us-east-1")
    from chalicelib.channels.providers import ProviderContext
    from chalicelib.channels.providers.whatsapp import SocialMessagingProvider

    name = "end-user-messaging-social"
    settings = wiring.get_config().provider_settings[name]
    provider = SocialMessagingProvider(ProviderContext(name, settings, aws=lambda service: aws))
    wiring.get_service()._providers.replace(name, provider)
    return client, Stubber(aws)


def test_social_sends_the_message_object_as_bytes_and_the_code_checks(configured, fixed_code):
    from botocore.stub import ANY

    client, stub = social_client(configured)
    sent: list[dict] = []
    stub.client.meta.events.register("provide-client-params.socialmessaging.SendWhatsAppMessage",
                                     lambda params, **kwargs: sent.append(params))
    expected = {
        "originationPhoneNumberId": SOCIAL["EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID"],
        "message": ANY,  # checked below: it holds the verification's reference
        "metaApiVersion": "v21.0",
    }
    # The output shape: botocore's socialmessaging model, SendWhatsAppMessageOutput {messageId}.
    answer = {"messageId": "b0a1f4b8-6c3e-4f70-9a55-7f3f1d2e9c10"}
    stub.add_response("send_whatsapp_message", answer, expected)
    with stub:
        status, body, _ = start(client, channel="whatsapp")
        stub.assert_no_pending_responses()
    assert status == 201 and body["provider"] == "end-user-messaging-social"
    assert sent[0]["message"] == json.dumps(expected_message(body["id"])).encode()
    assert check(client, CODE)[1]["status"] == "approved"


@pytest.mark.parametrize("error, http", [
    ("ValidationException", 400), ("AccessDeniedException", 403), ("InvalidParametersException", 400),
    ("ResourceNotFoundException", 404), ("ThrottledRequestException", 429),
    ("InternalServiceException", 500), ("DependencyException", 502),
])
def test_social_modelled_errors_fail_over(configured, outbox, fixed_code, error, http):
    env = {**SOCIAL, "OTP_WHATSAPP_PROVIDER": "end-user-messaging-social,console"}
    client, stub = social_client(configured, env)
    stub.add_client_error("send_whatsapp_message", service_error_code=error, http_status_code=http)
    with stub:
        status, body, _ = start(client, channel="whatsapp")
    assert status == 201 and body["provider"] == "console"


# -- Twilio's WhatsApp sender ----------------------------------------------------------------

TWILIO = {"OTP_WHATSAPP_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "tw-secret",
          "TWILIO_WHATSAPP_FROM": "+14155238886",
          "TWILIO_WHATSAPP_CONTENT_SID": '{"en": "HXen0123", "pt": "HXpt0123"}'}
TWILIO_URL = "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json"


@responses.activate
def test_twilio_sends_the_content_template_to_whatsapp_numbers(configured, fixed_code):
    client = configured(**TWILIO)
    # The Message resource's create answer (twilio.com/docs/messaging/api/message-resource).
    responses.add(responses.POST, TWILIO_URL, json={"sid": "SM0123", "status": "queued"}, status=201)
    status, body, _ = start(client, channel="whatsapp", locale="pt")
    assert status == 201 and body["provider"] == "twilio"
    fields = {k: v[0] for k, v in parse_qs(responses.calls[0].request.body).items()}
    assert fields == {"To": f"whatsapp:{NUMBER}", "From": "whatsapp:+14155238886", "ContentSid": "HXpt0123",
                      "ContentVariables": json.dumps({"1": CODE})}
    assert check(client, CODE)[1]["status"] == "approved"


@responses.activate
def test_twilio_invalid_to_is_permanent_on_whatsapp_too(configured, outbox, fixed_code):
    client = configured(**{**TWILIO, "OTP_WHATSAPP_PROVIDER": "twilio,console"})
    # twilio.com/docs/errors/21211, in twilio-python's TwilioRestException shape.
    responses.add(responses.POST, TWILIO_URL, status=400, json={
        "code": 21211, "message": "The 'To' number whatsapp:+14155552671 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    status, body, _ = start(client, channel="whatsapp")
    assert status == 422 and error_code(body) == "undeliverable_number" and len(outbox) == 0


@responses.activate
def test_twilio_whatsapp_sender_errors_fail_over(configured, outbox, fixed_code):
    client = configured(**{**TWILIO, "OTP_WHATSAPP_PROVIDER": "twilio,console"})
    # twilio.com/docs/errors/63007: "Twilio could not find a Channel with the specified From address".
    responses.add(responses.POST, TWILIO_URL, status=400, json={
        "code": 63007, "message": "Twilio could not find a Channel with the specified From address",
        "more_info": "https://www.twilio.com/docs/errors/63007", "status": 400})
    assert start(client, channel="whatsapp")[1]["provider"] == "console"


def test_sms_only_providers_are_refused_in_the_whatsapp_chain():
    from chalicelib.config import Config
    from chalicelib.errors import ConfigError

    with pytest.raises(ConfigError, match="OTP_WHATSAPP_PROVIDER"):
        Config.from_env({"OTP_TABLE_NAME": "t-test", "OTP_SECRET": "s" * 32, "OTP_STAGE": "test",
                         "OTP_WHATSAPP_PROVIDER": "vonage"})
    with pytest.raises(ConfigError, match="SMS_PROVIDER"):
        Config.from_env({"OTP_TABLE_NAME": "t-test", "OTP_SECRET": "s" * 32, "OTP_STAGE": "test",
                         "SMS_PROVIDER": "meta"})
