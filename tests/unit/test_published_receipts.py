"""End User Messaging delivery events over SNS (``app.delivery_status``): the documented bodies
read into receipts, written with the same ranked, monotonic write as the HTTP callbacks, so
they move ``send_attempts[].status`` and never back.

Bodies: the SMS event of docs.aws.amazon.com/sms-voice/latest/userguide/configuration-sets-event-format.html
(its example, with our ``context``), event types from .../configuration-sets-event-types.html; the
Lambda SNS event around it from docs.aws.amazon.com/lambda/latest/dg/with-sns.html.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from botocore.stub import ANY, Stubber

from chalicelib import wiring
from chalicelib.delivery.callbacks import Receipt
from chalicelib.delivery.callbacks.end_user_messaging import read_event
from tests.conftest import ROOT
from tests.unit.helpers import NUMBER, get, send_reference, start


def documented_event(event_type: str, status: str, context: dict | None) -> str:
    """The documentation's SMS event example, with another type and status."""
    event = {
        "eventType": event_type, "eventVersion": "1.0", "eventTimestamp": 1686975103470, "isFinal": True,
        "originationPhoneNumber": "+12065550152", "destinationPhoneNumber": "+14255550156",
        "isInternationalSend": False, "mcc": "310", "mnc": "800",
        "messageId": "862a8790-60c0-4430-9b2b-658bdexample", "messageRequestTimestamp": 1686975103170,
        "messageEncoding": "GSM", "messageType": "TRANSACTIONAL", "messageStatus": status,
        "messageStatusDescription": "Message has been accepted by phone carrier",
        "totalMessageParts": 1, "totalMessagePrice": 0.09582, "totalCarrierFee": 0.0,
    }
    if context is not None:
        event["context"] = context
    return json.dumps(event)


def sns_event(message: str) -> dict:
    """Lambda's SNS event (with-sns.html example), carrying ``message``."""
    return {"Records": [{
        "EventVersion": "1.0", "EventSource": "aws:sns",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:eum-delivery:0b6941c3-f04d-4d3e-a66d-b1df00e1e381",
        "Sns": {"Type": "Notification", "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:eum-delivery", "Subject": None,
                "Message": message, "Timestamp": "2019-01-02T12:45:07.000Z", "SignatureVersion": "1",
                "Signature": "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
                "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
                "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe", "MessageAttributes": {}},
    }]}


REF = "ab" * 33


@pytest.mark.parametrize("event_type,status,receipt", [
    ("TEXT_SUCCESSFUL", "SUCCESSFUL", Receipt(REF, "sent")),
    ("TEXT_DELIVERED", "DELIVERED", Receipt(REF, "delivered")),
    ("TEXT_INVALID", "INVALID", Receipt(REF, "undelivered", "INVALID", True)),
    ("TEXT_UNREACHABLE", "UNREACHABLE", Receipt(REF, "undelivered", "UNREACHABLE", False)),
    ("TEXT_CARRIER_BLOCKED", "CARRIER_BLOCKED", Receipt(REF, "undelivered", "CARRIER_BLOCKED", False)),
])
def test_documented_sms_events_become_receipts(event_type, status, receipt):
    assert read_event(documented_event(event_type, status, {"ref": REF})) == [receipt]


@pytest.mark.parametrize("message", [
    documented_event("TEXT_PENDING", "PENDING", {"ref": REF}),  # nothing a send's "accepted" does not say
    documented_event("TEXT_QUEUED", "QUEUED", {"ref": REF}),
    documented_event("VOICE_COMPLETED", "COMPLETED", {"ref": REF}),
    documented_event("TEXT_DELIVERED", "DELIVERED", {"account": "bar"}),  # a send of someone else's
    documented_event("TEXT_DELIVERED", "DELIVERED", None),
    "not json", "[]", json.dumps({"eventType": 1, "context": {"ref": REF}}),
])
def test_anything_else_is_no_receipt(message):
    assert read_event(message) == []


