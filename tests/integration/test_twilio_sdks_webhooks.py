"""Issue 33's Service Webhooks through twilio-python and twilio-node, unchanged: create, list,
fetch, update and delete against the served API (scripts/local/serve.py) and dynalite; and,
under `make run` (scripts/local/run_local.py: moto's server, whose table has a stream the API's
process polls as Lambda's mapping does), a webhook receives ``verification.approved`` and
``factor.created`` signed so that twilio-python's ``RequestValidator`` and twilio-node's
``validateRequestWithBody`` / ``validateRequest`` accept them with the account's auth token,
and a tampered body fails both."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests

from scripts.local.run_local import free_port
from tests.conftest import ROOT
from tests.integration.test_twilio_sdks import NODE_SDK, _node, fresh_auth_token, key, sdk  # noqa: F401 (fixtures)
from tests.unit.test_twilio_webhooks_delivery import Receiver

HOOK = "https://backend.example.com/twilio/verify"


@pytest.fixture(scope="module")
def server(serve, dynamodb_endpoint):
    fresh_auth_token(dynamodb_endpoint)  # a webhook needs the account's auth token to be signed with
    return serve(OTP_TWILIO_WEBHOOKS="true")


def test_twilio_python_drives_webhooks(server, key):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    service = client.verify.v2.services.create(friendly_name="Hooks")
    other = client.verify.v2.services.create(friendly_name="Other")
    webhooks = client.verify.v2.services(service.sid).webhooks
    made = webhooks.create(
        friendly_name="backend", event_types=["factor.verified", "challenge.approved"], webhook_url=HOOK
    )
    assert made.sid.startswith("YW") and len(made.sid) == 34 and made.service_sid == service.sid
    assert (made.event_types, made.status, made.version, made.webhook_method, made.webhook_url) == (
        ["factor.verified", "challenge.approved"],
        "enabled",
        "v2",
        "POST",
        HOOK,
    )
    updated = webhooks(made.sid).update(
        status="disabled", resource_version="v1", event_types=["*", "verification.*"]
    )
    assert (updated.status, updated.version, updated.event_types) == (
        "disabled",
        "v1",
        ["*", "verification.*"],
    )
    assert updated.friendly_name == "backend"
    assert [w.sid for w in webhooks.list()] == [made.sid]
    assert webhooks(made.sid).fetch().url.endswith(f"/v2/Services/{service.sid}/Webhooks/{made.sid}")
    with pytest.raises(TwilioRestException) as bad:
        webhooks.create(friendly_name="x", event_types=["factor.updated"], webhook_url=HOOK)
    assert (bad.value.status, bad.value.code) == (400, 60306)
    with pytest.raises(TwilioRestException) as foreign:
        client.verify.v2.services(other.sid).webhooks(made.sid).fetch()
    assert (foreign.value.status, foreign.value.code) == (404, 20404)
    assert webhooks(made.sid).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        webhooks(made.sid).fetch()
    assert gone.value.code == 20404


def test_twilio_node_drives_webhooks(server, key):  # noqa: F811
    seen = _node("twilio_node_webhooks.js", server, key, HOOK_URL=HOOK)
    assert seen == {
        "created": ["YW", True, ["factor.verified", "challenge.approved"], "enabled", "v2", "POST", True],
        "updated": ["disabled", "v1", ["*", "verification.*"], "backend"],
        "listed": [True],
        "fetched": True,
        "bad_type": 60306,
        "foreign": 20404,
        "deleted": True,
        "gone": 20404,
    }


def _node_validates(deliveries: list[dict]) -> list[bool]:
    if shutil.which("node") is None or not NODE_SDK.exists():
        pytest.fail("twilio-node is missing: run `make test` (it installs it into .deps/)")
    run = subprocess.run(
        ["node", str(ROOT / "tests" / "integration" / "twilio_node_validate.js")],
        input=json.dumps(deliveries),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(ROOT / ".deps" / "node_modules")},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return list(json.loads(run.stdout))


def _until(predicate, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("not within the time")


def test_make_run_delivers_signed_webhooks_both_sdks_validate():
    from twilio.request_validator import RequestValidator
    from twilio.rest import Client

    receiver = Receiver()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "OTP_"))}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "local" / "run_local.py")],
        cwd=ROOT,
        env={**env, "PORT": str(port), "PYTHONUNBUFFERED": "1", "OTP_TWILIO_WEBHOOKS": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line, deadline = "", time.monotonic() + 60
        while "key for this run" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
        key = json.loads(re.search(r"\{.*\}", line).group(0))  # type: ignore[union-attr]
        line = proc.stdout.readline() if proc.stdout else ""
        token = json.loads(re.search(r"\{.*\}", line).group(0))["auth_token"]  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        _until(lambda: _answers(base))
        client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
        client.verify.base_url = base
        service = client.verify.v2.services.create(friendly_name="Hooks")
        client.verify.v2.services(service.sid).webhooks.create(
            friendly_name="backend",
            event_types=["factor.created", "verification.approved"],
            webhook_url=receiver.url,
        )
        to = "+14155552671"
        client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
        inbox = requests.get(base + "/dev/inbox.json", timeout=30).json()
        code = re.search(r"\b[0-9]{6}\b", next(m["body"] for m in inbox if m["to"] == to))[0]  # type: ignore[index]
        assert (
            client.verify.v2.services(service.sid).verification_checks.create(to=to, code=code).status
            == "approved"
        )
        client.verify.v2.services(service.sid).entities(
            "ff483d1ff591898a9942916050d2ca3f"
        ).new_factors.create(friendly_name="Alice's phone", factor_type="totp")
        _until(lambda: len(receiver.received) >= 2)
        assert sorted(receiver.types()) == ["factor.created", "verification.approved"]
        deliveries = []
        for path, headers, raw in receiver.received:
            url, signature = receiver.base + path, headers["x-twilio-signature"]
            is_json = headers["content-type"] == "application/json"
            from urllib.parse import parse_qsl

            body: object = raw.decode() if is_json else dict(parse_qsl(raw.decode()))
            assert RequestValidator(token).validate(url, body, signature)
            tampered = raw.replace(b"approved", b"canceled").replace(b"totp", b"push")
            tampered_body: object = tampered.decode() if is_json else dict(parse_qsl(tampered.decode()))
            assert not RequestValidator(token).validate(url, tampered_body, signature)
            for text in (raw.decode(), tampered.decode()):
                deliveries.append(
                    {"token": token, "signature": signature, "url": url, "body": text, "json": is_json}
                )
        assert _node_validates(deliveries) == [True, False, True, False]
        assert code not in "".join(raw.decode() for _, _, raw in receiver.received)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _answers(base: str) -> bool:
    try:
        requests.get(base + "/", timeout=2)
        return True
    except requests.ConnectionError:
        return False
