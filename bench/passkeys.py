"""Section 12 of `make bench` (issue 34): a passkey approval (POST /v1/passkeys/challenges/approve)
against its floor, its own DynamoDB and KMS calls replayed by hand on a copy of the identity's
item (so the replayed write's conditions, the challenge pending and the counter as read, hold as
the app's did); and the verifier's own time per algorithm (ES256, EdDSA, RS256: pure Python,
``ecdsa`` and ``rsa``), beside py_webauthn's on ``cryptography`` for scale.

As sections 7 to 9 (bench/approvals.py): dynalite and moto's KMS on 127.0.0.1, medians after
WARMUP rounds, the app's answer and its floor interleaved round by round."""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

from bench import floor
from bench.events import Context, api_event
from bench.harness import Dynalite, MotoServer, build_app, median_ms
from chalicelib import wiring

WARMUP = 10
NUMBER = "+14155550199"
HOST = "localhost:8000"
ALGORITHMS = {"ES256": -7, "EdDSA": -8, "RS256": -257}


def _call(app: Any, path: str, body: dict) -> dict:
    event = api_event("POST", path, body)
    event["headers"] = {**event["headers"], "host": HOST, "origin": f"http://{HOST}"}
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    return app.app(event, Context())


def verify_times(runs: int) -> dict[str, Any]:
    """verify_assertion's time per algorithm (its signature check is most of it), and
    py_webauthn's for the same assertion."""
    import webauthn as py_webauthn

    from chalicelib.passkeys.webauthn import b64url, verify_assertion, verify_registration
    from tests.passkey_authenticator import SoftAuthenticator

    found: dict[str, Any] = {}
    for name, alg in ALGORITHMS.items():
        authenticator = SoftAuthenticator(alg=alg, origin=f"http://{HOST}", rp_id="localhost", sign_count=1)
        challenge = os.urandom(32)
        options = {"challenge": b64url(challenge), "rp": {"id": "localhost"}, "user": {"id": b64url(b"u")}}
        key = verify_registration(authenticator.create(options), challenge=challenge,
                                  origins=[f"http://{HOST}"], rp_id="localhost").public_key
        ours, theirs = [], []
        for i in range(runs + WARMUP):
            assertion = authenticator.get({**options, "rpId": "localhost"})
            count = authenticator.sign_count - 1
            t0 = time.perf_counter()
            verify_assertion(assertion, challenge=challenge, origins=[f"http://{HOST}"], rp_id="localhost",
                             public_key=key, sign_count=count)
            t1 = time.perf_counter()
            py_webauthn.verify_authentication_response(
                credential=assertion, expected_challenge=challenge, expected_origin=f"http://{HOST}",
                expected_rp_id="localhost", credential_public_key=key, credential_current_sign_count=count)
            t2 = time.perf_counter()
            if i >= WARMUP:
                ours.append(t1 - t0)
                theirs.append(t2 - t1)
        found[name] = {"verify_ms": median_ms(ours), "py_webauthn_ms": median_ms(theirs)}
    return found


def approvals(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    from scripts.keys.kms import ensure_receipt_key
    from tests.passkey_authenticator import SoftAuthenticator

    table = db.table("bench-passkeys")
    app = build_app(db.endpoint, table, OTP_RECEIPT_KEY_IDS=ensure_receipt_key(moto.client("kms"), "bench"),
                    OTP_PASSKEY_MAX_PER_IP_PER_HOUR="100000", OTP_PASSKEY_MAX_PER_NUMBER_PER_HOUR="1000")
    passkeys = wiring.get_passkeys()
    from chalicelib.passkeys.page import page_party

    rp = page_party(wiring.get_config(), {"host": HOST})
    authenticator = SoftAuthenticator(origin=f"http://{HOST}", rp_id="localhost", sign_count=1)
    _, options = passkeys.register(NUMBER, NUMBER, "bench", rp)
    passkeys.verify_registration(authenticator.create(options), rp)
    dynamodb, kms = wiring.get_service()._store._client, wiring._kms_client()
    clients = {"dynamodb": db.client(), "kms": moto.client("kms")}  # the floor's
    pk = "t#" + passkeys.identity_key(NUMBER)
    floor_pk = "t#floor" + pk[7:]
    db_calls, kms_calls = floor.capture(dynamodb), floor.capture(kms)

    def rewrite(recorded: dict[str, Any]) -> dict[str, Any]:
        params = floor.fresh_token(dict(recorded["params"]))
        if recorded["service"] == "dynamodb" and params.get("Key", {}).get("pk", {}).get("S") == pk:
            params["Key"] = {"pk": {"S": floor_pk}}
        return params

    times: dict[str, list[float]] = {"app": [], "floor": []}
    per_approval: list[list[str]] = []
    for i in range(runs + WARMUP):
        challenge = _call(app, "/v1/passkeys/challenges", {"to": NUMBER})
        assert challenge["statusCode"] == 201, challenge
        assertion = authenticator.get(json.loads(challenge["body"])["public_key"])
        key = {"pk": {"S": pk}}
        item = clients["dynamodb"].get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        clients["dynamodb"].put_item(TableName=table, Item={**item, "pk": {"S": floor_pk}})
        db_calls.take(), kms_calls.take()
        t0 = time.perf_counter()
        answer = _call(app, "/v1/passkeys/challenges/approve", {"credential": assertion})
        t1 = time.perf_counter()
        assert answer["statusCode"] == 200, answer
        calls = db_calls.take() + kms_calls.take()
        ordered = sorted(calls, key=lambda c: c["start"])
        per_approval.append([f"{c['service']}:{c['operation']}" for c in ordered])
        t2 = time.perf_counter()
        floor.replay_calls(clients, floor.waves(calls), rewrite)
        t3 = time.perf_counter()
        if i >= WARMUP:
            times["app"].append(t1 - t0)
            times["floor"].append(t3 - t2)
    warm = max(set(map(tuple, per_approval[1:])), key=per_approval[1:].count)
    return {
        "approve_ms": median_ms(times["app"]),
        "floor_ms": median_ms(times["floor"]),
        "ratio": round(statistics.median(times["app"]) / statistics.median(times["floor"]), 3),
        "calls_first_approval": per_approval[0],
        "calls_per_approval": list(warm),
    }


def section(db: Dynalite, moto: MotoServer, runs: int) -> dict[str, Any]:
    return {"approve": approvals(db, moto, runs), "verify": verify_times(runs)}
