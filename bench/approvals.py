"""Sections 7 to 9 of `make bench`: what an approval's receipt (issue 12), a TOTP challenge
(issue 15) and events (issue 21) add, each against a floor measured in the same run.

DynamoDB is dynalite, KMS a moto server, each on 127.0.0.1 in a process of its own, so
every call crosses HTTP. Calls are counted with botocore's event hooks on the app's own clients
(bench/floor.py ``capture``), registered before the client's first call, so a cold
container's extra calls (KMS GetPublicKey) are counted too. Timings are
medians after 10 warm-up rounds; the app's variants (with and without the feature) run
interleaved, round by round, so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import collections
import json
import statistics
import time
from typing import Any

from bench import floor
from bench.harness import Dynalite, MotoServer, activate, build_app, call, latest_code, median_ms, numbers, snapshot
from chalicelib import wiring

WARMUP = 10
TOTP_IDENTITY = "bench-user@example.com"
# A Standard Webhooks secret (whsec_ + base64 of 32 bytes); the receiver is never called on the
# request path (the stream's consumer POSTs).
EVENTS_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"


class Clock:
    """The service's clock, moved by hand: each TOTP challenge is 30 s (one step) later."""

    def __init__(self) -> None:
        self.now = (int(time.time()) // 30) * 30 + 15.0  # mid-step

    def __call__(self) -> float:
        return self.now


def _ops(calls: list[dict[str, Any]]) -> list[str]:
    return [c["operation"] for c in sorted(calls, key=lambda c: c["start"])]


def _usual(lists: list[list[str]]) -> tuple[list[str], float]:
    """The most common list of operations and the share of rounds that made exactly it."""
    counts = collections.Counter(tuple(x) for x in lists)
    ops, n = counts.most_common(1)[0]
    return list(ops), round(n / len(lists), 3)


def _verify(app: Any, phone: str) -> tuple[dict, float, dict, float]:
    """A request and a right check through the handler: (request answer, its seconds, check
    answer, its seconds)."""
    t0 = time.perf_counter()
    started = call(app, "POST", "/v1/verifications", {"to": phone})
    t1 = time.perf_counter()
    assert started["statusCode"] == 201, started
    code = latest_code()
    t2 = time.perf_counter()
    checked = call(app, "POST", "/v1/verifications/check", {"to": phone, "code": code})
    t3 = time.perf_counter()
    assert checked["statusCode"] == 200, checked
    return started, t1 - t0, checked, t3 - t2


# -- 7. receipts (issue 12) ------------------------------------------------------------------


def receipts(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    """A right check with its receipt versus the same check without one (same table, same
    servers); ReceiptSigner.sign versus the bare KMS Sign call it made, replayed on a plain
    boto3 client; the KMS calls of each approval. And the same check and signer with
    OTP_RECEIPT_SIGNING=minute_key (chalicelib/factors/minute_keys.py) against the KMS path:
    the milliseconds it adds (negative: saves) and its KMS calls per approval, counted over
    every round (the minute's key is made by the first approval, the next ahead of its minute)."""
    from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

    table = db.table("bench-receipts")
    key = ensure_receipt_key(moto.client("kms"), "bench")
    plain = snapshot(build_app(db.endpoint, table))
    minute = snapshot(build_app(db.endpoint, table, OTP_RECEIPT_KEY_IDS=key, OTP_RECEIPT_SIGNING="minute_key",
                                OTP_TOTP_KEY_ID=ensure_totp_key(moto.client("kms"), "bench")))
    app = build_app(db.endpoint, table, OTP_RECEIPT_KEY_IDS=key)
    signed = snapshot(app)
    kms_calls = floor.capture(wiring._kms_client())  # the client both signers use: no call yet
    raw_kms = moto.client("kms")
    phones = iter(numbers(50_000, 3 * (runs + WARMUP)))
    times: dict[str, list[float]] = {"plain": [], "signed": [], "minute": [], "sign": [], "raw_sign": [],
                                     "minute_sign": []}
    per_approval: list[list[str]] = []
    minute_calls: collections.Counter[str] = collections.Counter()
    for i in range(runs + WARMUP):
        for name, variant in (("plain", plain), ("signed", signed), ("minute", minute)):
            activate(app, variant)
            _, _, checked, seconds = _verify(app, next(phones))
            receipt = json.loads(checked["body"])["receipt"]
            assert (receipt is None) == (name == "plain"), checked
            if name == "signed":
                assert receipt.count(".") == 2, receipt
                per_approval.append(_ops(kms_calls.take()))
            elif name == "minute":
                assert receipt.count(".") == 2, receipt
                minute_calls.update(_ops(kms_calls.take()))
            if i >= WARMUP:
                times[name].append(seconds)
        t0 = time.perf_counter()
        minute.receipts.sign(subject="+14155550100", phone_number="+14155550100", amr=("sms",),
                             jti=f"VE{i:048x}", now=time.time())
        if i >= WARMUP:
            times["minute_sign"].append(time.perf_counter() - t0)
        minute_calls.update(_ops(kms_calls.take()))
        # The signer alone versus the KMS call it makes, replayed on a plain client.
        t0 = time.perf_counter()
        signed.receipts.sign(subject="+14155550100", phone_number="+14155550100", amr=("sms",),
                             jti=f"VE{i:048x}", now=time.time())
        t1 = time.perf_counter()
        [sign] = kms_calls.take()
        raw_kms.sign(**sign["params"])
        t2 = time.perf_counter()
        if i >= WARMUP:
            times["sign"].append(t1 - t0)
            times["raw_sign"].append(t2 - t1)
    warm, share = _usual(per_approval[1:])
    med = {name: statistics.median(samples) for name, samples in times.items()}
    return {
        "check_ms": median_ms(times["signed"]),
        "check_without_receipt_ms": median_ms(times["plain"]),
        "ratio": round(med["signed"] / med["plain"], 3),
        "added_ms": round((med["signed"] - med["plain"]) * 1000, 3),
        "sign_ms": median_ms(times["sign"]),
        "raw_kms_sign_ms": median_ms(times["raw_sign"]),
        "sign_ratio": round(med["sign"] / med["raw_sign"], 3),
        "kms_calls_first_approval": per_approval[0],
        "kms_calls_per_approval": warm,
        "kms_calls_per_approval_share": share,
        "kms_sign_per_approval": warm.count("Sign"),
        "minute_key": {
            "check_ms": median_ms(times["minute"]),
            "added_ms": round((med["minute"] - med["signed"]) * 1000, 3),  # against the KMS path
            "sign_ms": median_ms(times["minute_sign"]),
            "receipts": 2 * (runs + WARMUP),
            "kms_calls": dict(sorted(minute_calls.items())),
            "kms_calls_per_approval": round(sum(minute_calls.values()) / (2 * (runs + WARMUP)), 4),
        },
    }


# -- 8. TOTP challenges (issue 15) -----------------------------------------------------------


def totp_challenges(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    """POST /v1/totp/challenges through the handler with pyotp's code for the clock's step,
    versus the same DynamoDB and KMS calls replayed by hand (bench/floor.py), the DynamoDB
    ones on a copy of the identity's item (so the replayed write's `last_step < :step`
    condition holds as the app's did)."""
    import pyotp

    from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

    table = db.table("bench-totp")
    admin = moto.client("kms")
    app = build_app(db.endpoint, table, OTP_RECEIPT_KEY_IDS=ensure_receipt_key(admin, "bench"),
                    OTP_TOTP_KEY_ID=ensure_totp_key(admin, "bench"))
    service = wiring.get_service()
    clock = Clock()
    service._clock = clock  # the TotpService reads the VerificationService's clock
    dynamodb, kms = service._store._client, wiring._kms_client()
    enrollment = wiring.get_totp().enroll(TOTP_IDENTITY, None)
    totp = pyotp.TOTP(enrollment.secret)
    from chalicelib.totp.service import CodeRequest

    wiring.get_totp().confirm(enrollment.factor.id, CodeRequest(totp.at(clock.now)))
    clients = {"dynamodb": db.client(), "kms": moto.client("kms")}  # the floor's
    from chalicelib.totp.store import identity_pk

    pk = identity_pk(wiring.get_totp().identity_key(TOTP_IDENTITY))
    item = clients["dynamodb"].get_item(TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]
    floor_pk = "t#floor" + enrollment.factor.id[7:34]
    clients["dynamodb"].put_item(TableName=table, Item={**item, "pk": {"S": floor_pk}})
    db_calls, kms_calls = floor.capture(dynamodb), floor.capture(kms)  # from the first challenge on

    def rewrite(recorded: dict[str, Any]) -> dict[str, Any]:
        params = dict(recorded["params"])
        if recorded["service"] == "dynamodb":
            params["Key"] = {"pk": {"S": floor_pk}}
        return params

    times: dict[str, list[float]] = {"app": [], "floor": []}
    per_challenge: list[list[str]] = []
    chains: list[int] = []
    for i in range(runs + WARMUP):
        clock.now += 30
        t0 = time.perf_counter()
        answer = call(app, "POST", "/v1/totp/challenges", {"code": totp.at(clock.now), "identity": TOTP_IDENTITY})
        t1 = time.perf_counter()
        assert answer["statusCode"] == 200, answer
        assert json.loads(answer["body"])["receipt"].count(".") == 2, answer
        calls = db_calls.take() + kms_calls.take()
        per_challenge.append([f"{c['service']}:{c['operation']}" for c in sorted(calls, key=lambda c: c["start"])])
        chains.append(floor.sequential_round_trips(calls))
        t2 = time.perf_counter()
        floor.replay_calls(clients, floor.waves(calls), rewrite)
        t3 = time.perf_counter()
        if i >= WARMUP:
            times["app"].append(t1 - t0)
            times["floor"].append(t3 - t2)
    warm, share = _usual(per_challenge[1:])
    return {
        "challenge_ms": median_ms(times["app"]),
        "floor_ms": median_ms(times["floor"]),
        "ratio": round(statistics.median(times["app"]) / statistics.median(times["floor"]), 3),
        "calls_first_challenge": per_challenge[0],
        "calls_per_challenge": warm,
        "calls_per_challenge_share": share,
        "dynamodb_calls": [op.split(":")[1] for op in warm if op.startswith("dynamodb:")],
        "kms_calls": [op.split(":")[1] for op in warm if op.startswith("kms:")],
        "sequential_round_trips": statistics.median(chains[1:]),
    }


# -- 9. events (issue 21: from the table's stream) -------------------------------------------


class _Receiver:
    """A backend on 127.0.0.1 that takes every event (204)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["content-length"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _other_services() -> tuple[list[str], Any]:
    """Every AWS call the process makes that is not DynamoDB's (any client, made before or
    after): the request path must make none with events on."""
    import botocore.client

    seen: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation: str, params: dict) -> Any:
        if client.meta.service_model.service_name != "dynamodb":
            seen.append(f"{client.meta.service_model.service_name}:{operation}")
        return original(client, operation, params)

    botocore.client.BaseClient._make_api_call = record
    return seen, lambda: setattr(botocore.client.BaseClient, "_make_api_call", original)


def _record(name: str, old: dict | None, new: dict | None, seq: int) -> dict[str, Any]:
    """A stream record as Lambda hands it (docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)."""
    ddb: dict[str, Any] = {"Keys": {"pk": (new or old or {})["pk"]}, "SequenceNumber": str(seq),
                           "ApproximateCreationDateTime": int(time.time()), "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old:
        ddb["OldImage"] = old
    if new:
        ddb["NewImage"] = new
    return {"eventID": f"{seq:032x}", "eventName": name, "dynamodb": ddb}


def events(db: Dynalite, runs: int) -> dict[str, Any]:
    """A request and a right check with OTP_EVENTS_URL set versus without (same table, same
    servers): the request path is the same either way (no producer); the AWS calls other than
    DynamoDB's each makes; the number item's writes per verification (each one stream record
    the consumer's filter passes) and the consumer's time per record, POSTing to a receiver on
    127.0.0.1, for its cost line."""
    table = db.table("bench-events")
    receiver = _Receiver()
    plain = snapshot(build_app(db.endpoint, table))
    app = build_app(db.endpoint, table, OTP_EVENTS_URL=receiver.url, OTP_EVENTS_SECRET=EVENTS_SECRET)
    evented = snapshot(app)
    dynamodb = evented.service._store._client
    writes = floor.capture(dynamodb)
    phones = iter(numbers(60_000, 2 * (runs + WARMUP)))
    times: dict[str, list[float]] = collections.defaultdict(list)
    others: dict[str, list[str]] = {"request": [], "check": []}
    item_writes: list[int] = []
    records: list[dict[str, Any]] = []
    for i in range(runs + WARMUP):
        for name, variant in (("plain", plain), ("events", evented)):
            activate(app, variant)
            phone = next(phones)
            seen, restore = _other_services() if name == "events" else ([], lambda: None)
            try:
                t0 = time.perf_counter()
                assert call(app, "POST", "/v1/verifications", {"to": phone})["statusCode"] == 201
                t1 = time.perf_counter()
                requested = list(seen)
                code = latest_code()
                t2 = time.perf_counter()
                assert call(app, "POST", "/v1/verifications/check", {"to": phone, "code": code})["statusCode"] == 200
                t3 = time.perf_counter()
            finally:
                restore()
            if name == "events":
                others["request"] += requested
                others["check"] += seen[len(requested):]
                made = writes.take()
                item_writes.append(sum(1 for c in made if c["operation"] == "UpdateItem"
                                       and c["params"]["Key"]["pk"]["S"].startswith("v#")))
                if len(records) < 2 * runs:  # the item's two states: started, then approved
                    pk = {"pk": {"S": "v#" + evented.service._hasher.number_key(phone)}}
                    item = dynamodb.get_item(TableName=table, Key=pk, ConsistentRead=True)["Item"]
                    pending = {k: v for k, v in item.items() if k not in ("guess_mac", "approved_at")}
                    pending["attempts"] = {"N": "0"}
                    records += [_record("INSERT", None, pending, 2 * i), _record("MODIFY", pending, item, 2 * i + 1)]
            if i >= WARMUP:
                times[f"request_{name}"].append(t1 - t0)
                times[f"check_{name}"].append(t3 - t2)
    # The consumer: one invocation per record (the worst case: a quiet stream, no batching).
    import app as app_module

    wiring._event_delivery.cache_clear()
    consumer: list[float] = []
    for record in records:
        t0 = time.perf_counter()
        assert app_module.deliver_stream_records([record]) == {"batchItemFailures": []}
        consumer.append(time.perf_counter() - t0)
    receiver.server.shutdown()
    med = {name: statistics.median(samples) for name, samples in times.items()}
    result: dict[str, Any] = {}
    for op in ("request", "check"):
        result[op] = {
            "app_ms": median_ms(times[f"{op}_events"]),
            "without_events_ms": median_ms(times[f"{op}_plain"]),
            "ratio": round(med[f"{op}_events"] / med[f"{op}_plain"], 3),
            "added_ms": round((med[f"{op}_events"] - med[f"{op}_plain"]) * 1000, 3),
            "other_aws_calls": sorted(set(others[op])),
        }
    result["stream_records_per_verification"] = statistics.median(item_writes)
    result["consumer_ms_per_record"] = median_ms(consumer[WARMUP:] or consumer)
    return result


def receipts_alone(runs: int) -> dict[str, Any]:
    """Section 7 on its own, as `make bench` runs it (its own dynalite and moto KMS on 127.0.0.1):
    ``python -m bench.approvals [RUNS]`` prints its JSON, results.json left as it is."""
    import os
    import sys

    from bench.harness import BENCH_ENV

    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(BENCH_ENV)
    db, moto = Dynalite(), MotoServer()
    os.environ.update(AWS_ENDPOINT_URL_KMS=moto.endpoint)
    real_stdout, real_stderr = sys.stdout, sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stdout = sys.stderr = devnull  # the app's request lines and SMS while it runs
        try:
            return receipts(db, moto, runs)
        finally:
            db.stop()
            moto.stop()
            sys.stdout, sys.stderr = real_stdout, real_stderr


if __name__ == "__main__":
    import sys

    print(json.dumps(receipts_alone(int(sys.argv[1]) if len(sys.argv) > 1 else 100), indent=2))
