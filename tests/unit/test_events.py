"""Events to the deployment's backend from the table's own stream (moto's DynamoDB Streams):
every event type from real item changes, delivery through Lambda's mapping as documented
(tests/unit/stream_poller.py), retries with one webhook-id, several URLs each taking each event
once, and a poisoned record that ends in the failed-records queue without blocking the others.
The receivers are HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from chalicelib import wiring
from chalicelib.events import standard_webhooks
from tests.conftest import TABLE, last_code
from tests.unit.helpers import NUMBER, check, delete, start
from tests.unit.stream_poller import StreamPoller

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"


class Receiver:
    """Answers 503 while ``down``, else 204; keeps every POST it got (headers, body)."""

    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(503 if outer.down else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def taken(self) -> list[tuple[str, dict]]:
        """(webhook-id, body) of the POSTs answered 2xx: a receiver keeps one per id."""
        return [(h["webhook-id"], json.loads(b)) for h, b in self.received]

    def types(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.received]


@pytest.fixture
def events(configured):
    import app as app_module

    def make(*receivers: Receiver, max_retries: int = 3, **env: str):
        urls = [r.url for r in receivers]
        client = configured(OTP_EVENTS_URL=urls[0] if len(urls) == 1 else json.dumps(urls),
                            OTP_EVENTS_SECRET=SECRET, **env)
        wiring._event_delivery.cache_clear()
        failed = boto3.client("sqs").create_queue(QueueName="phone-verify-test-events-failed")["QueueUrl"]
        return client, StreamPoller(TABLE, app_module.deliver_stream_records, failed, max_retries=max_retries)

    yield make
    wiring._event_delivery.cache_clear()


def number_pk() -> str:
    import app as app_module

    service = wiring.get_service()
    return "v#" + service._hasher.number_key(NUMBER)


def test_the_table_streams_new_and_old_images(aws):
    table = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_started_resent_approved_from_the_items_changes_once_each(events, outbox, clock):
    receiver = Receiver()
    client, poller = events(receiver)
    _, started, _ = start(client)
    clock.advance(31)
    start(client)
    code = last_code(outbox)
    assert check(client, code)[0] == 200
    assert check(client, code)[0] == 404  # a second check changes nothing: no second event
    poller.run(rounds=3)
    assert receiver.types() == ["verification.started", "verification.resent", "verification.approved"]
    bodies = [body for _, body in receiver.taken()]
    assert {b["data"]["id"] for b in bodies} == {started["id"]}
    assert [b["data"]["send_count"] for b in bodies] == [1, 2, 2]
    assert bodies[2]["data"]["status"] == "approved" and bodies[2]["data"]["attempts"] == 1
    for headers, body in receiver.received:  # Standard Webhooks, each signed
        standard_webhooks.verify(SECRET, headers, body)


def test_failed_when_the_last_attempt_is_used_and_canceled_on_delete(events, outbox, clock):
    receiver = Receiver()
    client, poller = events(receiver)
    start(client)
    code = last_code(outbox)
    wrong = "000000" if code != "000000" else "111111"
    statuses = [check(client, wrong)[0] for _ in range(5)]
    assert statuses[-1] == 403
    clock.advance(3600 * 24)
    _, second, _ = start(client, to="+14155552672")
    assert delete(client, f"/v1/verifications/{second['id']}")[0] == 200
    poller.run(rounds=3)
    assert receiver.types() == ["verification.started", "verification.failed",
                                "verification.started", "verification.canceled"]
    failed = receiver.taken()[1][1]["data"]
    assert failed["status"] == "max_attempts_reached" and failed["attempts"] == 5


def test_delivery_updated_from_a_receipt_write_and_not_from_a_replay(events, outbox):
    import app as app_module

    receiver = Receiver()
    client, poller = events(receiver)
    _, started, _ = start(client)
    store = wiring.get_service()._store
    key = number_pk()[2:]
    # The write the HTTP callbacks make (chalicelib/delivery/tracker.py DeliveryTracker.receive).
    assert store.record_delivery(key, started["id"], 0, "console", "delivered", None, False) is not None
    assert store.record_delivery(key, started["id"], 0, "console", "sent", None, False) is None  # never backwards
    poller.run(rounds=2)
    assert receiver.types() == ["verification.started", "delivery.updated"]
    send = receiver.taken()[1][1]["data"]["send"]
    assert send == {"index": 0, "provider": "console", "status": "delivered", "error_code": None}


def test_a_read_whatsapp_is_a_delivery_update_and_a_late_delivered_is_none(events, outbox):
    receiver = Receiver()
    client, poller = events(receiver)
    _, started, _ = start(client)
    store = wiring.get_service()._store
    key = number_pk()[2:]
    for status, changed in (("delivered", True), ("read", True), ("delivered", False)):
        written = store.record_delivery(key, started["id"], 0, "console", status, None, False)
        assert (written is not None) is changed, status
    poller.run(rounds=2)
    assert receiver.types() == ["verification.started", "delivery.updated", "delivery.updated"]
    assert [e[1]["data"]["send"]["status"] for e in receiver.taken()[1:]] == ["delivered", "read"]


def test_expired_when_ttl_removes_a_pending_verification_and_only_then(events, outbox):
    receiver = Receiver()
    client, poller = events(receiver)
    _, started, _ = start(client)
    poller.run()
    poller.ttl_delete(number_pk())
    poller.run()
    assert receiver.types() == ["verification.started", "verification.expired"]
    assert receiver.taken()[1][1]["data"]["status"] == "expired"
    assert receiver.taken()[1][1]["data"]["id"] == started["id"]

    # An approved verification removed by TTL, and a delete that is not TTL's: no event.
    start(client, to="+14155552672")
    check(client, last_code(outbox), to="+14155552672")
    import app as app_module

    other = "v#" + wiring.get_service()._hasher.number_key("+14155552672")
    poller.run()
    poller.ttl_delete(other)
    start(client)  # a new item for the first number...
    boto3.client("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": number_pk()}})  # ...deleted by hand
    poller.run(rounds=3)
    assert receiver.types()[2:] == ["verification.started", "verification.approved", "verification.started"]


def test_events_carry_no_code_and_a_masked_number(events, outbox):
    receiver = Receiver()
    client, poller = events(receiver)
    start(client)
    code = last_code(outbox)
    check(client, code)
    poller.run(rounds=2)
    assert len(receiver.received) == 2
    for _, body in receiver.received:
        text = body.decode()
        assert code not in text and NUMBER not in text and "mac" not in text
        assert json.loads(body)["data"]["to"] == "+1415*****71"


def test_a_receiver_down_for_a_while_gets_every_event_later_once_per_webhook_id(events, outbox):
    receiver = Receiver(down=True)
    client, poller = events(receiver, max_retries=50)
    start(client)
    check(client, last_code(outbox))
    poller.run(rounds=10)  # down: the first record is retried, nothing after it goes ahead
    assert set(receiver.types()) == {"verification.started"} and len(receiver.received) == 10
    receiver.down = False
    poller.run(rounds=5)
    ids = [h["webhook-id"] for h, _ in receiver.received]
    assert len(set(ids[:11])) == 1  # every retry of the first event: one webhook-id
    taken = receiver.received[10:]
    assert [json.loads(b)["type"] for _, b in taken] == ["verification.started", "verification.approved"]
    assert len({h["webhook-id"] for h, _ in taken}) == 2 and ids[10] == ids[0]
    assert poller.discarded == []


def test_several_urls_each_get_each_event_once_while_one_is_down(events, outbox):
    up, flaky = Receiver(), Receiver(down=True)
    client, poller = events(up, flaky, max_retries=50)
    start(client)
    check(client, last_code(outbox))
    poller.run(rounds=4)
    assert up.types() == ["verification.started"]  # taken once, not again on each retry
    flaky.down = False
    poller.run(rounds=4)
    assert up.types() == ["verification.started", "verification.approved"]
    assert flaky.types()[-2:] == ["verification.started", "verification.approved"]
    assert [i for i, _ in up.taken()] == [i for i, _ in flaky.taken()[-2:]]  # the same webhook-ids


def test_a_poisoned_record_ends_in_the_failed_queue_without_blocking_the_records_after_it(events, outbox):
    receiver = Receiver()
    client, poller = events(receiver, max_retries=3)
    # A number item the consumer cannot read (a verification id and nothing else).
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": "v#poison"}, "vid": {"S": "VE0"}})
    start(client)
    poller.run(rounds=8)
    assert receiver.types() == ["verification.started"]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="phone-verify-test-events-failed")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]


def test_counter_items_and_marks_imply_no_event(events, outbox):
    from chalicelib.events.stream import changes

    for pk in ("rl#ip#1.2.3.4", "wh#msg_x", "totp#abc"):
        record = {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"S": pk}}, "NewImage": {"pk": {"S": pk}}}}
        assert changes(record) == []


def test_the_request_path_calls_dynamodb_only(events, outbox, monkeypatch):
    """No SendMessage, no other service: nothing can fail after the state change."""
    import botocore.client

    called = []
    original = botocore.client.BaseClient._make_api_call

    def record(client, operation, params):
        called.append(client.meta.service_model.service_name)
        return original(client, operation, params)

    client, _ = events(Receiver())
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    start(client)
    assert set(called) == {"dynamodb"}


def test_the_consumer_is_a_chalice_handler_bound_to_the_stream_only_when_events_are_on():
    import subprocess
    import sys

    from tests.conftest import ROOT

    probe = ("import app, json; print(json.dumps([[s.name, s.handler_string, getattr(s, 'stream_arn', None),"
             " getattr(s, 'starting_position', None)] for s in app.app.event_sources]))")
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/phone-verify-dev/stream/2026-01-01T00:00:00.000"
    env = {"PATH": "/usr/bin:/bin", "OTP_EVENTS_URL": "https://backend.example.com/hooks",
           "OTP_EVENTS_STREAM_ARN": arn}
    on = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(on.stdout) == [["table_events", "app.table_events", arn, "LATEST"]]
    off = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True)
    assert json.loads(off.stdout) == []


# -- `make run`: the local table's stream, polled in the API's process (scripts/local/events.py) --


def test_make_run_shows_the_streams_events_on_the_page_without_a_url(configured, outbox, monkeypatch):
    from chalicelib.events.posting import LOCAL_EVENTS, keep_locally
    from scripts.local.events import LocalStream

    monkeypatch.delenv("OTP_EVENTS_URL", raising=False)
    client = configured(OTP_STAGE="local")  # the local stage's inbox (console provider)
    LOCAL_EVENTS.clear()
    stream = LocalStream(TABLE, None, keep_locally)
    _, started, _ = start(client)
    check(client, last_code(outbox))
    stream.poll()
    stream.poll()  # nothing new: nothing twice
    response = client.http.get("/dev/events.json")
    shown = json.loads(response.body)
    assert [e["type"] for e in shown] == ["verification.approved", "verification.started"]  # newest first
    assert shown[0]["data"]["id"] == started["id"] and shown[0]["webhook_id"].startswith("msg_")
    assert shown[0]["data"]["to"] == "+1415*****71"


def test_make_run_posts_to_the_url_and_retries_a_refused_batch_from_the_refused_record(events, outbox):
    import app as app_module
    from scripts.local.events import RETRY_SECONDS, LocalStream

    receiver = Receiver(down=True)
    client, _ = events(receiver)
    stream = LocalStream(TABLE, None, app_module.deliver_stream_records)
    start(client)
    assert stream.poll() == RETRY_SECONDS
    receiver.down = False
    check(client, last_code(outbox))
    stream.poll()
    assert receiver.types() == ["verification.started", "verification.started", "verification.approved"]
    stream.poll()
    assert len(receiver.received) == 3


def test_events_json_is_the_local_stages_only(client):
    assert client.http.get("/dev/events.json").status_code == 404


def test_several_urls_are_posted_to_at_once_not_one_after_another(events, outbox):
    """Each receiver answers only once both POSTs have arrived: in a row, the first would wait
    for the second until its timeout and count as refused."""
    barrier = threading.Barrier(2, timeout=2)

    class Meeting(Receiver):
        def __init__(self) -> None:
            super().__init__()
            handler = self.server.RequestHandlerClass
            original = handler.do_POST

            def do_post(handler_self):
                barrier.wait()
                original(handler_self)

            handler.do_POST = do_post

    first, second = Meeting(), Meeting()
    client, poller = events(first, second)
    start(client)
    poller.run()
    assert first.types() == second.types() == ["verification.started"]


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_totp_factor_verified_and_approved_from_the_identitys_item(events, clock):
    from tests.unit.test_totp import IDENTITY, challenge, code_at, confirm, enroll

    receiver = Receiver()
    client, poller = events(receiver)
    clock.now = (int(clock.now) // 30) * 30 + 15  # mid-step
    factor = enroll(client)
    assert confirm(client, factor["id"], code_at(factor["secret"], clock.now))[0] == 200
    clock.advance(30)
    wrong = "000000" if code_at(factor["secret"], clock.now) != "000000" else "111111"
    assert challenge(client, wrong)[0] == 403  # counted on the item: no event
    assert challenge(client, code_at(factor["secret"], clock.now))[0] == 200
    # The same code again: a replay (answered as a wrong code; its own event, issue 22 item 3).
    assert challenge(client, code_at(factor["secret"], clock.now))[0] != 200
    poller.run(rounds=3)
    assert receiver.types() == ["totp.factor_verified", "totp.approved", "totp.code_replayed"]
    for _, body in receiver.taken():
        assert {k: v for k, v in body["data"].items() if k != "consecutive_failures"} == \
            {"identity": IDENTITY, "factor_id": factor["id"]}
        assert factor["secret"] not in json.dumps(body)


def test_the_consumer_waits_before_reporting_a_refusal_within_the_invocations_time(monkeypatch):
    """So that the mapping's retries span hours of an outage; never past the function's timeout
    (Lambda's context: get_remaining_time_in_millis)."""
    from chalicelib.events import posting as events_module

    slept: list[float] = []
    monkeypatch.setattr(events_module.time, "sleep", slept.append)

    class Context:
        def __init__(self, left_ms: int) -> None:
            self.left_ms = left_ms

        def get_remaining_time_in_millis(self) -> int:
            return self.left_ms

    events_module.stream_pause(Context(30_000))()
    events_module.stream_pause(Context(8_000))()
    events_module.stream_pause(Context(2_000))()
    events_module.stream_pause(None)()  # a local poller paces itself
    assert slept == [events_module.RETRY_PAUSE_SECONDS, 3.0, 0.0]


def test_a_mark_is_kept_two_days_and_names_no_url(events, outbox):
    up, down = Receiver(), Receiver(down=True)
    client, poller = events(up, down, max_retries=50)
    start(client)
    poller.run()
    [mark] = [i for i in boto3.client("dynamodb").scan(TableName=TABLE)["Items"] if i["pk"]["S"].startswith("wh#")]
    assert up.url not in json.dumps(mark) and len(mark["taken"]["SS"]) == 1
    assert int(mark["expires_at"]["N"]) - time.time() > 2 * 86_400 - 60


def test_a_start_no_provider_took_is_started_then_canceled(events):
    """The start's write comes before the send (so the number's rules hold); when every provider
    refuses (502) the write is undone, and the stream says so."""
    receiver = Receiver()
    client, poller = events(receiver, SMS_PROVIDER="twilio",
                            OTP_TEST_NUMBERS=json.dumps({"+15005550095": {"fail": "transient"}}))
    status, body, _ = start(client, to="+15005550095")
    assert status == 502 and body["error"]["code"] == "delivery_failed"
    poller.run(rounds=2)
    assert receiver.types() == ["verification.started", "verification.canceled"]
    assert receiver.taken()[1][1]["data"]["status"] == "canceled"


def test_records_there_is_no_time_left_for_are_handed_back_not_lost_to_a_timeout(events, outbox):
    """A timeout would fail the whole batch (and repeat what was taken): the consumer stops
    first and reports the next record, which Lambda retries from."""
    from chalicelib.events.posting import Poster, deliver_batch

    receiver = Receiver()
    client, poller = events(receiver)
    start(client)
    check(client, last_code(outbox))
    records = [r for _, r in poller._read() if r["dynamodb"]["Keys"]["pk"]["S"].startswith("v#")]
    clock = iter([60.0, 4.0])  # seconds left before the first event, then before the second
    poster = Poster(SECRET, __import__("requests").post)
    answer = deliver_batch(records, (receiver.url,), poster, False, time_left=lambda: next(clock))
    assert receiver.types() == ["verification.started"]
    from chalicelib.events.stream import events_of

    [approval] = [r for r in records if [b["type"] for _, b in events_of(r, False)] == ["verification.approved"]]
    assert answer == {"batchItemFailures": [{"itemIdentifier": approval["dynamodb"]["SequenceNumber"]}]}
