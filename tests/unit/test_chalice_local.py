"""`chalice local` serves each request on its own thread (chalice.local.ThreadedHTTPServer), and
Chalice keeps the request being handled on the app object (``app.current_request``): on Lambda
one request at a time per container, under those threads a request's view read another's body.
The app keeps it per thread (chalicelib/http.py ``App``), so `chalice local` is safe to use, and
`make run` (scripts/local/serve.py) still serves one request at a time per process, as Lambda does."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import ROOT


def test_each_thread_sees_its_own_current_request():
    import app as app_module

    app, barrier, seen = app_module.app, threading.Barrier(2), {}

    def handle(name: str) -> None:
        app.current_request = name  # type: ignore[assignment]  (what Chalice.__call__ does)
        barrier.wait()  # both set before either reads, as two threads of chalice local can
        seen[name] = app.current_request

    threads = [threading.Thread(target=handle, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"first": "first", "second": "second"}


def test_twenty_concurrent_starts_under_chalice_locals_threaded_server(service, outbox, monkeypatch):
    """chalice local's own server and handler (chalice.local), in-process, twenty starts at once,
    each for its own number: each answer is its own request's. (This one passed before the fix
    too: the window is short on an idle machine; the test above shows the race itself.)"""
    from chalice.cli.factory import CLIFactory
    from chalice.local import LocalDevServer

    import app as app_module

    config = CLIFactory(str(ROOT)).create_config_obj(chalice_stage_name="test")
    server = LocalDevServer(app_module.app, config, "127.0.0.1", 0)
    port = server.server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        numbers = [f"+1415{300 + i:03d}0000" for i in range(20)]  # each in its own prefix

        def start(number: str) -> tuple[str, int, dict]:
            url = f"http://127.0.0.1:{port}/v1/verifications"
            response = requests.post(url, data=json.dumps({"to": number}),
                                     headers={"content-type": "application/json"}, timeout=30)
            return number, response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(start, numbers))
    finally:
        server.shutdown()
    assert sorted(status for _, status, _ in answers) == [201] * 20, answers
    assert all(body["to"] == number for number, _, body in answers), answers
