"""Email through Amazon SES v2 end to end: moto implements sesv2 SendEmail (it refuses a From
on an unverified identity as SES does, and records what it sent), and the SES events come
back through the SNS handler as AWS documents them."""

from __future__ import annotations

import copy
import json
import re

import pytest

from chalicelib import wiring
from tests.unit.helpers import check, error_code, get, send_reference, start

FROM = "verify@example.com"
SES = {"OTP_EMAIL_PROVIDER": "ses", "SES_FROM": FROM, "SES_CONFIGURATION_SET": "verify-events"}

# The documented Bounce record (docs.aws.amazon.com/ses/latest/dg/
# event-publishing-retrieving-sns-examples.html, "Bounce record"), trimmed of its headers;
# the tags are those a configuration set adds, plus the message's own (ours: verify_ref).
BOUNCE = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "recipient@example.com", "action": "failed",
                               "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": {
        "timestamp": "2017-08-05T00:40:02.012Z",
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["ConfigSet"], "ses:source-ip": ["192.0.2.0"],
                 "ses:from-domain": ["example.com"], "ses:caller-identity": ["ses_user"]},
    },
}
# The documented Complaint record (same page, "Complaint record").
COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "mail": BOUNCE["mail"],
}


@pytest.fixture
def ses(configured):
    import boto3

    boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
    return configured(**SES)


def sent():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def code_in(message) -> str:
    return re.match(r"[0-9]{6} ", message.subject).group(0).strip()


def event_for(record: dict, verification_id: str, index: int = 0) -> dict:
    event = copy.deepcopy(record)
    reference = send_reference(verification_id, index)
    event["mail"]["tags"]["verify_ref"] = [reference]
    return event


def publish(event: dict) -> None:
    """Invoke the SNS handler as the topic's subscription does (chalice builds the Lambda event)."""
    from chalice import Chalice
    from chalice.test import Client

    from chalicelib.delivery.channel_routes import channel_event_routes

    app = Chalice("events")
    app.register_blueprint(channel_event_routes(wiring.get_service, "verify-email-events", None))
    with Client(app) as client:
        client.lambda_.invoke("email_events", client.events.generate_sns_event(message=json.dumps(event)))


def test_an_email_verification_is_sent_by_ses_and_approved(ses):
    status, body, _ = start(ses, to="Ana@Example.com", channel="email", locale="es")
    assert status == 201, body
    assert body["provider"] == "ses" and body["to"] == "Ana@example.com"
    message = sent()[-1]
    assert message.source == FROM
    assert message.destinations == {"ToAddresses": ["Ana@example.com"]}
    assert message.subject.endswith("es tu código de verificación de Verify")
    assert "<html lang=\"es\">" in message.body  # moto keeps the HTML part when there is one
    status, body, _ = check(ses, code_in(message), to="Ana@example.com")
    assert status == 200 and body["status"] == "approved"


def test_an_idn_domain_goes_to_ses_as_its_a_label(ses):
    assert start(ses, to="ana@Bücher.de", channel="email")[1]["to"] == "ana@bücher.de"
    assert sent()[-1].destinations == {"ToAddresses": ["ana@xn--bcher-kva.de"]}


def test_an_unverified_from_fails_over_to_the_next_email_provider(configured, outbox):
    # SES answers MessageRejected "Email address not verified" (moto as SES): this account's
    # configuration, so the next provider of the chain takes the code.
    client = configured(**{**SES, "OTP_EMAIL_PROVIDER": "ses,console"})
    status, body, _ = start(client, to="ana@example.com", channel="email")
    assert status == 201 and body["provider"] == "console"
    assert len(sent()) == 0 and outbox[0]["to"] == "ana@example.com"


def test_ses_alone_refusing_is_502_and_the_start_is_undone(configured, clock):
    client = configured(**SES)
    status, body, _ = start(client, to="ana@example.com", channel="email")
    assert status == 502 and error_code(body) == "delivery_failed"
    import boto3

    boto3.client("sesv2").create_email_identity(EmailIdentity=FROM)
    assert start(client, to="ana@example.com", channel="email")[0] == 201  # no resend interval left


def test_a_permanent_bounce_marks_the_send_and_refuses_the_next_resend(ses, clock):
    body = start(ses, to="ana@example.com", channel="email")[1]
    publish(event_for(BOUNCE, body["id"]))
    state = get(ses, f"/v1/verifications/{body['id']}")[1]
    assert state["send_attempts"][0]["status"] == "undelivered"
    assert state["send_attempts"][0]["error_code"] == "Permanent/General"
    clock.advance(31)
    status, answer, _ = start(ses, to="ana@example.com", channel="email")
    assert status == 422 and error_code(answer) == "undeliverable_number"
    assert len(sent()) == 1


def test_a_transient_bounce_lets_the_resend_go(ses, clock):
    body = start(ses, to="ana@example.com", channel="email")[1]
    event = event_for(BOUNCE, body["id"])
    event["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")
    publish(event)
    clock.advance(31)
    status, answer, _ = start(ses, to="ana@example.com", channel="email")
    assert status == 200 and answer["send_count"] == 2
    assert len(sent()) == 2


