"""Issue 29: a v2 start's ``Tags`` in the verification's events, as Twilio puts them in its
verification and message status events ("The tags will also be included as part of the
verification and message status event type payloads. The object may contain up to 10 tags.
Keys and values can each be up to 128 characters in length": CreateVerification's ``Tags``
in Twilio's OpenAPI document, tests/data/twilio-oai/twilio_verify_v2.json).

Tags are the app's own data: they go to the stage's event receivers (signed, Standard
Webhooks) and nowhere else: not in the logs, not on the page's inbox (/dev/events.json), not
in a receipt."""

from __future__ import annotations

import base64
import json
import logging

from chalicelib.events import standard_webhooks
from tests.conftest import TABLE, last_code
from tests.unit.helpers import NUMBER
from tests.unit.test_events import SECRET, Receiver, events  # noqa: F401 (events: a fixture)
from tests.unit.test_twilio_v2 import call, key, new_service  # noqa: F401 (key: a fixture)

TAGS = {"order": "ord-7731-secret-ish", "flow": "signup"}


def _start(client, key, sid: str, **form):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                {"To": NUMBER, "Channel": "sms", **form})


def test_the_verifications_events_carry_its_tags(events, key, outbox, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG, logger="verify")  # the service's own log lines (botocore's DEBUG
    receiver = Receiver()  # dumps whole requests, as it does every number: never on in a stage)
    client, poller = events(receiver)
    sid = new_service(client, key)["sid"]
    status, started, _ = _start(client, key, sid, Tags=json.dumps(TAGS))
    assert status == 201
    assert _start(client, key, sid)[0] == 201  # a resend: the first start's tags stay
    status, _, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                        {"To": NUMBER, "Code": last_code(outbox)})
    assert status == 200
    poller.run(rounds=3)
    assert receiver.types() == ["verification.started", "verification.resent", "verification.approved"]
    for headers, body in receiver.received:
        standard_webhooks.verify(SECRET, headers, body)  # signed with the tags in the body
        data = json.loads(body)["data"]
        assert data["id"] == started["sid"] and data["tags"] == TAGS
    assert TAGS["order"] not in caplog.text  # never logged, by the API or the consumer


def test_a_verification_without_tags_has_none_in_its_events(events, key, outbox):  # noqa: F811
    receiver = Receiver()
    client, poller = events(receiver)
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    poller.run(rounds=2)
    assert [json.loads(b)["data"].get("tags") for _, b in receiver.received] == [None]
    assert "tags" not in json.loads(receiver.received[0][1])["data"]


def test_a_delivery_update_carries_the_tags_as_twilios_message_status_event_does():
    from chalicelib.verify.models import SendAttempt, Verification
    from chalicelib.events.stream import event_body

    verification = Verification("VE" + "0" * 32, NUMBER, "sms", "mac", 1, 0, 1_800_000_000_000, 1, 0, 5,
                                sends=(SendAttempt("sms", "console", 1_800_000_000_000),),
                                metadata=json.dumps({"tags": TAGS, "amount": "9.99 EUR", "payee": "Acme"}))
    data = event_body("delivery.updated", verification, 1_800_000_000, False, 0)["data"]
    assert data["tags"] == TAGS and "amount" not in json.dumps(data)  # tags only, not PSD2's
    damaged = Verification("VE" + "0" * 32, NUMBER, "sms", "mac", 1, 0, 1_800_000_000_000, 1, 0, 5,
                           metadata="{not json")
    assert "tags" not in event_body("verification.started", damaged, 1_800_000_000, False)["data"]
    assert "tags" not in event_body("verification.started", verification, 1_800_000_000, False,
                                    include_tags=False)["data"]


def test_the_pages_inbox_and_the_receipt_never_show_the_tags(configured, key, outbox, monkeypatch):  # noqa: F811
    from chalicelib.events.posting import keep_locally
    from chalicelib.events import LOCAL_EVENTS
    from scripts.local.events import LocalStream

    monkeypatch.delenv("OTP_EVENTS_URL", raising=False)
    client = configured(OTP_STAGE="local")  # the local stage's inbox (console provider)
    LOCAL_EVENTS.clear()
    stream = LocalStream(TABLE, None, keep_locally)
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid, Tags=json.dumps(TAGS))[0] == 201
    status, checked, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                              {"To": NUMBER, "Code": last_code(outbox)})
    assert status == 200 and checked["status"] == "approved"
    stream.poll()
    shown = client.http.get("/dev/events.json").body.decode()
    assert [e["type"] for e in json.loads(shown)] == ["verification.approved", "verification.started"]
    assert TAGS["order"] not in shown and "tags" not in shown
    receipt = checked.get("receipt") or ""
    for part in receipt.split("."):
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) if part else b""
        assert TAGS["order"].encode() not in decoded
    assert TAGS["order"] not in json.dumps(checked)
