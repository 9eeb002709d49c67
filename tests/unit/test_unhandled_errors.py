"""An error no route handles leaves one log record: its type and its stack's frames, in one JSON
field (one CloudWatch event), and nothing of what the request carried; the answer is a 500 in the
contract's shape, v1's and Twilio's. `make run`'s terminal shows the same record as lines."""

from __future__ import annotations

import io
import json
import logging

import pytest
from botocore.exceptions import ClientError

from chalicelib import telemetry
from tests.unit.helpers import NUMBER, error_code, start
from tests.unit.test_twilio_v2 import call, key, twilio_error  # noqa: F401  (key: a fixture)

CODE = "123456"
SECRET = "SK" + "0123456789abcdef" * 2  # an API key SID's shape
PLAIN_SECRET = "tokenwithnodigitsatallinsideofit"
EMAIL = "victim.name+tag@example.com"
LEAKS = (NUMBER, NUMBER[1:], "4155552671", CODE, SECRET, PLAIN_SECRET, EMAIL, "victim.name")


def _message() -> str:
    return f"item {{'to': '{NUMBER}', 'code': '{CODE}'}} key {SECRET}:{PLAIN_SECRET} for {EMAIL}"


def _client_error() -> ClientError:
    # botocore's ClientError as DynamoDB answers a ValidationException: its message may repeat a
    # parameter's value (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html)
    return ClientError({"Error": {"Code": "ValidationException", "Message": _message()}}, "UpdateItem")


@pytest.fixture
def root_log(monkeypatch):
    """The root's one handler with the JSON formatter, as on Lambda (configure_logging)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    telemetry.configure_logging(log_format="json")
    real = telemetry.end_request
    monkeypatch.setattr(telemetry, "end_request", lambda status, outcome, stream=None: real(status, outcome,
                                                                                             out))
    return out


def _records(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def _assert_one_record_without_leaks(out: io.StringIO, error_type: str, frame: str) -> dict:
    text = out.getvalue()
    for leak in LEAKS:
        assert leak not in text, leak
    with_exception = [r for r in _records(out) if "exception" in r or "error_type" in r]
    assert len(with_exception) == 1, with_exception
    (record,) = with_exception
    assert record["level"] == "ERROR" and record["message"] == "unhandled error"
    assert record["error_type"] == error_type
    assert record["exception"].startswith("Traceback (most recent call last):\n")
    assert frame in record["exception"]  # the frame that raised: file:line in function
    assert "/v1/verifications/" not in record.get("route", "")  # the route, never a raw path
    return record


@pytest.mark.parametrize("error", [lambda: RuntimeError(_message()), lambda: KeyError(NUMBER), _client_error])
def test_v1_an_unhandled_error_is_a_500_and_one_record_without_the_requests_data(
        client, service, root_log, monkeypatch, error):
    def create(*args, **kwargs):
        raise error()

    monkeypatch.setattr(service._store, "create", create)
    status, body, _ = start(client)
    assert status == 500 and error_code(body) == "internal_error"
    exc = error()
    name = type(exc).__qualname__ if type(exc).__module__ == "builtins" else "botocore.exceptions.ClientError"
    record = _assert_one_record_without_leaks(root_log, name, " in create")
    assert record["route"] == "POST /v1/verifications"
    assert "chalicelib/verify/starting.py:" in record["exception"]  # the stack, relative to the project
    if isinstance(exc, ClientError):
        assert (record["aws_error_code"], record["aws_operation"]) == ("ValidationException", "UpdateItem")
    summary = [r for r in _records(root_log) if r["message"] == "request"]
    assert [(s["status"], s["outcome"]) for s in summary] == [(500, "internal_error")]


def test_v2_an_unhandled_error_is_twilios_500_and_one_record(client, service, key, root_log, monkeypatch):  # noqa: F811
    def create(*args, **kwargs):
        raise ValueError(_message()) from _client_error()

    monkeypatch.setattr(service._store, "create", create)
    sid = call(client, key, "GET", "/v2/Services")[1]["services"][0]["sid"]  # the stage's Service
    form = {"To": NUMBER, "Channel": "sms"}
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)
    assert status == 500 and twilio_error(body) == 20500, body
    record = _assert_one_record_without_leaks(root_log, "ValueError", " in create")
    assert record["route"] == "POST /v2/Services/{sid}/Verifications"
    # the chain: the cause first, its type and redacted message, then what it caused
    text = record["exception"]
    cause, caused = text.index("botocore.exceptions.ClientError: "), text.index("ValueError: ")
    assert cause < text.index("The above caused") < caused


def test_the_terminal_shows_the_record_as_lines_without_the_requests_data(client, service, monkeypatch):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    telemetry.configure_logging(log_format="human")
    try:
        def create(*args, **kwargs):
            raise RuntimeError(_message())

        monkeypatch.setattr(service._store, "create", create)
        status, _, _ = start(client)
    finally:
        telemetry.configure_logging(log_format="json")
        handler.removeFilter(telemetry._human_filter)
    text = out.getvalue()
    assert status == 500
    assert "error: unhandled error in POST /v1/verifications\nTraceback (most recent call last):\n" in text
    assert "RuntimeError: item" in text and "chalicelib/verify/starting.py:" in text
    for leak in LEAKS:
        assert leak not in text, leak


def test_an_exception_logged_anywhere_is_redacted_too(root_log):
    try:
        raise RuntimeError(_message())
    except RuntimeError:
        logging.getLogger("verify").exception("provider %s raised", "console")
    (record,) = _records(root_log)
    assert record["message"] == "provider console raised" and record["error_type"] == "RuntimeError"
    for leak in LEAKS:
        assert leak not in root_log.getvalue(), leak


def test_redaction_keeps_what_makes_a_message_useful():
    plain = "'NoneType' object has no attribute 'get'"
    assert telemetry.redact(plain) == plain
    assert telemetry.redact(f"code {CODE} to +1 (415) 555-2671") == "code # to +# (#) #-#"
    assert telemetry.redact(f"{SECRET}:{PLAIN_SECRET} {EMAIL}") == "<redacted>:<redacted> <email>"
