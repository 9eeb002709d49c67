"""WhatsApp statuses onto send_attempts[].status: Meta's webhooks (the hub.challenge handshake,
X-Hub-Signature-256 on the raw body) and End User Messaging Social's SNS events, which carry
the same webhook entry; both through the same ranked, monotonic write as SMS receipts."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json

import pytest
import responses

from chalicelib import wiring
from tests.unit.helpers import error_code, get, send_reference, start
from tests.unit.test_twilio_v2 import call, new_service
from tests.unit.test_whatsapp import META, META_SUCCESS, META_URL

APP_SECRET = "meta-app-secret-0123456789"
ENV = {**META, "OTP_PUBLIC_URL": "https://verify.example.com", "META_APP_SECRET": APP_SECRET,
       "META_VERIFY_TOKEN": "verify-token-42", "OTP_CHANNEL_ORDER": '{"*": "whatsapp,sms"}',
       "SMS_PROVIDER": "console"}

# Meta, "Status messages webhook" payload example (developers.facebook.com/docs/whatsapp/
# cloud-api/webhooks/payload-examples), for an authentication template; our send's reference
# is set in biz_opaque_callback_data by `status_for`.
STATUS_WEBHOOK = {
    "object": "whatsapp_business_account",
    "entry": [{
        "id": "102290129340398",
        "changes": [{
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                "statuses": [{
                    "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMzODMA",
                    "status": "delivered",
                    "timestamp": "1750263773",
                    "recipient_id": "14155552671",
                    "conversation": {"id": "4a1cd6a0e1d0e2f1a36a2f4c7d3b1e9f",
                                     "origin": {"type": "authentication"}},
                    "pricing": {"billable": True, "pricing_model": "PMP", "category": "authentication",
                                "type": "regular"},
                }],
            },
            "field": "messages",
        }],
    }],
}
# A failed status's errors, as the same page shows them (131026: Message undeliverable).
UNDELIVERABLE = [{"code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
                  "error_data": {"details": "Message Undeliverable."}}]


def status_for(verification_id: str, status: str, errors: list | None = None, index: int = 0) -> dict:
    payload = copy.deepcopy(STATUS_WEBHOOK)
    entry = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    entry["status"] = status
    entry["biz_opaque_callback_data"] = send_reference(verification_id, index)
    if errors is not None:
        entry["errors"] = errors
        entry.pop("conversation")
        entry.pop("pricing")
    return payload


def deliver(client, payload: dict, secret: str = APP_SECRET, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload, separators=(",", ":")).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-hub-signature-256": signature}
    response = client.http.post("/v1/callbacks/meta", body=body, headers=headers)
    return response.status_code, json.loads(response.body)


@pytest.fixture
def meta(configured):
    responses.start()
    responses.add(responses.POST, META_URL, json=META_SUCCESS, status=200)
    yield configured(**ENV)
    responses.stop()
    responses.reset()


def attempts(client, verification_id: str) -> list[dict]:
    return get(client, f"/v1/verifications/{verification_id}")[1]["send_attempts"]


def test_the_verification_handshake_answers_the_challenge(meta):
    query = "hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-token-42"
    response = meta.http.get(f"/v1/callbacks/meta?{query}")
    assert response.status_code == 200 and response.body == b"1158201444"
    for bad in ("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=guess",
                "hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=verify-token-42",
                "hub.mode=subscribe&hub.verify_token=verify-token-42"):
        response = meta.http.get(f"/v1/callbacks/meta?{bad}")
        assert response.status_code == 403 and error_code(json.loads(response.body)) == "invalid_signature"


def test_a_signed_delivered_status_moves_the_send(meta):
    body = start(meta, channel="whatsapp")[1]
    assert deliver(meta, status_for(body["id"], "sent")) == (200, {"received": True, "changed": 1})
    assert deliver(meta, status_for(body["id"], "delivered"))[1]["changed"] == 1
    assert attempts(meta, body["id"])[0]["status"] == "delivered"
    assert deliver(meta, status_for(body["id"], "sent"))[1]["changed"] == 0  # never backwards


def test_read_outranks_delivered_and_a_late_delivered_does_not_lower_it(meta):
    body = start(meta, channel="whatsapp")[1]
    assert deliver(meta, status_for(body["id"], "delivered"))[1]["changed"] == 1
    assert deliver(meta, status_for(body["id"], "read"))[1]["changed"] == 1
    assert attempts(meta, body["id"])[0]["status"] == "read"
    for late in ("delivered", "sent", "failed"):  # out of order (or another device's): no change
        assert deliver(meta, status_for(body["id"], late))[1]["changed"] == 0
    assert attempts(meta, body["id"])[0]["status"] == "read"


def test_read_without_delivered_first_is_read(meta):
    # WhatsApp may report "read" alone (a read message was delivered): it is taken as is.
    body = start(meta, channel="whatsapp")[1]
    assert deliver(meta, status_for(body["id"], "read"))[1]["changed"] == 1
    assert attempts(meta, body["id"])[0]["status"] == "read"


@pytest.mark.parametrize("receipt, resend_channel", [("read", "whatsapp"), ("delivered", "sms")])
def test_an_auto_resend_moves_to_sms_unless_the_whatsapp_was_read(meta, outbox, clock, receipt,
                                                                  resend_channel):
    body = start(meta, channel="auto")[1]
    assert body["channel"] == "whatsapp"
    assert deliver(meta, status_for(body["id"], receipt))[1]["changed"] == 1
    clock.advance(31)
    status, answer, _ = start(meta, channel="auto")
    assert status == 200 and answer["id"] == body["id"] and answer["channel"] == resend_channel
    assert [a["channel"] for a in attempts(meta, body["id"])] == ["whatsapp", resend_channel]


@pytest.mark.parametrize("receipt, resend_channel", [("read", "whatsapp"), ("delivered", "sms")])
def test_a_v2_auto_resend_moves_to_sms_unless_the_whatsapp_was_read(meta, outbox, clock, receipt,
                                                                     resend_channel):
    from scripts.keys.api_keys import create

    key = create("test", "tests")  # as tests/unit/test_twilio_v2.py's fixture makes one
    sid = new_service(meta, key)["sid"]
    path = f"/v2/Services/{sid}/Verifications"
    status, body, _ = call(meta, key, "POST", path, {"To": "+14155552671", "Channel": "auto"})
    assert status == 201 and body["channel"] == "whatsapp"
    assert deliver(meta, status_for(body["sid"], receipt))[1]["changed"] == 1
    clock.advance(31)
    status, again, _ = call(meta, key, "POST", path, {"To": "+14155552671", "Channel": "auto"})
    assert status == 201 and again["sid"] == body["sid"] and again["channel"] == resend_channel
    assert [a["channel"] for a in again["send_code_attempts"]] == ["whatsapp", resend_channel]


def test_the_signature_is_checked_on_the_raw_body(meta):
    body = start(meta, channel="whatsapp")[1]
    payload = status_for(body["id"], "delivered")
    assert deliver(meta, payload, secret="another-secret")[0] == 403
    signed = json.dumps(payload).encode()  # signed as sent; the same JSON spaced otherwise is not it
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    response = meta.http.post("/v1/callbacks/meta", body=json.dumps(payload, indent=1).encode(),
                              headers={"content-type": "application/json", "x-hub-signature-256": signature})
    assert response.status_code == 403
    unsigned = meta.http.post("/v1/callbacks/meta", body=signed, headers={"content-type": "application/json"})
    assert unsigned.status_code == 403
    assert attempts(meta, body["id"])[0]["status"] == "accepted"


def test_not_a_whatsapp_user_refuses_whatsapp_and_auto_moves_to_sms(meta, outbox, clock):
    body = start(meta, channel="auto")[1]
    assert body["channel"] == "whatsapp" and body["provider"] == "meta"
    assert deliver(meta, status_for(body["id"], "failed", UNDELIVERABLE))[1]["changed"] == 1
    assert attempts(meta, body["id"])[0] | {"sent_at": None} == {
        "channel": "whatsapp", "provider": "meta", "sent_at": None, "status": "undelivered",
        "error_code": "131026"}
    clock.advance(31)
    status, answer, _ = start(meta, channel="whatsapp")
    assert status == 422 and error_code(answer) == "undeliverable_number"
    status, answer, _ = start(meta, channel="auto")
    assert status == 200 and answer["channel"] == "sms" and outbox[0]["channel"] == "sms"


def test_a_webhook_without_app_secret_is_refused(configured):
    client = configured(**{k: v for k, v in ENV.items() if k != "META_APP_SECRET"})
    status, body = deliver(client, STATUS_WEBHOOK)
    assert status == 403 and error_code(body) == "invalid_signature"


# -- End User Messaging Social ----------------------------------------------------------------


def social_event(entry: dict) -> dict:
    """An End User Messaging Social WhatsApp event as its SNS event destination publishes it
    ("WhatsApp events": docs.aws.amazon.com/social-messaging/latest/userguide/
    managing-event-destination-dlrs.html): the webhook entry as a JSON string."""
    return {
        "context": {
            "MetaWabaIds": [{"wabaId": "102290129340398",
                             "arn": "arn:aws:social-messaging:us-east-1:123456789012:"
                                    "waba/fb2594b8a7974770b128a409e2example"}],
            "MetaPhoneNumberIds": [{"metaPhoneNumberId": "106540352242922",
                                    "arn": "arn:aws:social-messaging:us-east-1:123456789012:"
                                           "phone-number-id/976c72a700aac43eaf573ae050example"}],
        },
        "whatsAppWebhookEntry": json.dumps(entry),
        "aws_account_id": "123456789012",
        "message_timestamp": "2025-01-08T23:30:43.271279391Z",
        "messageId": "6d69f07a-c317-4278-9d5c-6a84078419ec",
    }


def publish(event: dict) -> None:
    from chalice import Chalice
    from chalice.test import Client

    from chalicelib.delivery.channel_routes import channel_event_routes

    app = Chalice("events")
    app.register_blueprint(channel_event_routes(wiring.get_service, None, "verify-whatsapp-events"))
    with Client(app) as client:
        client.lambda_.invoke("whatsapp_events", client.events.generate_sns_event(message=json.dumps(event)))


def test_social_status_events_move_the_send(configured, outbox, clock):
    from tests.unit.test_whatsapp import SOCIAL, social_client

    client, stub = social_client(configured, {**SOCIAL, "OTP_PUBLIC_URL": "https://verify.example.com"})
    stub.add_response("send_whatsapp_message", {"messageId": "b0a1f4b8-6c3e-4f70-9a55-7f3f1d2e9c10"})
    with stub:
        body = start(client, channel="whatsapp")[1]
    entry = status_for(body["id"], "failed", UNDELIVERABLE)["entry"][0]
    publish(social_event(entry))
    assert attempts(client, body["id"])[0]["status"] == "undelivered"
    clock.advance(31)
    assert start(client, channel="whatsapp")[0] == 422


def test_a_social_read_event_is_read(configured, outbox, clock):
    from chalicelib.delivery.callbacks.meta import read_social_event

    client = configured(**ENV)
    body = start(client)[1]  # any verification: the reference is what counts
    entry = status_for(body["id"], "read")["entry"][0]
    assert [r.status for r in read_social_event(json.dumps(social_event(entry)))] == ["read"]


def test_social_events_that_are_not_ours_change_nothing(configured):
    from chalicelib.delivery.callbacks.meta import read_social_event

    assert read_social_event(json.dumps(social_event(STATUS_WEBHOOK["entry"][0]))) == []  # no reference
    assert read_social_event("not json") == []
    assert read_social_event(json.dumps({"whatsAppWebhookEntry": "{"})) == []
