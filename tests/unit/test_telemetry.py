"""One JSON summary line per request, EMF metrics, and never a code or a credential."""

from __future__ import annotations

import io
import json
import re
import logging

import pytest

from chalicelib import telemetry
from chalicelib.channels.providers import ProviderError
from tests.conftest import last_code
from tests.unit.helpers import check, start


@pytest.fixture
def captured(monkeypatch):
    """What the app writes: log records (as JSON) and EMF lines, per request."""
    out = io.StringIO()
    real_end = telemetry.end_request
    monkeypatch.setattr(telemetry, "end_request", lambda status, outcome, stream=None: real_end(status, outcome, out))
    handler = logging.StreamHandler(out)
    handler.setFormatter(telemetry.JsonFormatter())
    logger = logging.getLogger("verify")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield out
    logger.removeHandler(handler)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def test_a_full_cycle_logs_one_summary_per_request_without_codes_or_secrets(
    client, service, outbox, clock, captured, monkeypatch
):
    start(client)
    codes = [last_code(outbox)]
    clock.advance(30)
    start(client)  # resend
    codes.append(last_code(outbox))
    check(client, f"{(int(codes[-1]) + 1) % 10**6:06d}")  # wrong
    console = service._providers.get("console")

    class Failing:
        name = "console"

        def send_sms(self, to, message):
            raise ProviderError("console", permanent=False, detail="HTTP 503 token=abc")

    clock.advance(30)
    service._providers.replace("console", Failing())
    start(client)  # a failed send
    service._providers.replace("console", console)
    check(client, codes[-1])  # right

    records = lines(captured)
    summaries = [r for r in records if r.get("message") == "request"]
    assert [(s["route"], s["status"], s["outcome"]) for s in summaries] == [
        ("POST /v1/verifications", 201, "ok"),
        ("POST /v1/verifications", 200, "ok"),
        ("POST /v1/verifications/check", 403, "incorrect_code"),
        ("POST /v1/verifications", 502, "delivery_failed"),
        ("POST /v1/verifications/check", 200, "ok"),
    ]
    first = summaries[0]
    # The id's hash, not the id: the id is the bearer reference of the server routes.
    assert re.fullmatch(r"[0-9a-f]{16}", first["id"]) and first["to"] == "+1415*****71"
    assert first["provider"] == "console" and first["provider_latency_ms"] >= 0 and first["latency_ms"] > 0
    text = captured.getvalue()
    for code in codes:
        assert code not in text
    assert "+14155552671" not in text and "test-only-secret" not in text


def test_metrics_are_cloudwatch_embedded_metric_format(client, outbox, captured):
    start(client)
    check(client, last_code(outbox))
    documents = [r for r in lines(captured) if "_aws" in r]
    names = {m["Name"] for d in documents for m in d["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"VerificationsStarted", "Sends", "ProviderLatency", "Approvals", "Checks"} <= names
    for document in documents:
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "PhoneVerify"
        for dimension in directive["Dimensions"][0]:
            assert isinstance(document[dimension], str)
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], (int, float))
    sends = next(d for d in documents if "Sends" in d)
    assert sends["provider"] == "console" and sends["outcome"] == "delivered"


def test_limits_hit_are_counted_by_kind(client, clock, captured):
    start(client)
    clock.advance(1)
    start(client)
    limit = [r for r in lines(captured) if "LimitsHit" in r]
    assert limit and limit[0]["kind"] == "resend_too_soon"
