"""The page with JavaScript turned off, in Chromium at both sizes the layout tests use: the
forms post to the form routes (docs/api.md#the-form-routes-request-auth-and-validate-auth), which
answer a browser with pages of their own: start, read the code in the local inbox, check, see
the number verified. And a page on another origin, or a sandboxed frame (Origin: null), that
posts the same form is still refused (docs/security.md, the doors and origins)."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import requests
from playwright.sync_api import expect

from scripts.local.run_local import free_port
from tests.browser.conftest import shoot
from tests.browser.test_layout import SIZES, fits


@pytest.fixture(params=list(SIZES))
def no_js(request, browser):
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height}, java_script_enabled=False,
                                  is_mobile=width < 400, device_scale_factor=2 if width < 400 else 1)
    page = context.new_page()
    page.size = request.param  # type: ignore[attr-defined]
    yield page
    context.close()


def test_the_whole_flow_without_javascript(no_js, site):
    page = no_js
    line = 3000 + (100 if page.size == "360x740" else 0)
    national, e164 = f"415 555 {line}", f"+1415555{line}"
    page.goto(site.url + "/")
    fits(page)  # nothing wider than the screen, no label or button on two lines (Playwright's
    # own evaluation runs with the page's scripts off)
    expect(page.get_by_role("group", name="Send the code by")).to_be_hidden()  # SMS only: the form routes' channel
    expect(page.get_by_role("tablist")).to_be_hidden()  # the Authenticator app tab needs the script
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()  # WebAuthn needs it too
    page.get_by_label("Phone number").fill(national)
    with page.expect_response(lambda r: r.url.endswith("/request-auth")) as posted:
        page.get_by_role("button", name="Send code", exact=True).click()
    assert posted.value.status == 200, posted.value.text()
    expect(page.locator("#sent-to")).to_have_text(f"We sent a code to {e164[:5]}*****{e164[-2:]}.")
    fits(page)
    shoot(page, f"no-js-code-step-{page.size}")

    # The local inbox, in a second tab: rendered by the server, so it reads without a script.
    inbox = page.context.new_page()
    inbox.goto(site.url + "/dev/inbox")
    message = inbox.locator("#inbox li", has_text=e164).first
    expect(message).to_be_visible()
    found = re.search(r"\b([0-9]{6})\b", message.locator(".body").inner_text())
    assert found is not None
    code = found.group(1)
    inbox.close()

    field = page.get_by_label("Verification code")
    field.fill(f"{(int(code) + 1) % 10**6:06d}")  # a wrong code first: said, and the form again
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#code-error")).to_have_text("That code is not right. 4 attempts left.")
    expect(field).to_have_attribute("aria-invalid", "true")
    fits(page)
    field.fill(code)
    with page.expect_response(lambda r: r.url.endswith("/validate-auth")) as checked:
        page.get_by_role("button", name="Verify", exact=True).click()
    assert checked.value.status == 200, checked.value.text()
    expect(page.get_by_role("heading", name="Phone number verified")).to_be_visible()
    expect(page.locator("#verified")).to_have_text(f"{e164[:5]}*****{e164[-2:]} is yours. You can close this page.")
    fits(page)
    shoot(page, f"no-js-verified-{page.size}")
    page.get_by_role("link", name="Verify another number").click()
    expect(page.get_by_label("Phone number")).to_have_value("")


@pytest.fixture(scope="module")
def elsewhere(site) -> Iterator[str]:
    """Another origin (another port of 127.0.0.1): a plain form that posts to the page's own
    form route, and the same form in a sandboxed frame (its origin is opaque: Origin: null)."""
    form = (f'<form method="post" action="{site.url}/request-auth">'
            '<input type="hidden" name="number" value="+14155553999"><button>Claim</button></form>')
    pages = {
        "/": f"<!doctype html><title>Win a prize</title>{form}".encode(),
        "/framed": ('<!doctype html><title>Win a prize</title><iframe sandbox="allow-forms" srcdoc="'
                    + form.replace('"', "&quot;") + '"></iframe>').encode(),
    }

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages[self.path]
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path", ["/", "/framed"])
def test_a_form_elsewhere_is_still_refused(browser, site, elsewhere, path):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(elsewhere + path)
        frame = page.frame_locator("iframe") if path == "/framed" else page
        with page.expect_response(lambda r: r.url == site.url + "/request-auth") as answer:
            frame.get_by_role("button", name="Claim").click()
        request = answer.value.request
        assert request.header_value("origin") == ("null" if path == "/framed" else elsewhere)
        assert answer.value.status == 403
        sent = requests.get(site.url + "/dev/inbox.json", timeout=10).json()
        assert not [m for m in sent if m["to"] == "+14155553999"]
    finally:
        context.close()
