"""Sections 7 to 9 of `make bench`: what an approval's receipt (issue 12), a TOTP challenge
(issue 15) and events (issue 14) add, each against a floor measured in the same run.

DynamoDB is dynalite, KMS and SQS a moto server, each on 127.0.0.1 in a process of its own, so
every call crosses HTTP. Calls are counted with botocore's event hooks on the app's own clients
(bench/floor.py ``capture``), registered before the client's first call, so a cold
container's extra calls (KMS GetPublicKey, SQS GetQueueUrl) are counted too. Timings are
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
# request path (the queue's consumer POSTs), so the URL is never dialled.
EVENTS_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr"
EVENTS_QUEUE = "bench-events"


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
    boto3 client; the KMS calls of each approval."""
    from scripts.keys import ensure_receipt_key

    table = db.table("bench-receipts")
    key = ensure_receipt_key(moto.client("kms"), "bench")
    plain = snapshot(build_app(db.endpoint, table))
    app = build_app(db.endpoint, table, OTP_RECEIPT_KEY_IDS=key)
    signed = snapshot(app)
    kms_calls = floor.capture(wiring._kms_client())  # the client signed.receipts uses: no call yet
    raw_kms = moto.client("kms")
    phones = iter(numbers(50_000, 2 * (runs + WARMUP)))
    times: dict[str, list[float]] = {"plain": [], "signed": [], "sign": [], "raw_sign": []}
    per_approval: list[list[str]] = []
    for i in range(runs + WARMUP):
        for name, variant in (("plain", plain), ("signed", signed)):
            activate(app, variant)
            _, _, checked, seconds = _verify(app, next(phones))
            receipt = json.loads(checked["body"])["receipt"]
            assert (receipt is None) == (name == "plain"), checked
            if name == "signed":
                assert receipt.count(".") == 2, receipt
                per_approval.append(_ops(kms_calls.take()))
            if i >= WARMUP:
                times[name].append(seconds)
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
    }


# -- 8. TOTP challenges (issue 15) -----------------------------------------------------------


def totp_challenges(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    """POST /v1/totp/challenges through the handler with pyotp's code for the clock's step,
    versus the same DynamoDB and KMS calls replayed by hand (bench/floor.py), the DynamoDB
    ones on a copy of the identity's item (so the replayed write's `last_step < :step`
    condition holds as the app's did)."""
    import pyotp

    from scripts.keys import ensure_receipt_key, ensure_totp_key

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
    from chalicelib.totp import CodeRequest

    wiring.get_totp().confirm(enrollment.factor.id, CodeRequest(totp.at(clock.now)))
    clients = {"dynamodb": db.client(), "kms": moto.client("kms")}  # the floor's
    pk = "t#" + enrollment.factor.id[2:34]  # chalicelib/totp_store.py identity_pk
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


# -- 9. events (issue 14) --------------------------------------------------------------------


def events(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    """A request and a right check with OTP_EVENTS_URL set versus without (same table, same
    servers); the SQS calls each makes; the app's SendMessage versus the same SendMessage
    replayed on a plain boto3 client."""
    table = db.table("bench-events")
    raw_sqs = moto.client("sqs")
    raw_sqs.create_queue(QueueName=EVENTS_QUEUE)
    plain = snapshot(build_app(db.endpoint, table))
    app = build_app(db.endpoint, table, OTP_EVENTS_URL="http://127.0.0.1:9/events",
                    OTP_EVENTS_SECRET=EVENTS_SECRET, OTP_EVENTS_QUEUE=EVENTS_QUEUE)
    evented = snapshot(app)
    sqs_calls = floor.capture(evented.service._events._sqs())  # the app's SQS client: no call yet
    phones = iter(numbers(60_000, 2 * (runs + WARMUP)))
    times: dict[str, list[float]] = collections.defaultdict(list)
    per: dict[str, list[list[str]]] = {"request": [], "check": []}
    for i in range(runs + WARMUP):
        for name, variant in (("plain", plain), ("events", evented)):
            activate(app, variant)
            phone = next(phones)
            t0 = time.perf_counter()
            assert call(app, "POST", "/v1/verifications", {"to": phone})["statusCode"] == 201
            t1 = time.perf_counter()
            request_calls = sqs_calls.take()
            code = latest_code()
            t2 = time.perf_counter()
            assert call(app, "POST", "/v1/verifications/check", {"to": phone, "code": code})["statusCode"] == 200
            t3 = time.perf_counter()
            check_calls = sqs_calls.take()
            if name == "events":
                per["request"].append(_ops(request_calls))
                per["check"].append(_ops(check_calls))
                sends = [c for c in request_calls + check_calls if c["operation"] == "SendMessage"]
                t4 = time.perf_counter()
                for send in sends:
                    raw_sqs.send_message(**send["params"])
                t5 = time.perf_counter()
            if i >= WARMUP:
                times[f"request_{name}"].append(t1 - t0)
                times[f"check_{name}"].append(t3 - t2)
                if name == "events":
                    times["send"].extend(c["end"] - c["start"] for c in sends)
                    times["raw_send"].append((t5 - t4) / max(1, len(sends)))
    raw_sqs.purge_queue(QueueUrl=raw_sqs.get_queue_url(QueueName=EVENTS_QUEUE)["QueueUrl"])
    med = {name: statistics.median(samples) for name, samples in times.items()}
    result: dict[str, Any] = {}
    for op in ("request", "check"):
        warm, share = _usual(per[op][1:])
        result[op] = {
            "app_ms": median_ms(times[f"{op}_events"]),
            "without_events_ms": median_ms(times[f"{op}_plain"]),
            "ratio": round(med[f"{op}_events"] / med[f"{op}_plain"], 3),
            "added_ms": round((med[f"{op}_events"] - med[f"{op}_plain"]) * 1000, 3),
            "sqs_calls_first": per[op][0],
            "sqs_calls": warm,
            "sqs_calls_share": share,
        }
    result["send_message_ms"] = median_ms(times["send"])
    result["raw_send_message_ms"] = median_ms(times["raw_send"])
    result["send_ratio"] = round(med["send"] / med["raw_send"], 3)
    return result
