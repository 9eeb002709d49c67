"""The v2 (Twilio Verify) rows of `make bench`: a start and a check through the Lambda handler
with HTTP Basic and a form body, against the floor of the same DynamoDB calls replayed by hand
(the v1 request's and check's, recorded by bench/run.py: v2 makes the same writes), a
Service lookup from the container's cache against one that reads the table, and a start naming
two of the Service's Rate Limits against one naming none (issue 33: their buckets are counted in
the send counters' wave, so the goal is 1.1)."""

from __future__ import annotations

import base64
import statistics
import time
from typing import Any
from urllib.parse import urlencode

from bench import floor
from bench.events import Context, api_event
from bench.harness import Dynalite, build_app, median_ms, numbers
from chalicelib import wiring


def _event(method: str, path: str, resource: str, params: dict[str, str], form: dict[str, str],
           authorization: str) -> dict[str, Any]:
    event = api_event(method, path, None, resource=resource, path_parameters=params)
    headers = {"content-type": "application/x-www-form-urlencoded", "authorization": authorization}
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = urlencode(form)
    return event


def _key() -> str:
    from chalicelib.twilio_v2.credentials import ApiKey, ApiKeyStore, new_secret
    from chalicelib.twilio_v2.wire import new_sid

    service = wiring.get_service()
    sid, secret = new_sid("SK"), new_secret()
    ApiKeyStore(service._store._client, wiring.get_config().table_name).create(
        ApiKey(sid, "bench", service._hasher.api_key_mac(sid, secret), int(time.time())))
    return "Basic " + base64.b64encode(f"{sid}:{secret}".encode()).decode()


def warm(db: Dynalite, runs: int, calls_file: Any) -> dict[str, Any]:
    table = db.table("bench-v2")
    app = build_app(db.endpoint, table)
    authorization = _key()
    api = wiring.get_twilio()
    service_sid = api.create_service({"FriendlyName": "Bench", "CodeLength": "6"}, "http://bench")["sid"]
    recorded = floor.load(calls_file)
    client = db.client()
    timings: dict[str, list[float]] = {"start": [], "check": [], "floor_start": [], "floor_check": []}
    verifications = f"/v2/Services/{service_sid}/Verifications"
    checks = f"/v2/Services/{service_sid}/VerificationCheck"
    params = {"sid": service_sid}
    for i, phone in enumerate(numbers(60_000, runs + 10)):
        t0 = time.perf_counter()
        started = app.app(_event("POST", verifications, "/v2/Services/{sid}/Verifications", params,
                                 {"To": phone, "Channel": "sms"}, authorization), Context())
        t1 = time.perf_counter()
        assert started["statusCode"] == 201, started
        from chalicelib.channels.providers.console import OUTBOX

        code = OUTBOX[0]["body"].split(" is ")[1][:6]
        t2 = time.perf_counter()
        checked = app.app(_event("POST", checks, "/v2/Services/{sid}/VerificationCheck", params,
                                 {"To": phone, "Code": code}, authorization), Context())
        t3 = time.perf_counter()
        assert checked["statusCode"] == 200 and '"approved"' in checked["body"], checked
        number_pk = floor.fresh_number_pk()
        floor.replay(client, recorded["request"], table, number_pk)
        t4 = time.perf_counter()
        floor.replay(client, recorded["check"], table, number_pk)
        t5 = time.perf_counter()
        if i >= 10:  # warm-up done
            timings["start"].append(t1 - t0)
            timings["check"].append(t3 - t2)
            timings["floor_start"].append(t4 - t3)
            timings["floor_check"].append(t5 - t4)
    result: dict[str, Any] = {}
    for op in ("start", "check"):
        ours, base = statistics.median(timings[op]), statistics.median(timings["floor_" + op])
        result[op] = {"app_ms": median_ms(timings[op]), "floor_ms": median_ms(timings["floor_" + op]),
                      "ratio": round(ours / base, 3), "goal_ratio": 1.3}
    result["service_lookup"] = _lookup(api, service_sid, runs)
    result["rate_limits"] = _rate_limited(app, api, authorization, runs)
    result["basic_auth_ms"] = _auth(api, authorization, runs)
    return result


