"""Servers for tests over real HTTP: dynalite (a DynamoDB implementation that locks per item)
and the app served by scripts/local/serve.py. Imported by the integration and browser conftests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Iterator

import pytest
import requests

from scripts.local.run_local import free_port, wait_for_port
from tests.conftest import ROOT, TABLE

DYNALITE = ROOT / ".deps" / "node_modules" / ".bin" / "dynalite"


class LiveServer:
    def __init__(self, url: str, log_path: Path) -> None:
        self.url = url
        self.log_path = log_path
        self.session = requests.Session()

    def post(self, path: str, json: dict) -> requests.Response:
        return requests.post(self.url + path, json=json, timeout=30)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=30)

    def last_sms(self, e164: str) -> str:
        """The first line of the newest SMS the console provider printed for ``e164``."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        lines = re.findall(rf"\[console SMS to {re.escape(e164)}\][^\n]*\n([^\n]*)", text)
        assert lines, f"no SMS to {e164} in the server log"
        return lines[-1]

    def last_code(self, e164: str, length: int = 6, label: str = "SMS") -> str:
        """The newest code the console provider printed for ``e164`` (an address for ``label``
        "email"; "WhatsApp" for WhatsApp): the first run of digits on its first line."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        codes = re.findall(
            rf"\[console {label} to {re.escape(e164)}\][^\n]*\n[^\n]*?\b([0-9]{{{length}}})\b", text, re.ASCII
        )
        assert codes, f"no {label} to {e164} in the server log"
        return codes[-1]


@pytest.fixture(scope="session")
def dynamodb_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not DYNALITE.exists():
        pytest.fail("dynalite is not installed: run `make test` (it installs it into .deps/)")
    port = free_port()
    log = open(tmp_path_factory.mktemp("dynalite") / "dynalite.log", "w")
    proc = subprocess.Popen([str(DYNALITE), "--port", str(port)], stdout=log, stderr=log)
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        import boto3

        from scripts.deploy.create_table import ensure_table

        ensure_table(boto3.client("dynamodb", endpoint_url=endpoint), TABLE)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


# The integration servers raise the per-IP limits (every request comes from 127.0.0.1) unless a
# test asks for them; tests use numbers no other test uses.
RELAXED = {
    "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "100000",
    "OTP_MAX_CHECKS_PER_IP_PER_HOUR": "100000",
    "OTP_MAX_SENDS_PER_HOUR": "100000",
    # 100 forked handlers on a shared 2-core machine wait seconds for a CPU: their budget is
    # the longest allowed, so starvation is not read as a hung dependency (test_faults.py
    # tests the default budget).
    "OTP_REQUEST_BUDGET_SECONDS": "19",
}


@pytest.fixture(scope="session")
def serve(dynamodb_endpoint: str, tmp_path_factory: pytest.TempPathFactory):
    """serve(**env) -> a LiveServer for the test stage plus ``env``, one per distinct env."""
    servers: dict[tuple, LiveServer] = {}
    procs = []

    def start(stage: str = "test", forking: bool = True, public_url: bool = False,
              **overrides: str) -> LiveServer:
        """``public_url``: OTP_PUBLIC_URL is the served URL, as `make run` sets it (the receipts'
        issuer is then the URL a client reaches)."""
        env_key = (stage, forking, public_url, *sorted(overrides.items()))
        if env_key in servers:
            return servers[env_key]
        import boto3

        from scripts.deploy.create_table import ensure_table

        stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
        table = overrides.get("OTP_TABLE_NAME") or stages[stage]["environment_variables"]["OTP_TABLE_NAME"]
        ensure_table(boto3.client("dynamodb", endpoint_url=dynamodb_endpoint), table)
        port = free_port()
        if public_url:
            overrides = {**overrides, "OTP_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        log_path = tmp_path_factory.mktemp("server") / "server.log"
        log = open(log_path, "w")
        env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint, "PYTHONUNBUFFERED": "1"}
        assignments = [f"--env={k}={v}" for k, v in {**RELAXED, **overrides}.items()]
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "local" / "serve.py"), "--stage", stage,
             "--port", str(port), *(["--forking"] if forking else []), *assignments],
            env=env, stdout=log, stderr=log, cwd=ROOT,
        )
        procs.append((proc, log))
        wait_for_port(port)
        servers[env_key] = LiveServer(f"http://127.0.0.1:{port}", log_path)
        return servers[env_key]

    yield start
    for proc, log in procs:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def live_server(serve) -> LiveServer:
    return serve()


@contextmanager
def moto_kms(stage: str) -> Iterator[dict[str, str]]:
    """moto's server as KMS on 127.0.0.1 with the stage's receipt and TOTP keys, as `make run`
    (scripts/local/run_local.py) makes them: the variables that point the app at it."""
    import boto3

    from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        kms = boto3.client("kms", endpoint_url=endpoint)
        yield {"AWS_ENDPOINT_URL_KMS": endpoint, "OTP_TOTP_KEY_ID": ensure_totp_key(kms, stage),
               "OTP_RECEIPT_KEY_IDS": ensure_receipt_key(kms, stage)}
    finally:
        server.terminate()
        server.wait(timeout=10)