@pytest.fixture
def eum(configured):
    """A stage that sends through End User Messaging with a configuration set; the app's own
    pinpoint-sms-voice-v2 client stubbed (botocore's model, MessageId in the answer)."""
    import app as app_module

    client = configured(SMS_PROVIDER="end-user-messaging", EUM_CONFIGURATION_SET="verify-events",
                        SMS_SENDER="+12065550152")
    service = wiring.get_service()
    sms = service._providers._context("end-user-messaging", {}).aws("pinpoint-sms-voice-v2")
    with Stubber(sms) as stub:
        yield client, stub


def test_published_events_move_the_sends_status_and_never_back(eum):
    import app as app_module

    client, stub = eum
    sent = {}

    def capture(params, **_):
        sent.update(params)

    stub.add_response("send_text_message", {"MessageId": "862a8790-60c0-4430-9b2b-658bdexample"},
                      {"DestinationPhoneNumber": NUMBER, "MessageBody": ANY, "MessageType": "TRANSACTIONAL",
                       "OriginationIdentity": "+12065550152", "ConfigurationSetName": "verify-events",
                       "Context": ANY})
    service = wiring.get_service()
    sms = service._providers._context("end-user-messaging", {}).aws("pinpoint-sms-voice-v2")
    sms.meta.events.register("provide-client-params.pinpoint-sms-voice-v2.SendTextMessage", capture)
    status, started, _ = start(client)
    assert status == 201
    ref = sent["Context"]["ref"]
    assert NUMBER not in ref and len(ref) == 66  # the send reference: no number, no code

    def status_of() -> dict:
        return get(client, f"/v1/verifications/{started['id']}")[1]["send_attempts"][0]

    assert status_of()["status"] == "accepted"
    assert app_module.delivery_published(documented_event("TEXT_DELIVERED", "DELIVERED", {"ref": ref})) == 1
    assert status_of()["status"] == "delivered"
    # Late and out of order (carriers report for up to 72 hours): no change, no second write.
    assert app_module.delivery_published(documented_event("TEXT_SUCCESSFUL", "SUCCESSFUL", {"ref": ref})) == 0
    assert app_module.delivery_published(documented_event("TEXT_DELIVERED", "DELIVERED", {"ref": ref})) == 0
    assert status_of()["status"] == "delivered"
    # A reference this server did not make (or altered) changes nothing.
    assert app_module.delivery_published(documented_event("TEXT_INVALID", "INVALID", {"ref": "cd" * 33})) == 0


def test_an_undelivered_event_names_its_reason(eum):
    import app as app_module

    client, stub = eum
    stub.add_response("send_text_message", {"MessageId": "m-1"})
    _, started, _ = start(client)
    ref = send_reference(started["id"], 0)
    assert app_module.delivery_published(documented_event("TEXT_INVALID", "INVALID", {"ref": ref})) == 1
    attempt = get(client, f"/v1/verifications/{started['id']}")[1]["send_attempts"][0]
    assert attempt["status"] == "undelivered" and attempt["error_code"] == "INVALID"


def test_the_handler_is_subscribed_to_that_topic_only_when_it_is_named():
    probe = ("import app, json; print(json.dumps([[s.name, getattr(s, 'topic', None)]"
             " for s in app.app.event_sources]))")
    on = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                        env={"PATH": "/usr/bin:/bin", "OTP_DELIVERY_EVENTS_TOPIC": "eum-delivery"})
    assert json.loads(on.stdout) == [["delivery_status", "eum-delivery"]]
    off = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"})
    assert json.loads(off.stdout) == []


def test_the_chalice_handler_hands_the_sns_events_message_on():
    """What Lambda invokes the function with (an SNS event) reaches delivery_published as the
    published message: the deployed handler, called as Lambda calls it."""
    message = documented_event("TEXT_DELIVERED", "DELIVERED", {"ref": REF})
    probe = ("import app, json, sys; seen = []; app.delivery_published = seen.append;"
             " app.delivery_status(json.loads(sys.stdin.read()), None); print(json.dumps(seen))")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                         input=json.dumps(sns_event(message)),
                         env={"PATH": "/usr/bin:/bin", "OTP_DELIVERY_EVENTS_TOPIC": "eum-delivery"})
    assert json.loads(run.stdout) == [message]
