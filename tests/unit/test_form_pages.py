"""The page without JavaScript (issue 31): its forms post to /request-auth and /validate-auth,
and a browser's navigation (Accept: text/html) gets the next step as a page, with the same
statuses as the seeds' plain-text answers, which every other caller keeps. Through the routes,
as Chromium sends them (tests/browser/test_no_javascript.py drives Chromium itself)."""

from __future__ import annotations

import json
import re

import pytest
from chalice.test import Client

from chalicelib import wiring
from tests.conftest import ROOT, last_code, reset_app
from tests.unit.test_seed_routes import seed

# What Chromium sends for the page's own form at http://localhost/ (Referrer-Policy:
# same-origin): a navigation, its origin named.
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
           "Origin": "http://localhost", "Host": "localhost", "Sec-Fetch-Site": "same-origin",
           "Sec-Fetch-Mode": "navigate"}


def test_the_page_names_its_origin_to_its_own_forms_and_nothing_elsewhere(client):
    # no-referrer made Chromium post the page's own forms with `Origin: null` (refused as a
    # foreign page); same-origin sends the real Origin to this origin and nothing to others.
    for path in ("/", "/static/app.js"):
        assert client.http.get(path).headers["Referrer-Policy"] == "same-origin"


def test_a_browsers_form_gets_the_code_step_as_a_page(client, outbox):
    response = seed(client, "/request-auth", BROWSER, number="(415) 555-2671", country="US")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    html = response.body.decode()
    assert "We sent a code to +1415*****71." in html
    assert 'action="/validate-auth"' in html and 'formaction="/request-auth"' in html
    # The number as typed and its country ride along, as the form routes read them.
    assert '<input type="hidden" name="number" value="(415) 555-2671">' in html
    assert '<input type="hidden" name="country" value="US">' in html
    assert "<script" not in html and "style=" not in html
    assert outbox[0]["to"] == "+14155552671"


def test_a_wrong_code_then_the_right_one_by_pages(client, outbox):
    seed(client, "/request-auth", BROWSER, number="4155552671", country="US")
    code = last_code(outbox)
    wrong = seed(client, "/validate-auth", BROWSER, number="4155552671", country="US",
                 auth_code=f"{(int(code) + 1) % 10**6:06d}")
    assert wrong.status_code == 403 and wrong.headers["Content-Type"].startswith("text/html")
    html = wrong.body.decode()
    assert 'role="alert">That code is not right. 4 attempts left.</p>' in html
    assert 'aria-invalid="true"' in html and 'value="4155552671"' in html  # the form again
    right = seed(client, "/validate-auth", BROWSER, number="4155552671", country="US", auth_code=code)
    assert right.status_code == 200
    assert "<h1>Phone number verified</h1>" in right.body.decode()
    assert "+1415*****71 is yours." in right.body.decode()
    again = seed(client, "/validate-auth", BROWSER, number="4155552671", country="US", auth_code=code)
    assert again.status_code == 403 and "This code has expired or was already used." in again.body.decode()


def test_a_resend_too_soon_keeps_the_code_step(client, outbox, clock):
    seed(client, "/request-auth", BROWSER, number="4155552671", country="US")
    clock.advance(5)
    response = seed(client, "/request-auth", BROWSER, number="4155552671", country="US", auth_code="")
    assert response.status_code == 429 and response.headers["Retry-After"] == "25"
    html = response.body.decode()
    assert "Please wait 25 seconds before asking for another code." in html and 'name="auth_code"' in html
    assert len(outbox) == 1


def test_a_bad_number_is_said_with_the_way_back(client, outbox):
    response = seed(client, "/request-auth", BROWSER, number="123", country="US")
    assert response.status_code == 400 and response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert "That phone number does not look right. Check the country and the number." in html
    assert '<a class="link" href="/">Try again</a>' in html
    assert len(outbox) == 0


@pytest.mark.parametrize("path", ["/request-auth", "/validate-auth"])
def test_what_the_form_brought_comes_back_escaped(client, outbox, path):
    # A reflected field is a page's markup unless escaped: the CSP would stop a script, not
    # an injected form or link.
    hostile = '4155552671"><a href="https://evil.example">win</a><script>alert(1)</script>'
    response = seed(client, path, BROWSER, number=hostile, country='US"><b>x</b>', auth_code='1"><i>')
    html = response.body.decode()
    assert response.headers["Content-Type"].startswith("text/html"), response.status_code
    assert "<script" not in html and "evil.example\">" not in html and "<b>" not in html and "<i>" not in html


def test_fetch_curl_and_the_seeds_keep_the_plain_text(client, outbox, clock):
    # No Accept, or fetch() and curl's */*: the seeds' front ends read these texts.
    for i, accept in enumerate((None, "*/*", "text/plain")):
        headers = {"Accept": accept} if accept else {}
        number = f"+1415555267{i + 1}"
        sent = seed(client, "/request-auth", headers, number=number)
        assert sent.body == b"Your code was sent" and sent.headers["Content-Type"].startswith("text/plain")
        checked = seed(client, "/validate-auth", headers, number=number, auth_code=last_code(outbox))
        assert checked.body == b"Success!" and checked.headers["Content-Type"].startswith("text/plain")
        clock.advance(60)


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},  # a sandboxed frame
    {"Origin": "http://127.0.0.1:9", "Sec-Fetch-Site": "same-site"},  # another port of the host
])
def test_a_foreign_page_asking_for_html_is_still_refused(client, outbox, headers):
    browser = {**BROWSER, **headers}
    for path in ("/request-auth", "/validate-auth"):
        response = seed(client, path, browser, number="4155552671", country="US", auth_code="123456")
        assert response.status_code == 403 and response.body == b"Forbidden"
    assert len(outbox) == 0


def test_the_inbox_page_lists_its_messages_without_a_script(aws, monkeypatch, outbox):
    import app as app_module

    monkeypatch.setenv("OTP_STAGE", "local")
    reset_app()
    wiring.get_config()
    wiring.get_service()
    outbox.appendleft({"id": "x", "to": "+14155550000", "channel": "sms", "body": "<b>not markup</b>", "at": 0})
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        c.http.post("/v1/verifications", headers={"content-type": "application/json"},
                    body=json.dumps({"to": "+14155552671"}))
        html = c.http.get("/dev/inbox").body.decode()
    assert re.search(r'<li><span class="to">\+14155552671 \(sms\)</span><span class="body">[^<]*\b\d{6}\b', html)
    assert "&lt;b&gt;not markup&lt;/b&gt;" in html and "<b>" not in html
    assert '<span id="inbox-name">Local inbox</span>' in html  # every channel's messages
    reset_app()