def _lookup(api: Any, sid: str, runs: int) -> dict[str, Any]:
    """catalog.get from the container's cache (every start and check) against one that reads
    the index and the Service's item first (a container's first; one every CACHE_SECONDS reads the item)."""
    catalog = api.catalog
    hits, misses = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        assert catalog.get(sid) is not None
        t1 = time.perf_counter()
        catalog.expire()  # expired: the next get reads the index and the item
        assert catalog.get(sid) is not None
        t2 = time.perf_counter()
        hits.append(t1 - t0)
        misses.append(t2 - t1)
    return {"hit_ms": median_ms(hits), "miss_ms": median_ms(misses),
            "ratio": round(statistics.median(misses) / statistics.median(hits), 1)}


def _auth(api: Any, authorization: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        assert api.authenticator.authenticate(authorization, "198.51.100.7") is not None
        samples.append(time.perf_counter() - t0)
    return median_ms(samples)


LATENCY_RUNS = 50  # each start waits two round trips of ROUND_TRIP_SECONDS: fewer runs suffice


def _rate_limited(app: Any, api: Any, authorization: str, runs: int) -> dict[str, Any]:
    """Starts naming two Rate Limits (each with one bucket of a Max no run reaches) against
    starts naming none, interleaved start by start on one Service, so both see the same table,
    cache and machine; each start a new number (a resend would make other writes).

    Twice: on dynalite as it is, where the two buckets' writes, made in a wave the start
    already waits for, still cost their CPU (dynalite is one node process: the wave's writes
    run one after another there, in parallel on DynamoDB); then with each DynamoDB call
    waiting floor.ROUND_TRIP_SECONDS before it is sent, as on a network, where what counts is
    whether the buckets add a round trip (the goal)."""
    import json

    sid = api.create_service({"FriendlyName": "Bench limits", "CodeLength": "6"}, "http://bench")["sid"]
    for name in ("end_user_ip_address", "user_id"):
        rk = api.rate_limits.create(sid, {"UniqueName": name}, "http://bench")["sid"]
        api.rate_limits.create_bucket(sid, rk, {"Max": "1000000", "Interval": "3600"}, "http://bench")
    path, params = f"/v2/Services/{sid}/Verifications", {"sid": sid}
    named = json.dumps({"end_user_ip_address": "203.0.113.7", "user_id": "bench-user"})
    phones = iter(numbers(70_000, 2 * (runs + LATENCY_RUNS + 20)))

    def interleaved(count: int) -> dict[str, float]:
        timings: dict[str, list[float]] = {"named": [], "none": []}
        for i in range(count + 10):
            for mode in ("named", "none"):
                form = {"To": next(phones), "Channel": "sms", **({"RateLimits": named} if mode == "named" else {})}
                t0 = time.perf_counter()
                started = app.app(_event("POST", path, "/v2/Services/{sid}/Verifications", params, form,
                                         authorization), Context())
                elapsed = time.perf_counter() - t0
                assert started["statusCode"] == 201, started
                if i >= 10:
                    timings[mode].append(elapsed)
        return {mode: statistics.median(times) for mode, times in timings.items()}

    local = interleaved(runs)
    client = wiring.get_service()._store._client  # the one DynamoDB client of a v2 start's calls
    client.meta.events.register("before-send.dynamodb", floor.network_latency)
    try:
        networked = interleaved(min(runs, LATENCY_RUNS))
    finally:
        client.meta.events.unregister("before-send.dynamodb", floor.network_latency)
    return {"app_ms": round(networked["named"] * 1000, 2), "floor_ms": round(networked["none"] * 1000, 2),
            "ratio": round(networked["named"] / networked["none"], 3), "goal_ratio": 1.1,
            "round_trip_ms": floor.ROUND_TRIP_SECONDS * 1000,
            "dynalite_app_ms": round(local["named"] * 1000, 2), "dynalite_floor_ms": round(local["none"] * 1000, 2),
            "dynalite_ratio": round(local["named"] / local["none"], 3)}
