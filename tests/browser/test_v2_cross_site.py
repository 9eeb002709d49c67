"""Issue 28 item 2 in Chromium: a page on another origin cannot write to /v2 with a key the
browser holds, and without a challenge the browser never sends the key it was given.

A browser that answered the Basic prompt once sends the key with every later request to the
API (Chromium's preemptive auth for the same protection space): an ``Authorization`` header
on every request of the context (``extra_http_headers``) stands for it. Playwright's
``http_credentials`` is a browser that holds the key and would answer a prompt: Chromium sends
it only in answer to a 401 that carries a challenge (its ``send: "always"`` applies to
APIRequestContext only: playwright.dev/python/docs/api/class-browser#browser-new-context).
"""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests

from scripts.local.run_local import free_port
from tests.integration.test_twilio_sdks import make_key


@pytest.fixture(scope="module")
def api(serve):
    return serve(forking=False)


@pytest.fixture(scope="module")
def key(dynamodb_endpoint):
    return make_key(dynamodb_endpoint)


@pytest.fixture(scope="module")
def attacker(api) -> Iterator[str]:
    """Another origin (another port of 127.0.0.1): a page with a plain form, no script, that
    posts to the API's /v2/Services, as a page a logged-in operator is lured to would."""
    page = (f'<!doctype html><title>Win a prize</title><form method="post" action="{api.url}/v2/Services">'
            '<input type="hidden" name="FriendlyName" value="Evil"><button>Claim</button></form>').encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _services(api, key) -> list[str]:
    response = requests.get(api.url + "/v2/Services", auth=(key["api_key_sid"], key["api_key_secret"]), timeout=30)
    assert response.status_code == 200, response.text
    return [s["sid"] for s in response.json()["services"]]


def _holding_the_key(browser, api, key):
    return browser.new_context(http_credentials={
        "username": key["api_key_sid"], "password": key["api_key_secret"], "origin": api.url})


def _sending_the_key(browser, key):
    token = base64.b64encode(f"{key['api_key_sid']}:{key['api_key_secret']}".encode()).decode()
    return browser.new_context(extra_http_headers={"Authorization": f"Basic {token}"})


def test_a_page_elsewhere_cannot_create_a_service_with_the_browsers_key(browser, api, key, attacker):
    before = _services(api, key)
    context = _sending_the_key(browser, key)
    try:
        page = context.new_page()
        # The operator's own look at the API (a URL typed in: Sec-Fetch-Site none) works.
        own = page.goto(api.url + "/v2/Services")
        assert own is not None and own.status == 200
        page.goto(attacker)
        with page.expect_response(lambda r: r.url == api.url + "/v2/Services" and r.request.method == "POST") as answer:
            page.click("button")
        response = answer.value
        assert response.status == 403, response.text()
        assert response.json()["code"] == 20403
        assert _services(api, key) == before  # no Service was created
    finally:
        context.close()


def test_without_a_challenge_the_browser_never_sends_the_key(browser, api, key, attacker):
    """Chromium holding the key sends it only when a 401 asks for it (with the challenge this
    look answered 200: the browser answered, and would then send the key unasked). The 401
    asks for nothing, so neither a look at the API nor another page's form post carries it."""
    before = _services(api, key)
    context = _holding_the_key(browser, api, key)
    try:
        page = context.new_page()
        answer = page.goto(api.url + "/v2/Services")
        assert answer is not None and answer.status == 401 and answer.json()["code"] == 20003
        assert "www-authenticate" not in answer.headers
        page.goto(attacker)
        with page.expect_response(lambda r: r.url == api.url + "/v2/Services" and r.request.method == "POST") as post:
            page.click("button")
        assert post.value.status == 403
        assert _services(api, key) == before
    finally:
        context.close()
