"""The pumping scenario: a bot walks 1,000 adjacent numbers from 1,000 IPs."""

from __future__ import annotations

from tests.conftest import reset_app

import json

import pytest

from tests.conftest import ROOT, FakeClock
from chalicelib import wiring


@pytest.fixture
def client_on_dynalite(dynamodb_endpoint, monkeypatch, stage_env):
    """The app in-process (chalice's test client) on dynalite: fast enough for 1,000 requests."""
    from chalice.test import Client

    import app as app_module

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    reset_app()
    # A fixed clock in the middle of an hour: the limits count in hourly windows, and on the
    # real clock a run that crosses the hour starts a second window (20 SMS instead of 10).
    monkeypatch.setattr(wiring.get_service(), "_clock", FakeClock(1_800_001_800.0))
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
        yield client
    reset_app()


def test_a_bot_walking_a_prefix_from_rotating_ips_is_stopped(client_on_dynalite, monkeypatch):
    from chalice.local import LambdaEventConverter

    from chalicelib.channels.providers.console import OUTBOX

    OUTBOX.clear()
    outcomes: dict[str, int] = {}
    for i in range(1000):
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", f"10.{i // 250}.{i % 250}.1")
        response = client_on_dynalite.http.post(
            "/v1/verifications", headers={"content-type": "application/json"},
            body=json.dumps({"to": f"+16502530{i:03d}"}),
        )
        body = json.loads(response.body)
        key = str(response.status_code) if response.status_code < 400 else body["error"]["code"]
        outcomes[key] = outcomes.get(key, 0) + 1
    sent = sum(1 for m in OUTBOX if m["to"].startswith("+16502530"))
    print(f"\nbot walked +16502530000..999 from 1,000 IPs: {sent} SMS sent; answers {outcomes}")
    # The prefix's conversion breaker (10 sends, none approved) trips before its rate limit (20).
    assert sent == 10
    assert outcomes == {"201": 10, "prefix_suspended": 990}
