"""The page, its static files, its headers, and the local inbox that exists only locally."""

from __future__ import annotations

import json
import re

import pytest
from chalice.test import Client

from tests.conftest import ROOT, reset_app
from chalicelib import wiring


def test_page_has_two_steps_the_right_inputs_and_security_headers(client):
    response = client.http.get("/")
    html = response.body.decode()
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    assert 'type="tel"' in html and 'autocomplete="tel"' in html
    assert 'inputmode="numeric"' in html and 'autocomplete="one-time-code"' in html
    assert 'pattern="[0-9]{6}"' in html and 'maxlength="6"' in html
    assert '<option value="US" data-cc="1" selected>' in html  # OTP_DEFAULT_REGION
    assert 'id="sent-to" role="status"' in html  # announced (role=status is aria-live polite)
    # each field's message is announced and describes its field
    for field in ("number", "code"):
        assert f'<p id="{field}-error" class="field-error" role="alert">' in html
        assert re.search(rf'id="{field}"[^>]*aria-describedby="{field}-error ', html), field
    assert "<script>" not in html and "style=" not in html  # nothing inline: the CSP allows none
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert 'id="inbox"' not in html  # the test stage has no inbox


@pytest.mark.parametrize("name,content_type", [("app.js", "text/javascript"), ("app.css", "text/css"),
                                               ("inbox.js", "text/javascript"), ("passkeys.js", "text/javascript")])
def test_static_files_are_served_with_their_types(client, name, content_type):
    response = client.http.get(f"/static/{name}")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith(content_type)


@pytest.mark.parametrize("name", ["index.html", "..%2Fweb.py", "nope.js", "app.JS"])
def test_other_static_names_are_404(client, name):
    response = client.http.get(f"/static/{name}")
    assert response.status_code == 404 and json.loads(response.body)["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/dev/inbox", "/dev/inbox.json"])
def test_the_inbox_does_not_exist_outside_the_local_stage(client, path):
    response = client.http.get(path)
    assert response.status_code == 404 and json.loads(response.body)["error"]["code"] == "not_found"


@pytest.mark.parametrize("stage,provider,exists", [("local", "console", True), ("local", "sns", False),
                                                    ("test", "console", False)])
def test_the_inbox_exists_only_locally_with_the_console_provider(aws, monkeypatch, stage, provider, exists):
    import app as app_module

    monkeypatch.setenv("OTP_STAGE", stage)
    monkeypatch.setenv("SMS_PROVIDER", provider)
    reset_app()
    wiring.get_config()  # read now: the test client applies the stage's own variables per request
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        page = c.http.get("/dev/inbox")
        listing = c.http.get("/dev/inbox.json")
        index = c.http.get("/").body.decode()
    assert (page.status_code, listing.status_code) == ((200, 200) if exists else (404, 404))
    assert ('id="inbox"' in index) is exists
    reset_app()


def test_the_inbox_lists_messages_newest_first(aws, monkeypatch, outbox):
    import app as app_module

    monkeypatch.setenv("OTP_STAGE", "local")
    reset_app()
    wiring.get_config()
    wiring.get_service()
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        for number in ("+14155552671", "+14155552672"):
            c.http.post("/v1/verifications", headers={"content-type": "application/json"},
                        body=json.dumps({"to": number}))
        messages = json.loads(c.http.get("/dev/inbox.json").body)
    assert [m["to"] for m in messages] == ["+14155552672", "+14155552671"]
    assert "verification code is" in messages[0]["body"]
    reset_app()


def test_the_passkey_words_docs_lists_are_the_pages_own():
    """docs/passkeys.md's table of errors quotes passkeys.js: each message is one the script says."""
    doc = (ROOT / "docs" / "passkeys.md").read_text(encoding="utf-8").split("## On the page", 1)[1]
    script = (ROOT / "chalicelib" / "web" / "static" / "passkeys.js").read_text(encoding="utf-8")
    rows = re.findall(r"^\| [^|]+ \| ([^|]+) \|$", doc, re.M)
    words = [w.strip() for w in rows if w.strip() not in ("the words", "---")]
    assert len(words) >= 11
    for text in words:
        if text.startswith("the SMS path's own words"):
            assert "default: return verify.explain(" in script
        elif text.endswith("localhost:PORT."):
            assert "Passkeys need a domain name, not an IP address: open this page at localhost" in script
        else:
            assert f'"{text}"' in script, text
