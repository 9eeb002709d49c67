"""The v2 Services' Webhooks delivered from the table's stream (moto's DynamoDB Streams,
through Lambda's mapping as tests/unit/stream_poller.py plays it) by the events consumer: the
factor and challenge events as Twilio's form and the verification events (the extension) as
JSON, each signed as Twilio signs, and accepted by twilio-python's own
``twilio.request_validator.RequestValidator`` with the account's auth token, while a tampered
body, another token or an API key's secret fails. Retried at least once with the same uuid,
to the webhooks that did not take it only; never from the request path."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode

import boto3
import pyotp
import pytest
from twilio.request_validator import RequestValidator

from chalicelib import wiring
from tests.conftest import TABLE, last_code
from tests.unit.stream_poller import StreamPoller
from tests.unit.test_twilio_v2 import basic, call, key, new_service  # noqa: F401  (key: a fixture)

TO = "+14155552671"
IDENTITY = "ff483d1ff591898a9942916050d2ca3f"


class Receiver:
    """Answers 503 while ``down``, else 200; keeps every POST (path with query, headers, body)."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.status = 200
        self.received: list[tuple[str, dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(503 if outer.down else outer.status)
                if outer.status == 302:
                    self.send_header("Location", "/elsewhere")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.url = self.base + "/twilio/verify?tenant=7"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        found = []
        for _, headers, body in self.received:
            if headers["content-type"] == "application/json":
                found.append(json.loads(body))
            else:
                found.append(dict(parse_qsl(body.decode())))
        return found

    def types(self) -> list[str]:
        return [e["type"] for e in self.events()]


@pytest.fixture
def webhooks(configured, key, step_clock):  # noqa: F811
    """(client, token, poller, a function making a Service with a webhook to a receiver)."""
    import app as app_module
    from scripts.keys.api_keys import auth_token

    client = configured(OTP_TWILIO_WEBHOOKS="true", OTP_RESEND_INTERVAL_SECONDS="0")
    token = auth_token("test", "create")["auth_token"]
    wiring._event_delivery.cache_clear()
    failed = boto3.client("sqs").create_queue(QueueName="phone-verify-test-events-failed")["QueueUrl"]
    poller = StreamPoller(TABLE, app_module.deliver_stream_records, failed, max_retries=3)

    def service_with(*receivers: Receiver, types: tuple[str, ...] = ("*", "verification.*")) -> str:
        sid = new_service(client, key)["sid"]
        for receiver in receivers:
            pairs = [("FriendlyName", "backend"), ("WebhookUrl", receiver.url)] + [
                ("EventTypes", t) for t in types
            ]
            response = client.http.request(
                "POST",
                f"/v2/Services/{sid}/Webhooks",
                headers=basic(key["api_key_sid"], key["api_key_secret"]),
                body=urlencode(pairs).encode(),
            )
            assert response.status_code == 201, response.body
        return sid

    yield client, token, poller, service_with
    wiring._event_delivery.cache_clear()


@pytest.fixture
def step_clock(clock):
    clock.now = (int(clock.now) // 30) * 30 + 15  # mid-step
    return clock


def valid(token: str, receiver: Receiver, index: int, body: bytes | None = None) -> bool:
    """RequestValidator on what the receiver got (``body``: another body in its place)."""
    path, headers, raw = receiver.received[index]
    raw = raw if body is None else body
    url = receiver.base + path
    if headers["content-type"] == "application/json":
        return bool(RequestValidator(token).validate(url, raw.decode(), headers["x-twilio-signature"]))
    return bool(
        RequestValidator(token).validate(url, dict(parse_qsl(raw.decode())), headers["x-twilio-signature"])
    )


def approve(client, key, sid: str, outbox) -> str:  # noqa: F811
    status, body, _ = call(
        client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": TO, "Channel": "sms"}
    )
    assert status == 201, body
    status, checked, _ = call(
        client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": TO, "Code": last_code(outbox, 6)}
    )
    assert checked["status"] == "approved", checked
    return str(body["sid"])


def test_verification_approved_is_signed_so_request_validator_accepts_it(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    receiver = Receiver()
    sid = service_with(receiver)
    assert receiver.received == []  # nothing from the request path
    ve = approve(client, key, sid, outbox)
    assert receiver.received == []
    poller.run(rounds=3)
    assert receiver.types() == ["verification.started", "verification.approved"]
    approved = receiver.events()[1]
    assert approved["service_sid"] == sid and approved["verification_sid"] == ve
    assert approved["account_sid"] == key["account_sid"] and approved["status"] == "approved"
    assert approved["to"] == "+1415*****71"  # masked unless OTP_EVENTS_INCLUDE_NUMBER
    path, headers, raw = receiver.received[1]
    assert (
        path.startswith("/twilio/verify?tenant=7&bodySHA256=")
        and headers["i-twilio-idempotency-token"] == approved["uuid"]
    )
    assert valid(token, receiver, 1) and valid(token, receiver, 0)
    assert not valid(token, receiver, 1, raw.replace(b'"approved"', b'"canceled"'))  # tampered
    for other in ("0" * 32, key["api_key_secret"]):  # another token, an API key's secret: never the signer
        signature = headers["x-twilio-signature"]
        assert not RequestValidator(other).validate(receiver.base + path, raw.decode(), signature)
    assert last_code(outbox, 6) not in raw.decode()


def test_factor_and_challenge_events_are_twilios_signed_form(webhooks, key, step_clock):  # noqa: F811
    client, token, poller, service_with = webhooks
    receiver = Receiver()
    sid = service_with(receiver, types=("*",))
    base = f"/v2/Services/{sid}/Entities/{IDENTITY}"
    status, made, _ = call(
        client, key, "POST", f"{base}/Factors", {"FactorType": "totp", "FriendlyName": "Alice's phone"}
    )
    assert status == 201, made
    totp = pyotp.TOTP(made["binding"]["secret"])
    assert (
        call(client, key, "POST", f"{base}/Factors/{made['sid']}", {"AuthPayload": totp.at(step_clock.now)})[
            1
        ]["status"]
        == "verified"
    )
    step_clock.advance(30)
    status, challenge, _ = call(
        client,
        key,
        "POST",
        f"{base}/Challenges",
        {"FactorSid": made["sid"], "AuthPayload": totp.at(step_clock.now)},
    )
    assert challenge["status"] == "approved"
    assert call(client, key, "DELETE", f"{base}/Factors/{made['sid']}")[0] == 204
    poller.run(rounds=5)
    assert receiver.types() == ["factor.created", "factor.verified", "challenge.approved", "factor.deleted"]
    events = receiver.events()
    for event in events:
        assert (event["service_sid"], event["entity_identity"], event["factor_sid"]) == (
            sid,
            IDENTITY,
            made["sid"],
        )
        assert event["factor_type"] == "totp" and event["factor_friendly_name"] == "Alice's phone"
        assert event["account_sid"] == key["account_sid"] and event["date_created"].endswith("Z")
    assert events[2]["challenge_sid"] == challenge["sid"] and json.loads(events[2]["challenge_details"])
    for index, (path, headers, raw) in enumerate(receiver.received):
        assert (
            headers["content-type"] == "application/x-www-form-urlencoded"
            and path == "/twilio/verify?tenant=7"
        )
        assert valid(token, receiver, index)
        assert not valid(token, receiver, index, raw.replace(b"totp", b"push"))  # tampered
        assert "secret" not in raw.decode() and made["binding"]["secret"] not in raw.decode()


def test_a_webhook_gets_only_what_it_asked_for_and_a_disabled_one_nothing(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    twilio_only, verification_only = Receiver(), Receiver()
    sid = service_with(twilio_only, types=("*",))
    response = client.http.request(
        "POST",
        f"/v2/Services/{sid}/Webhooks",
        headers=basic(key["api_key_sid"], key["api_key_secret"]),
        body=urlencode(
            [
                ("FriendlyName", "v"),
                ("WebhookUrl", verification_only.url),
                ("EventTypes", "verification.approved"),
            ]
        ).encode(),
    )
    assert response.status_code == 201
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert twilio_only.types() == [] and verification_only.types() == ["verification.approved"]
    yw = json.loads(response.body)["sid"]
    assert call(client, key, "POST", f"/v2/Services/{sid}/Webhooks/{yw}", {"Status": "disabled"})[0] == 200
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert verification_only.types() == ["verification.approved"]


def test_another_services_verifications_go_to_its_webhooks_only(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    mine, theirs = Receiver(), Receiver()
    service_with(mine)
    other = service_with(theirs)
    approve(client, key, other, outbox)
    poller.run(rounds=3)
    assert mine.received == [] and theirs.types() == ["verification.started", "verification.approved"]


def test_a_refusal_is_retried_with_one_uuid_the_other_not_repeated(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    down, up = Receiver(down=True), Receiver()
    sid = service_with(down, up, types=("verification.*",))
    approve(client, key, sid, outbox)
    poller.run(rounds=2)
    assert up.types() == ["verification.started"] and len(down.received) == 2
    assert down.events()[0]["uuid"] == down.events()[1]["uuid"] == up.events()[0]["uuid"]
    down.down = False
    poller.run(rounds=3)
    assert up.types() == ["verification.started", "verification.approved"]  # each once
    assert [e["type"] for e in down.events()][-2:] == ["verification.started", "verification.approved"]
    assert valid(token, down, len(down.received) - 1)


def test_a_webhook_always_down_ends_in_the_failed_records_queue(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    down = Receiver(down=True)
    sid = service_with(down, types=("verification.*",))
    approve(client, key, sid, outbox)
    poller.run(rounds=12)
    assert poller.discarded and {e["type"] for e in down.events()} == {
        "verification.started",
        "verification.approved",
    }


def test_a_rotated_token_signs_once_promoted(webhooks, key, outbox, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import auth_token
    from tests.unit.test_v2_credentials import expire_cache

    client, token, poller, service_with = webhooks
    receiver = Receiver()
    sid = service_with(receiver, types=("verification.approved",))
    second = auth_token("test", "rotate")["auth_token"]
    approve(client, key, sid, outbox)
    poller.run(rounds=2)
    assert valid(token, receiver, 0) and not valid(second, receiver, 0)  # the primary signs
    auth_token("test", "promote")
    expire_cache(monkeypatch, 31)
    approve(client, key, sid, outbox)
    poller.run(rounds=2)
    assert valid(second, receiver, 1) and not valid(token, receiver, 1)


def test_the_standard_webhooks_events_stay_beside_them_and_are_not_repeated(configured, key, outbox):  # noqa: F811
    import app as app_module
    from scripts.keys.api_keys import auth_token
    from tests.unit.test_events import SECRET

    standard, twilio = Receiver(), Receiver(down=True)
    client = configured(OTP_TWILIO_WEBHOOKS="true", OTP_EVENTS_URL=standard.url, OTP_EVENTS_SECRET=SECRET)
    auth_token("test", "create")
    wiring._event_delivery.cache_clear()
    sid = new_service(client, key)["sid"]
    response = client.http.request(
        "POST",
        f"/v2/Services/{sid}/Webhooks",
        headers=basic(key["api_key_sid"], key["api_key_secret"]),
        body=urlencode(
            [("FriendlyName", "v"), ("WebhookUrl", twilio.url), ("EventTypes", "verification.*")]
        ).encode(),
    )
    assert response.status_code == 201
    poller = StreamPoller(TABLE, app_module.deliver_stream_records, None, max_retries=5)
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert [h["webhook-id"] for _, h, _ in standard.received] == [standard.received[0][1]["webhook-id"]]
    assert standard.types() == ["verification.started"]  # taken once while the Twilio webhook refuses
    twilio.down = False
    poller.run(rounds=3)
    assert standard.types() == ["verification.started", "verification.approved"]
    assert twilio.types()[-2:] == ["verification.started", "verification.approved"]
    wiring._event_delivery.cache_clear()


def test_a_redirect_is_a_refusal_not_followed(webhooks, key, outbox):  # noqa: F811
    client, token, poller, service_with = webhooks
    receiver = Receiver()
    receiver.status = 302
    sid = service_with(receiver, types=("verification.approved",))
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert [p for p, _, _ in receiver.received] == [receiver.received[0][0]] * 3  # retried, never /elsewhere


def test_a_webhook_made_in_another_container_is_seen_within_the_service_cache(webhooks, key, outbox):  # noqa: F811
    from chalicelib.twilio_v2 import services

    client, token, poller, service_with = webhooks
    receiver = Receiver()
    sid = service_with(types=())  # a Service, no webhook yet
    catalog = wiring.get_twilio().catalog
    assert catalog.get(sid).webhooks == ()  # the consumer's cache holds it
    elsewhere = services.ServiceCatalog(catalog._store, catalog.default)  # another container's
    hook = {
        "sid": "YW" + "1" * 32,
        "friendly_name": "b",
        "event_types": ["verification.*"],
        "url": receiver.url,
        "status": "enabled",
        "version": "v2",
        "created_at": 0,
        "updated_at": 0,
    }
    elsewhere.change(sid, lambda s: services.replace(s, webhooks=(hook,)))
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert receiver.received == []  # within CACHE_SECONDS: not seen yet
    now = catalog._monotonic()
    catalog._monotonic = lambda: now + services.CACHE_SECONDS
    approve(client, key, sid, outbox)
    poller.run(rounds=3)
    assert receiver.types() == ["verification.started", "verification.approved"]


def test_a_revoked_token_signs_nothing_the_record_is_retried(webhooks, key, outbox, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import auth_token
    from tests.unit.test_v2_credentials import expire_cache

    client, token, poller, service_with = webhooks
    receiver = Receiver()
    sid = service_with(receiver, types=("verification.approved",))
    auth_token("test", "revoke")
    expire_cache(monkeypatch)
    approve(client, key, sid, outbox)
    poller.run(rounds=2)
    assert receiver.received == [] and poller.retries == 2
    fresh = auth_token("test", "create")["auth_token"]
    expire_cache(monkeypatch, 61)
    poller.run(rounds=2)
    assert receiver.types() == ["verification.approved"] and valid(fresh, receiver, 0)


def test_a_forgotten_numbers_records_reach_no_webhook(webhooks, key, outbox):  # noqa: F811
    """make forget's tombstones hold for the webhooks as for the events' URLs
    (docs/personal-data.md): a webhook that was down does not get the forgotten number later."""
    from tests.unit.test_personal_data import run

    client, token, poller, service_with = webhooks
    receiver = Receiver(down=True)
    sid = service_with(receiver, types=("verification.*",))
    approve(client, key, sid, outbox)
    poller.run(rounds=2)
    assert receiver.received  # refused, so still in the stream
    assert run("forget", "--stage", "test", "--to", TO)[0] == 0
    receiver.down = False
    before = len(receiver.received)
    poller.run(rounds=3)
    assert receiver.received[before:] == [] and poller.discarded == []
