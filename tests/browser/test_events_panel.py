"""The page under `make run` (scripts/local/run_local.py itself, moto's server with its table's
stream): the inbox panel's "Events to your backend" list shows what the backend would get, in
Chromium, with no script error or CSP violation (the page fixture fails on either)."""

from __future__ import annotations

import json
import re
from typing import Iterator

import pytest
import requests
from playwright.sync_api import expect

from scripts.local.run_local import free_port, wait_for_port
from tests.browser.conftest import shoot
from tests.integration.test_local_events import _make_run, _stop


@pytest.fixture(scope="module")
def make_run() -> Iterator[str]:
    port = free_port()
    proc = _make_run(port)
    try:
        wait_for_port(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def test_the_panel_lists_the_streams_events_newest_first(make_run, page):
    page.goto(make_run + "/")
    events = page.locator("#events li")
    events.first.wait_for()
    assert events.first.inner_text() == "No events yet."
    started = requests.post(make_run + "/v1/verifications", json={"to": "+14155552673"}, timeout=10).json()
    shown = page.locator("#events li", has_text="verification.started")
    shown.first.wait_for(timeout=15_000)  # the page polls /dev/events.json every second
    assert events.count() == 1
    # A line a person reads: the time, the type, the channel, the masked recipient, the status.
    line = shown.first.locator(".event")
    expect(line).to_have_text(re.compile(r"^\d\d:\d\d:\d\d verification\.started · sms · \+1415\*\*\*\*\*73 · pending$"))
    got = requests.get(make_run + "/dev/events.json", timeout=10).json()
    assert line.locator("time").get_attribute("datetime") == got[0]["timestamp"]
    # The JSON one click away, as the backend gets it.
    json_view = shown.first.locator("details pre")
    expect(json_view).to_be_hidden()
    shown.first.get_by_text("JSON", exact=True).click()
    expect(json_view).to_be_visible()
    assert json.loads(json_view.inner_text())["data"]["id"] == started["id"]
    page.wait_for_timeout(1500)  # a refresh of the list keeps it open
    expect(shown.first.locator("details pre")).to_be_visible()
    shoot(page, "events-panel")
