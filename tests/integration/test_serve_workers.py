"""scripts/local/serve.py's `--workers N` (warmed long-lived processes, the load test's server,
scripts/local/workers.py) and what every mode of it sends: one segment per response."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from scripts.local.run_local import free_port, wait_for_port
from scripts.local.workers import READY
from tests.conftest import ROOT
from tests.integration.conftest import unique_number
from tests.live import RELAXED, TABLE


def _start(dynamodb_endpoint: str, log_path, *mode: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local" / "serve.py"), "--stage", "test", "--port", str(port),
         *mode, *[f"--env={k}={v}" for k, v in RELAXED.items()]],
        env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=ROOT)
    wait_for_port(port)
    return proc, port


def test_workers_serve_connections_at_once_and_end_with_the_server(dynamodb_endpoint, tmp_path):
    log_path = tmp_path / "server.log"
    proc, port = _start(dynamodb_endpoint, log_path, "--workers=2")
    try:
        deadline = time.monotonic() + 60
        while log_path.read_text().count(READY) < 2:  # each worker warmed, then said so
            assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()[-2000:]
            time.sleep(0.05)
        # Two keep-alive connections, each held by its own worker: both answered, alternately.
        first, second = requests.Session(), requests.Session()
        url = f"http://127.0.0.1:{port}/v1/verifications"
        for seed in (4301, 4302):
            for session, offset in ((first, 0), (second, 10)):
                answer = session.post(url, json={"to": unique_number(seed + offset)}, timeout=30)
                assert answer.status_code == 201, answer.text
        assert "warm-up failed" not in log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    time.sleep(0.2)
    with pytest.raises(ConnectionRefusedError):  # no worker outlived the server on its socket
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize("mode", [["--forking"], ["--workers=1"]])
def test_a_response_leaves_in_one_segment(dynamodb_endpoint, tmp_path, mode):
    """Headers and body in one send: written in two, the body waited under Nagle's algorithm for
    the client's delayed ACK, about 40 ms on every response (docs/benchmarks.md's load run). The
    first read after the request must hold the whole response."""
    proc, port = _start(dynamodb_endpoint, tmp_path / "server.log", *mode)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(b"GET /no-such-path HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            received = connection.recv(65536)
        head, _, body = received.partition(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        assert length > 0 and len(body) == length, received
    finally:
        proc.terminate()
        proc.wait(timeout=10)


_FIRST_REQUEST = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {root!r})
    from bench.harness import call, latest_code
    import app
    from chalicelib import wiring
    from scripts.local import workers

    wiring.get_service()
    workers.warm_before_fork()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # a worker: warmed, then its first start and check
        workers.warm_after_fork()
        before = set(sys.modules)
        start = call(app, "POST", "/v1/verifications", {{"to": {number!r}}})["statusCode"]
        check = call(app, "POST", "/v1/verifications/check",
                     {{"to": {number!r}, "code": latest_code()}})["statusCode"]
        os.write(writer, json.dumps([start, check, sorted(set(sys.modules) - before)]).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    print("RESULT", os.read(reader, 1 << 20).decode())
""")


def test_a_warmed_worker_imports_nothing_on_its_first_start_and_check(dynamodb_endpoint):
    """What the first request of a worker would import is imported before the fork
    (workers.FIRST_USE_MODULES): a module the routes start importing lazily fails here by name."""
    env = {**os.environ, **RELAXED, "OTP_STAGE": "test", "OTP_TABLE_NAME": TABLE, "SMS_PROVIDER": "console",
           "OTP_SECRET": "test-secret-0123456789abcdef0123456789", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    script = _FIRST_REQUEST.format(root=str(ROOT), number=unique_number(4311))
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, result.stdout[-2000:] + result.stderr[-2000:]
    start, check, imported = json.loads(line.removeprefix("RESULT "))
    assert (start, check) == (201, 200)
    assert imported == [], f"add to scripts/local/workers.py's FIRST_USE_MODULES: {imported}"
