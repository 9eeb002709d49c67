"""`make run` serves with scripts/local/serve.py's threads and one app call at a time per process (not
`chalice local`'s unguarded threads): twenty concurrent starts on one number, no 500."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import unique_number


def test_twenty_concurrent_starts_on_one_number_under_make_runs_server(serve):
    server = serve(forking=False)  # as scripts/local/run_local.py starts it
    number = unique_number(41)
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(lambda _: server.post("/v1/verifications", {"to": number}), range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [429] * 19, statuses  # one creates, the others are too soon
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {"resend_too_soon"}
    assert server.log_path.read_text().count(f"[console SMS to {number}]") == 1


def test_make_runs_server_makes_one_app_call_at_a_time(serve):
    """Chalice keeps the current request on the app object, so the threaded server holds a lock
    around each app call. chalice's handler binds do_GET, do_POST, ... to its own method, so an
    override of that method alone was never called: twenty concurrent starts ran at once. Each
    request's log line says when it ended and how long it took; no two may overlap."""
    server = serve(forking=False, OTP_LOG_FORMAT="json")
    numbers = [unique_number(4321 + i) for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda n: server.post("/v1/verifications", {"to": n}).status_code, numbers))
    assert statuses == [201] * 20, statuses
    spans = _intervals(server.log_path.read_text(), "POST /v1/verifications")
    assert len(spans) >= 20
    # The log's timestamps are to the millisecond: 2 ms of slack on each side.
    overlaps = [(a, b) for a, b in zip(spans, spans[1:]) if b[0] < a[1] - 0.002]
    assert not overlaps, f"{len(overlaps)} app calls began before the one before them ended"


def _intervals(log_text: str, route: str) -> list[tuple[float, float]]:
    spans = []
    for line in log_text.splitlines():
        if line.startswith("{") and f'"route": "{route}"' in line:
            entry = json.loads(line)
            spans.append((entry["timestamp"] - entry["latency_ms"] / 1000, entry["timestamp"]))
    return sorted(spans)
