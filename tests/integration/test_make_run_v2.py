"""`make run` (scripts/local/run_local.py) prints an API key for the v2 API, and Twilio's Python SDK
works with it against the local server, as docs/twilio-verify.md shows."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time

import requests

from scripts.local.run_local import free_port
from tests.conftest import ROOT


def test_make_run_prints_a_key_the_sdk_uses():
    from twilio.rest import Client

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "OTP_"))}
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "local" / "run_local.py")], cwd=ROOT,
                            env={**env, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line, deadline = "", time.monotonic() + 60
        while "key for this run" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
        key = json.loads(re.search(r"\{.*\}", line).group(0))
        assert line.startswith(f"Twilio Verify (v2) API on http://127.0.0.1:{port}, key for this run: ")
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("Or Client(account_sid, auth_token), auth token for this run: "), line
        token = json.loads(re.search(r"\{.*\}", line).group(0))
        assert token["account_sid"] == key["account_sid"] and re.fullmatch(r"[0-9a-f]{32}", token["auth_token"])
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
        account = Client(token["account_sid"], token["auth_token"])  # as Twilio's quickstarts hold it
        account.verify.base_url = f"http://127.0.0.1:{port}"
        assert account.verify.v2.services(service.sid).verifications(verification.sid).fetch().status == "pending"
        # docs/configuration.md, docs/receipts.md: under `make run` the receipts' issuer (and
        # audience) is http://127.0.0.1:$PORT, not the local stage's default http://localhost:8000.
        base, to = f"http://127.0.0.1:{port}", "+14155552672"
        assert requests.post(base + "/v1/verifications", json={"to": to}, timeout=30).status_code == 201
        inbox = requests.get(base + "/dev/inbox.json", timeout=30).json()
        sms = next(m["body"] for m in inbox if m["to"] == to)
        code = re.search(r"\b[0-9]{6}\b", sms)[0]  # type: ignore[index]
        check = requests.post(base + "/v1/verifications/check", json={"to": to, "code": code}, timeout=30)
        receipt = check.json()["receipt"]
        claims = json.loads(base64.urlsafe_b64decode(receipt.split(".")[1] + "=="))
        assert (claims["iss"], claims["aud"]) == (base, base)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- issue 28 item 3: scripts/local/serve.py routes as API Gateway does, and repeats no credential --


def test_no_credential_comes_back_from_a_path_or_method_that_is_no_route(serve, dynamodb_endpoint):
    """Credentials of every kind to paths that are no route and to wrong methods, v1 and v2:
    no body, header or server log line holds them; unknown /v2 paths are Twilio's 404 20404.
    (chalice local answers such a path with a 403 that repeats the Authorization header.)"""
    from tests.unit.test_v2_door import CREDENTIALS, NEEDLES

    server = serve(stage="test", forking=False)
    requests_ = [("GET", "/v2/Nope"), ("POST", "/v2/Services/VA" + "0" * 32 + "/Nope/Deeper"),
                 ("DELETE", "/v2/Services"), ("PUT", "/v1/verifications"), ("GET", "/v1/nope/deeper"),
                 ("POST", "/nope"), ("PATCH", "/v1/totp/factors")]
    for credential in CREDENTIALS:
        for method, path in requests_:
            response = requests.request(method, server.url + path, headers=credential, data=b"To=x",
                                        timeout=30)
            text = response.text + json.dumps(dict(response.headers))
            assert response.status_code in (404, 405) and not [n for n in NEEDLES if n in text], (method, path, text)
            body = response.json()
            if path.startswith("/v2/Nope") or path.endswith("/Nope/Deeper"):
                assert response.status_code == 404 and body["code"] == 20404 and body["status"] == 404
            elif path.startswith("/v2/"):  # a route's path, another method: Twilio's 405, as deployed
                assert response.status_code == 405 and body["code"] == 20004
                assert response.headers["Allow"] == "GET, POST"
            elif not path.startswith("/v2/"):
                assert set(body) == {"error"}, body
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "GET /v2/{proxy+}" in log or "/v2/{proxy+}" in log  # the requests were logged, by route
    assert not [n for n in NEEDLES if n in log]


def test_the_sdks_exception_for_a_wrong_base_url_holds_no_secret(serve, dynamodb_endpoint):
    """The SDK puts the answer's message into its exception, which apps log: a wrong base URL
    (a path that is no route, under /v2 or not) must not put the key's secret there."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    from tests.integration.test_twilio_sdks import make_key

    server = serve(stage="test", forking=False)
    key = make_key(dynamodb_endpoint)
    client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
    for base in (server.url + "/nope", server.url + "/v2/typo"):
        client.verify.base_url = base
        try:
            client.verify.v2.services.create(friendly_name="Acme")
        except TwilioRestException as exc:
            text = str(exc) + repr(exc.details) + exc.msg
        else:
            raise AssertionError(f"{base}: created")
        token = base64.b64encode(f"{key['api_key_sid']}:{key['api_key_secret']}".encode()).decode()
        assert key["api_key_secret"] not in text and token not in text, text
