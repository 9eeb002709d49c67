"""`make run` (scripts/run_local.py) prints an API key for the v2 API, and Twilio's Python SDK
works with it against the local server, as docs/twilio-verify.md shows."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import requests

from scripts.run_local import free_port
from tests.conftest import ROOT


def test_make_run_prints_a_key_the_sdk_uses():
    from twilio.rest import Client

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "OTP_"))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run_local.py")], cwd=ROOT,
                            env={**env, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line, deadline = "", time.monotonic() + 60
        while "key for this run" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
        key = json.loads(re.search(r"\{.*\}", line).group(0))
        assert line.startswith(f"Twilio Verify (v2) API on http://127.0.0.1:{port}, key for this run: ")
        while True:  # the API is up once the page answers
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
        client.verify.base_url = f"http://127.0.0.1:{port}"
        service = client.verify.v2.services.create(friendly_name="Local", code_length=8)
        verification = client.verify.v2.services(service.sid).verifications.create(to="+14155552671", channel="sms")
        assert verification.status == "pending"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
