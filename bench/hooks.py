"""The identity platforms' row of `make bench` (issue 32): Supabase's Send SMS Hook through the
Lambda handler (its Standard Webhooks signature checked on the raw body, the webhook-id
remembered, a custom-code start, the send through the webhook provider to a receiver faked on
127.0.0.1), against its floor: the same DynamoDB calls replayed by hand (bench/floor.py) and the
bare provider call (the same signed POST to the same receiver), nothing else.

    python bench/hooks.py [RUNS]   # this section alone (200 runs by default), its JSON printed"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

if __name__ == "__main__":  # python bench/hooks.py: the project on the path, as bench/run.py puts it
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import floor  # noqa: E402
from bench.events import Context, api_event  # noqa: E402
from bench.harness import Dynalite, FakeProvider, build_app, numbers, send_against_floor  # noqa: E402
from chalicelib import wiring  # noqa: E402

WARMUP = 10
KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()
PATH = "/v1/hooks/supabase/send-sms"


def _signed_event(phone: str, code: str, n: int) -> dict[str, Any]:
    """Supabase's request as supabase/auth sends it (hookshttp.go): its body, signed."""
    from chalicelib.channels.providers.webhook import sign

    body = json.dumps({"user": {"id": f"u{n}", "phone": phone[1:]}, "sms": {"otp": code}}).encode()
    message_id, stamp = f"msg_bench_{n}_{time.time_ns()}", int(time.time())
    headers = {"content-type": "application/json", "webhook-id": message_id,
               "webhook-timestamp": str(stamp), "webhook-signature": sign(KEY, message_id, stamp, body)}
    event = api_event("POST", PATH, None)
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["body"] = body.decode()
    return event


def supabase_send(db: Dynalite, runs: int) -> dict[str, Any]:
    import requests

    from chalicelib.channels.providers.webhook import sign

    receiver = FakeProvider(b"{}", "/sms")  # the webhook provider's receiver: 200 {}
    table = db.table("bench-hooks")
    try:
        app = build_app(db.endpoint, table, SMS_PROVIDER="webhook", WEBHOOK_URL=receiver.url,
                        WEBHOOK_SECRET=SECRET, OTP_HOOK_SUPABASE_SECRET="v1," + SECRET)
        calls = floor.capture(wiring.get_service()._store._client)
        phones = numbers(70_000, runs + WARMUP + 1)
        first = app.app(_signed_event(phones[0], "482913", 0), Context())
        assert first["statusCode"] == 200 and first["body"] == "{}", first
        recorded = floor.waves(calls.take())
        client, session = db.client(), requests.Session()
        timings: dict[str, list[float]] = {"app": [], "floor": [], "post": []}
        for i, phone in enumerate(phones[1:]):
            event = _signed_event(phone, f"{100000 + i}", i + 1)
            t0 = time.perf_counter()
            answer = app.app(event, Context())
            t1 = time.perf_counter()
            assert answer["statusCode"] == 200 and answer["body"] == "{}", answer
            calls.take()
            floor.replay(client, recorded, table, floor.fresh_number_pk())
            t2 = time.perf_counter()
            body = json.dumps({"type": "sms", "to": phone, "code": f"{100000 + i}"}).encode()
            stamp, message_id = int(time.time()), f"msg_floor_{i}"
            session.post(receiver.url, data=body, timeout=5, headers={
                "content-type": "application/json", "webhook-id": message_id, "webhook-timestamp": str(stamp),
                "webhook-signature": sign(KEY, message_id, stamp, body)}).raise_for_status()
            t3 = time.perf_counter()
            if i >= WARMUP:
                timings["app"].append(t1 - t0)
                timings["floor"].append(t3 - t1)
                timings["post"].append(t3 - t2)
    finally:
        receiver.stop()
    return send_against_floor(timings, recorded)


def main(runs: int = 200) -> dict[str, Any]:
    """The section alone, as bench/run.py runs it: its environment, the app's output silenced."""
    import os
    import sys

    from bench.harness import BENCH_ENV

    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(BENCH_ENV)
    real_stdout, real_stderr = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = open(os.devnull, "w")
    db = Dynalite()
    try:
        return supabase_send(db, runs)
    finally:
        db.stop()
        sys.stdout.close()
        sys.stdout, sys.stderr = real_stdout, real_stderr


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200), indent=2))