def test_a_complaint_refuses_the_next_resend(ses, clock):
    body = start(ses, to="ana@example.com", channel="email")[1]
    publish(event_for(COMPLAINT, body["id"]))
    state = get(ses, f"/v1/verifications/{body['id']}")[1]
    assert state["send_attempts"][0] == {**state["send_attempts"][0], "status": "undelivered",
                                         "error_code": "Complaint/abuse"}
    clock.advance(31)
    assert start(ses, to="ana@example.com", channel="email")[0] == 422


def test_events_with_no_or_a_forged_reference_change_nothing(ses):
    body = start(ses, to="ana@example.com", channel="email")[1]
    forged = event_for(BOUNCE, body["id"])
    reference = forged["mail"]["tags"]["verify_ref"][0]
    forged["mail"]["tags"]["verify_ref"] = [reference[:-1] + ("0" if reference[-1] != "0" else "1")]
    for event in (BOUNCE, forged, {"eventType": "Bounce"}, ["not", "an", "object"]):
        publish(event)  # type: ignore[arg-type]
    assert get(ses, f"/v1/verifications/{body['id']}")[1]["send_attempts"][0]["status"] == "accepted"


def test_a_delivery_then_a_late_bounce_keeps_the_first_final_status(ses):
    body = start(ses, to="ana@example.com", channel="email")[1]
    publish({**event_for(BOUNCE, body["id"]), "eventType": "Delivery"})
    publish(event_for(BOUNCE, body["id"]))
    assert get(ses, f"/v1/verifications/{body['id']}")[1]["send_attempts"][0]["status"] == "delivered"


def test_the_send_carries_its_reference_as_a_message_tag():
    """The request SES gets (botocore's Stubber checks it against the sesv2 service model)."""
    import boto3
    from botocore.stub import Stubber

    from chalicelib.channels.channel_messages import email_message
    from chalicelib.delivery.tracker import DeliveryReport
    from chalicelib.channels.email_address import parse_email
    from chalicelib.channels.providers import ProviderContext
    from chalicelib.channels.providers.ses import SesProvider

    client = boto3.client("sesv2", region_name="us-east-1")
    message = email_message("Acme", "012345", 600, "en")
    provider = SesProvider(ProviderContext("ses", {"from": FROM, "configuration_set": "cs"},
                                           aws=lambda service: client))
    with Stubber(client) as stub:
        stub.add_response("send_email", {"MessageId": "0100-example"}, {
            "FromEmailAddress": FROM,
            "Destination": {"ToAddresses": ["ana@xn--bcher-kva.de"]},
            "Content": {"Simple": {
                "Subject": {"Data": message.subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": message.text, "Charset": "UTF-8"},
                         "Html": {"Data": message.html, "Charset": "UTF-8"}},
            }},
            "ConfigurationSetName": "cs",
            "EmailTags": [{"Name": "verify_ref", "Value": "ab" * 33}],
        })
        assert provider.send_email(parse_email("ana@bücher.de"), message,
                                   report=DeliveryReport("", "ab" * 33)) == "0100-example"


@pytest.mark.parametrize("code", ["AccountSuspendedException", "SendingPausedException", "MessageRejected",
                                  "MailFromDomainNotVerifiedException", "TooManyRequestsException",
                                  "LimitExceededException", "NotFoundException", "BadRequestException"])
def test_every_documented_send_email_error_is_transient(code):
    # The errors SendEmail documents (docs.aws.amazon.com/ses/latest/APIReference-V2/
    # API_SendEmail.html#API_SendEmail_Errors): none names the destination.
    import boto3
    from botocore.stub import Stubber

    from chalicelib.channels.channel_messages import email_message
    from chalicelib.channels.email_address import parse_email
    from chalicelib.channels.providers import ProviderContext, ProviderError
    from chalicelib.channels.providers.ses import SesProvider

    client = boto3.client("sesv2", region_name="us-east-1")
    provider = SesProvider(ProviderContext("ses", {"from": FROM, "configuration_set": "cs"},
                                           aws=lambda service: client))
    with Stubber(client) as stub:
        stub.add_client_error("send_email", service_error_code=code, http_status_code=400)
        with pytest.raises(ProviderError) as raised:
            provider.send_email(parse_email("ana@example.com"), email_message("A", "012345", 600, "en"))
    assert raised.value.permanent is False and raised.value.detail == code


def test_the_events_topics_are_sns_topic_names():
    from chalicelib.errors import ConfigError
    from chalicelib.settings.channels import channel_event_topics

    assert channel_event_topics({}) == (None, None)
    topics = channel_event_topics({"OTP_EMAIL_EVENTS_TOPIC": "verify-email-events"})
    assert topics == ("verify-email-events", None)
    with pytest.raises(ConfigError, match="OTP_WHATSAPP_EVENTS_TOPIC"):
        channel_event_topics({"OTP_WHATSAPP_EVENTS_TOPIC": "arn:aws:sns:us-east-1:1:t"})
