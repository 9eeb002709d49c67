"""The v2 Services' Webhooks row of `make bench`: the table stream's consumer per record, for a
v2 Service with one webhook (``verification.*``), with Twilio's webhooks only
(OTP_TWILIO_WEBHOOKS), with the Standard Webhooks events only (OTP_EVENTS_URL) and with both,
each POSTing to a receiver on 127.0.0.1: the time per record and the DynamoDB calls the
consumer makes for it (one invocation per record: the worst case, a quiet stream)."""

from __future__ import annotations

import time
from typing import Any

from bench import floor
from bench.approvals import EVENTS_SECRET, WARMUP, _Receiver, _record
from bench.harness import Dynalite, build_app, median_ms, numbers
from chalicelib import wiring

BASE = "http://bench"


def consumer(db: Dynalite, runs: int) -> dict[str, Any]:
    receiver = _Receiver()
    table = db.table("bench-webhooks")
    build_app(db.endpoint, table, OTP_TWILIO_WEBHOOKS="true")
    records = _records(receiver.url, runs)
    variants = {
        "events_only": {"OTP_EVENTS_URL": receiver.url, "OTP_EVENTS_SECRET": EVENTS_SECRET},
        "webhooks_only": {"OTP_TWILIO_WEBHOOKS": "true"},
        "both": {"OTP_EVENTS_URL": receiver.url, "OTP_EVENTS_SECRET": EVENTS_SECRET,
                 "OTP_TWILIO_WEBHOOKS": "true"},
    }
    consumers, logs = {}, {}
    for name, env in variants.items():  # each variant's consumer, built once, then interleaved
        build_app(db.endpoint, table, **env)
        logs[name] = _captured()
        consumers[name] = wiring._event_delivery()
    service_reads = floor.capture(wiring.get_service()._store._client)  # the last build's: get_twilio()'s
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i, record in enumerate(records):
        for name in list(variants)[i % 3:] + list(variants)[:i % 3]:  # the order rotates
            t0 = time.perf_counter()
            assert consumers[name]([record], None) == {"batchItemFailures": []}
            times[name].append(time.perf_counter() - t0)
    result: dict[str, Any] = {"records": len(records), "service_reads": len(service_reads)}
    for name in variants:
        calls = [c["operation"] for log in logs[name] for c in log]
        result[name] = {"ms_per_record": median_ms(times[name][WARMUP:] or times[name]),
                        "dynamodb_calls_per_record": round(len(calls) / len(records), 2),
                        "calls": sorted(set(calls))}
    both, events = result["both"]["ms_per_record"], result["events_only"]["ms_per_record"]
    result["both_over_events_only"] = round(both / events, 2)
    receiver.server.shutdown()
    wiring._dynamodb_client = wiring._bench_dynamodb_client  # type: ignore[attr-defined]
    wiring._event_delivery.cache_clear()
    return result


def _captured() -> list[Any]:
    """Every DynamoDB client the consumer builds from now on (its marks, make forget's
    tombstones), recorded."""
    logs: list[Any] = []
    original = getattr(wiring, "_bench_dynamodb_client", wiring._dynamodb_client)
    wiring._bench_dynamodb_client = original  # type: ignore[attr-defined]

    def made() -> Any:
        client = original()
        logs.append(floor.capture(client))
        return client

    wiring._dynamodb_client = made  # type: ignore[assignment]
    wiring._event_delivery.cache_clear()
    return logs


def _records(url: str, runs: int) -> list[dict[str, Any]]:
    """A start and its right check in a Service with a webhook, as the stream's two records
    (INSERT pending, MODIFY approved), made through the v2 dialect with an auth token."""
    from chalicelib.channels.providers.console import OUTBOX

    api = wiring.get_twilio()
    api.authenticator._store.create_token()
    sid = api.create_service({"FriendlyName": "Bench"}, BASE)["sid"]
    api.webhooks.create(sid, {"FriendlyName": "bench", "WebhookUrl": url}, ["verification.*"], BASE)
    client, table = wiring.get_service()._store._client, wiring.get_config().table_name
    writes = floor.capture(client)
    records: list[dict[str, Any]] = []
    for i, phone in enumerate(numbers(70_000, runs + WARMUP)):
        writes.take()
        api.start(sid, {"To": phone, "Channel": "sms"}, BASE)
        pk = next(c["params"]["Key"] for c in writes.take() if c["operation"] == "UpdateItem"
                  and c["params"]["Key"]["pk"]["S"].startswith("v#"))
        pending = client.get_item(TableName=table, Key=pk, ConsistentRead=True)["Item"]
        code = OUTBOX[0]["body"].split(" is ")[1][:6]
        assert api.check(sid, {"To": phone, "Code": code})["status"] == "approved"
        approved = client.get_item(TableName=table, Key=pk, ConsistentRead=True)["Item"]
        records += [_record("INSERT", None, pending, 2 * i), _record("MODIFY", pending, approved, 2 * i + 1)]
    return records
