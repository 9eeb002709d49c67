"""Events to the deployment's backend through SQS (moto's SQS, with a real redrive policy):
one SendMessage per state change, retries by redelivery with the same webhook-id, then the
dead-letter queue. The receiver is an HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from chalicelib import standard_webhooks
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, check, start
from chalicelib import wiring

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"
MAX_RECEIVES = 3


class Receiver:
    """Answers 500 to the first ``failures`` POSTs, then 204; keeps what it got."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(500 if len(outer.received) <= outer.failures else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def events(configured):
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="verify-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="verify-events", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
    })["QueueUrl"]

    def make(receiver: Receiver):
        client = configured(OTP_EVENTS_URL=receiver.url, OTP_EVENTS_SECRET=SECRET, OTP_EVENTS_QUEUE="verify-events")
        wiring._event_sender.cache_clear()
        return client

    yield make, sqs, queue, dlq
    wiring._event_sender.cache_clear()


def drain(sqs, queue) -> list[dict]:
    messages = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return messages
        for m in got:
            messages.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])


def run_worker(sqs, queue, rounds: int) -> int:
    """What Lambda's SQS trigger does: receive, call the handler, delete on success; on an
    exception the message stays and comes back after the visibility timeout."""
    import app as app_module

    failures = 0
    for _ in range(rounds):
        for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1).get("Messages", []):
            try:
                app_module.deliver_queued_event(m["Body"])
            except Exception:
                failures += 1
                continue
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return failures


def test_an_approval_enqueues_exactly_one_approved_event(events, outbox):
    make, sqs, queue, _ = events
    client = make(Receiver(0))
    _, started, _ = start(client)
    assert check(client, last_code(outbox))[0] == 200
    assert check(client, last_code(outbox))[0] == 404  # a second check: no second event
    types = [m["body"]["type"] for m in drain(sqs, queue)]
    assert types == ["verification.started", "verification.approved"]


def test_events_carry_no_code_and_a_masked_number(events, outbox):
    make, sqs, queue, _ = events
    client = make(Receiver(0))
    start(client)
    code = last_code(outbox)
    check(client, code)
    for message in drain(sqs, queue):
        text = json.dumps(message)
        assert code not in text and NUMBER not in text
        assert message["body"]["data"]["to"].startswith("+1415") and "*" in message["body"]["data"]["to"]


def test_a_receiver_failing_twice_gets_the_event_three_times_with_one_webhook_id(events, outbox):
    make, sqs, queue, dlq = events
    receiver = Receiver(failures=2)
    client = make(receiver)
    start(client)
    assert run_worker(sqs, queue, rounds=5) == 2
    assert len(receiver.received) == 3
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert len(ids) == 1
    for headers, body in receiver.received:  # each attempt is signed (Standard Webhooks)
        standard_webhooks.verify(SECRET, headers, body)
        assert json.loads(body)["type"] == "verification.started"
    assert sqs.receive_message(QueueUrl=dlq).get("Messages") is None


def test_a_receiver_that_always_fails_puts_the_event_in_the_dead_letter_queue(events, outbox):
    make, sqs, queue, dlq = events
    receiver = Receiver(failures=10**6)
    client = make(receiver)
    start(client)
    run_worker(sqs, queue, rounds=MAX_RECEIVES + 2)
    assert len(receiver.received) == MAX_RECEIVES
    [dead] = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert json.loads(dead["Body"])["body"]["type"] == "verification.started"
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None
