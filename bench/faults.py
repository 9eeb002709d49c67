"""10. Starts when one DynamoDB write in 100 is throttled once, against dynalite over HTTP.

The throttle is injected at botocore's ``before-send`` (the attempt is answered 400
``ProvisionedThroughputExceededException``, DynamoDB's documented throttling error, without
reaching the server), so botocore's own backoff and retry run as in production; the retry of
a throttled write is let through. The same numbers of starts run with and without the
faults, interleaved, and the section reports p50 and p99 of each, with how many writes were
throttled and how many starts saw one.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from typing import Any

from bench.harness import Dynalite, build_app, call, numbers

WRITE_THROTTLE_RATE = 0.01


class ThrottleOnce:
    """Throttles each UpdateItem attempt with probability ``rate``, never the same write twice."""

    def __init__(self, rate: float, seed: int = 19) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.on = False
        self.writes = 0
        self.throttled: set[bytes] = set()

    def __call__(self, request: Any, **_: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if not self.on or not target.endswith(".UpdateItem"):
            return None
        body = bytes(request.body or b"")
        if body in self.throttled:  # botocore's retry of a throttled write: let it through
            return None
        self.writes += 1
        if self.random.random() >= self.rate:
            return None
        self.throttled.add(body)
        return _throttle(request)


def _throttle(request: Any) -> Any:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Any:
            yield self.data

    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html and
    # UpdateItem's Errors: 400 with the JSON protocol's {"__type", "message"} body.
    body = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                       "message": "injected by bench/faults.py"}).encode()
    return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.0"}, Raw(body))


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def throttled_starts(db: Dynalite, runs: int) -> dict[str, Any]:
    from chalicelib import wiring

    app = build_app(db.endpoint, db.table("bench-throttle"))
    fault = ThrottleOnce(WRITE_THROTTLE_RATE)
    wiring.get_service()._store._client.meta.events.register_first("before-send", fault)
    timings: dict[bool, list[float]] = {False: [], True: []}
    hit_starts = 0
    phones = numbers(60_000, 2 * runs + 20)
    for i, phone in enumerate(phones):
        fault.on = i % 2 == 1 and i >= 20  # the first 20: warm-up, no faults
        before = len(fault.throttled)
        t0 = time.perf_counter()
        status = call(app, "POST", "/v1/verifications", {"to": phone})["statusCode"]
        elapsed = time.perf_counter() - t0
        assert status == 201, status  # a throttle absorbed by the retry changes no answer
        if i >= 20:
            timings[fault.on].append(elapsed)
            hit_starts += len(fault.throttled) > before
    fault.on = False
    clean, faulty = timings[False], timings[True]
    return {
        "throttle_rate": WRITE_THROTTLE_RATE,
        "starts": len(faulty),
        "writes": fault.writes,
        "throttled_writes": len(fault.throttled),
        "starts_with_a_throttle": hit_starts,
        "p50_ms": _p(faulty, 0.50),
        "p99_ms": _p(faulty, 0.99),
        "max_ms": round(max(faulty) * 1000, 2),
        "clean_p50_ms": _p(clean, 0.50),
        "clean_p99_ms": _p(clean, 0.99),
        "median_ratio": round(statistics.median(faulty) / statistics.median(clean), 3),
    }
