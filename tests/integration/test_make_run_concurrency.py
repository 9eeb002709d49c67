"""`make run` serves with scripts/local/serve.py's threads and one app call at a time per process (not
`chalice local`'s unguarded threads): twenty concurrent starts on one number, no 500."""

from __future__ import annotations

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
