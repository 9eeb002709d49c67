"""`make run` (scripts/local/run_local.py, as the Makefile runs it) with OTP_EVENTS_URL: the local
table's stream on moto's server is polled by the API's process and each event reaches the
backend, signed; without the URL, the page's panel lists them (/dev/events.json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import requests

from chalicelib.events import standard_webhooks
from scripts.local.run_local import free_port, wait_for_port
from tests.conftest import ROOT
from tests.unit.test_events import SECRET, Receiver


def _make_run(port: int, **env: str) -> subprocess.Popen:
    variables = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "OTP_"))}
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "local" / "run_local.py")], cwd=ROOT,
                            env={**variables, "PORT": str(port), "PYTHONUNBUFFERED": "1", **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _until(predicate, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not within the time")


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def test_make_run_posts_the_streams_events_to_the_backend():
    receiver = Receiver()
    port = free_port()
    proc = _make_run(port, OTP_EVENTS_URL=receiver.url, OTP_EVENTS_SECRET=SECRET)
    try:
        wait_for_port(port, timeout=60)
        answer = requests.post(f"http://127.0.0.1:{port}/v1/verifications", json={"to": "+14155552671"}, timeout=10)
        assert answer.status_code == 201, answer.text
        _until(lambda: receiver.received)
        headers, body = receiver.received[0]
        standard_webhooks.verify(SECRET, headers, body)
        event = json.loads(body)
        assert event["type"] == "verification.started" and event["data"]["id"] == answer.json()["id"]
    finally:
        _stop(proc)


def test_make_run_lists_the_events_on_the_page_without_a_url():
    port = free_port()
    proc = _make_run(port)
    try:
        wait_for_port(port, timeout=60)
        base = f"http://127.0.0.1:{port}"
        answer = requests.post(f"{base}/v1/verifications", json={"to": "+14155552671"}, timeout=10)
        assert answer.status_code == 201, answer.text
        shown = _until(lambda: requests.get(f"{base}/dev/events.json", timeout=5).json())
        assert shown[0]["type"] == "verification.started" and shown[0]["data"]["id"] == answer.json()["id"]
        assert 'id="events"' in requests.get(base + "/", timeout=5).text
    finally:
        _stop(proc)
