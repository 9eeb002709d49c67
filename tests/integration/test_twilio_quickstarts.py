"""Twilio's own Verify quickstarts, as a team that runs them today moves them here (issue 29):
TwilioDevEd's Flask and Express apps, reproduced call for call (quickstart_flask.py,
quickstart_express.js: each SDK call cites the app's file and line) over the official SDKs,
unchanged, with the account SID and this service's auth token (their .env.example) and the base
URL. Each flow is driven through the app's pages as a user without a browser would: a
requests.Session keeps the app's cookie; the codes are the ones the console provider printed.

What the flows show, against Twilio's answers (docs/twilio-verify.md, "Twilio's quickstarts"):
a second start within seconds (the Express app's verify page starts on every load; the Flask
app starts on registration only, so its second start is a registration again) is a resend, 201
with the same SID, not the 500 page a 429 gave; the first SMS's code approves after the resends;
a wrong code gets the app's own answer; the sixth send is 60203, which each app shows as its 500."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from scripts.local.run_local import free_port, wait_for_port
from tests.conftest import ROOT
from tests.integration.conftest import unique_number
from tests.integration.test_twilio_sdks import NODE_SDK, fresh_auth_token

HERE = ROOT / "tests" / "integration"


@pytest.fixture(scope="module")
def server(serve):
    return serve()


@pytest.fixture(scope="module")
def account(server, dynamodb_endpoint):
    """The account's auth token and a Service made with it, as the quickstarts' READMEs ask
    (Account SID, Auth Token, Verification SID), and the SDK to watch the Service with."""
    from twilio.rest import Client

    token = fresh_auth_token(dynamodb_endpoint)
    client = Client(token["account_sid"], token["auth_token"])
    client.verify.base_url = server.url
    service = client.verify.v2.services.create(friendly_name="Quickstart")
    return {**token, "service_sid": service.sid, "verify": client.verify.v2.services(service.sid)}


def app_env(server, account) -> dict[str, str]:
    """The quickstarts' .env, and the base URL."""
    return {**os.environ, "TWILIO_ACCOUNT_SID": account["account_sid"],
            "TWILIO_AUTH_TOKEN": account["auth_token"],
            "VERIFICATION_SID": account["service_sid"], "SECRET_KEY": "quickstart-test",
            "VERIFY_BASE_URL": server.url}


class App:
    def __init__(self, url: str, log, init_db=None) -> None:
        self.url, self.log = url, log
        self.init_db = init_db  # the Flask app's `flask init-db`, run while it serves

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def run(tmp_path, args: list[str], env: dict[str, str], init_db=None):
    """The app on a port of its own (PORT), its stdout and stderr in app.log."""
    port = free_port()
    log = tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(args, env={**env, "PORT": str(port)}, stdout=out, stderr=out, cwd=ROOT)
    try:
        wait_for_port(port)
        yield App(f"http://127.0.0.1:{port}", log, init_db)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def flask_app(server, account, tmp_path):
    from tests.integration.quickstart_flask import init_db

    database = str(tmp_path / "verify.sqlite")
    init_db(database)  # `make serve-setup`
    env = {**app_env(server, account), "QUICKSTART_DATABASE": database}
    yield from run(tmp_path, [sys.executable, str(HERE / "quickstart_flask.py")], env,
                   init_db=lambda: init_db(database))


@pytest.fixture
def express_app(server, account, tmp_path):
    if shutil.which("node") is None or not NODE_SDK.exists():
        pytest.fail("twilio-node is missing: run `make test` (it installs it into .deps/)")
    env = {**app_env(server, account), "NODE_PATH": str(ROOT / ".deps" / "node_modules")}
    yield from run(tmp_path, ["node", str(HERE / "quickstart_express.js")], env)


def sends(server, to: str) -> int:
    """The SMS the console provider printed for ``to``."""
    return server.log_path.read_text(encoding="utf-8", errors="replace").count(f"[console SMS to {to}]")


START = "POST /v2/Services/{sid}/Verifications"


def starts(server, since: int) -> list[int]:
    """The statuses the service answered the starts with since the log had ``since`` characters
    (its JSON line per request; the tests of a file run one at a time on their server)."""
    lines = server.log_path.read_text(encoding="utf-8", errors="replace")[since:].splitlines()
    return [json.loads(line)["status"] for line in lines
            if line.startswith('{"level"') and json.loads(line).get("route") == START]


def mark(server) -> int:
    return len(server.log_path.read_text(encoding="utf-8", errors="replace"))


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def flashes(html: str) -> list[str]:
    return re.findall(r'<div class="flash">([^<]*)</div>', html)


def register_flask(session: requests.Session, app: App, to: str) -> requests.Response:
    # The register form as a browser posts it: intl-tel-input fills full_phone with the E.164 number.
    return session.post(app.url + "/auth/register", timeout=30,
                        data={"username": "alice", "password": "s3cret", "phone": to[2:], "full_phone": to,
                              "channel": "sms"})


def test_flask_quickstart_registers_again_within_seconds_and_the_first_code_verifies(server, account,
                                                                                       flask_app):
    to, since = unique_number(640), mark(server)
    browser = requests.Session()
    assert browser.get(flask_app.url + "/auth/register", timeout=30).status_code == 200
    registered = register_flask(browser, flask_app, to)
    assert (registered.status_code, registered.url) == (200, flask_app.url + "/auth/verify")
    first = account["verify"].verifications(to).fetch()
    assert len(first.send_code_attempts) == 1 and sends(server, to) == 1
    code = server.last_code(to)

    # A reload of the verify page: the Flask app starts on registration only (a GET shows the form).
    reloaded = browser.get(flask_app.url + "/auth/verify", timeout=30)
    assert reloaded.status_code == 200 and 'name="code"' in reloaded.text and sends(server, to) == 1

    typo = browser.post(flask_app.url + "/auth/verify", data={"code": wrong(code)}, timeout=30)
    assert typo.url == flask_app.url + "/auth/verify"
    assert flashes(typo.text) == ["The code you provided is incorrect. Please try again."]

    # Its second start: the developer resets the users (`flask init-db`) and registers again at
    # once. Twilio answers 201 with the same verification; a 429 was Flask's 500 page.
    flask_app.init_db()
    again = register_flask(browser, flask_app, to)
    assert (again.status_code, again.url) == (200, flask_app.url + "/auth/verify"), again.text
    resent = account["verify"].verifications(to).fetch()
    assert resent.sid == first.sid and len(resent.send_code_attempts) == 2 and sends(server, to) == 2
    assert starts(server, since) == [201, 201]

    # The first SMS's code (SMS come late), typed after the resend.
    verified = browser.post(flask_app.url + "/auth/verify", data={"code": code}, timeout=30)
    assert verified.url == flask_app.url + "/auth/login"
    assert flashes(verified.text) == ["Your phone number has been verified! Please login to continue."]
    secret = browser.post(flask_app.url + "/auth/login", data={"username": "alice", "password": "s3cret"},
                          timeout=30)
    assert secret.url == flask_app.url + "/" and "accessed the secret content" in secret.text
    assert f"alice | {to} | Verified!" in browser.get(flask_app.url + "/users", timeout=30).text


def test_flask_quickstart_shows_its_500_page_on_the_sixth_send(server, account, flask_app):
    to, since = unique_number(641), mark(server)
    browser = requests.Session()
    for send in range(1, 6):  # the first, then four registrations again, each after `flask init-db`
        flask_app.init_db()
        page = register_flask(browser, flask_app, to)
        assert (page.status_code, page.url) == (200, flask_app.url + "/auth/verify"), (send, page.text)
        if send == 1:
            code = server.last_code(to)
    flask_app.init_db()
    sixth = register_flask(browser, flask_app, to)
    # The app leaves the SDK's exception to Flask (verify/auth.py:37-40): its 500 page, and the
    # SDK's exception in its log; the service answered 429/60203.
    assert sixth.status_code == 500 and "Internal Server Error" in sixth.text
    assert "TwilioRestException: HTTP 429 error: Unable to create record: Too many codes" in flask_app.text()
    assert starts(server, since) == [201] * 5 + [429]
    with pytest.raises(TwilioRestException) as refused:  # what the app's SDK got: as it, once more
        account["verify"].verifications.create(to=to, channel="sms")
    assert (refused.value.status, refused.value.code) == (429, 60203)
    assert len(account["verify"].verifications(to).fetch().send_code_attempts) == 5 and sends(server, to) == 5
    # The verification is still pending after the refusal, as at Twilio: the first code verifies.
    verified = browser.post(flask_app.url + "/auth/verify", data={"code": code}, timeout=30)
    assert flashes(verified.text) == ["Your phone number has been verified! Please login to continue."]


def logged(app: App) -> list[dict]:
    """What the Express app's logger.debug/error printed (routes/verify.js:20, 24, 42, 46)."""
    return [json.loads(line) for line in app.text().splitlines() if line.startswith("{")]


def test_express_quickstart_reloads_resends_refuses_the_sixth_and_verifies_the_first_code(server, account,
                                                                                          express_app):
    to, url, since = unique_number(642), express_app.url, mark(server)
    browser = requests.Session()
    assert browser.get(url + "/register", timeout=30).status_code == 200
    registered = browser.post(url + "/register", timeout=30, data={
        "username": "alice", "password": "s3cret", "confirmPassword": "s3cret", "phoneNumber": to[2:],
        "fullPhone": to, "verificationMethod": "sms"})
    # register -> / -> /verify, whose load starts the verification (routes/verify.js:16-18).
    assert [r.headers["Location"] for r in registered.history] == ["/", "/verify"]
    assert registered.status_code == 200 and 'name="verificationCode"' in registered.text
    code = server.last_code(to)
    first = logged(express_app)[-1]
    assert first["status"] == "pending" and len(first["sendCodeAttempts"]) == 1

    # A reload of the verify page is a second start within a second: a resend, the same SID.
    reloaded = browser.get(url + "/verify", timeout=30)
    assert reloaded.status_code == 200 and 'name="verificationCode"' in reloaded.text, reloaded.text
    again = logged(express_app)[-1]
    assert again["sid"] == first["sid"] and len(again["sendCodeAttempts"]) == 2 and sends(server, to) == 2

    # A wrong code: the verify page again, validated (views/verify.pug:21 misspells the message's
    # name, so the app shows no message), and no way past it.
    typo = browser.post(url + "/verify", data={"verificationCode": wrong(code)}, allow_redirects=False,
                        timeout=30)
    assert typo.status_code == 200 and "was-validated" in typo.text
    assert logged(express_app)[-1]["status"] == "pending"

    # A resend as the user asks for one: the app's home page sends them to /verify, which starts.
    home = browser.get(url + "/", timeout=30)
    assert [r.headers["Location"] for r in home.history] == ["/verify"] and home.status_code == 200
    for _ in range(2):
        assert browser.get(url + "/verify", timeout=30).status_code == 200
    fifth = logged(express_app)[-1]
    assert fifth["sid"] == first["sid"] and len(fifth["sendCodeAttempts"]) == 5 and sends(server, to) == 5

    # The sixth: 60203, which the app answers as `res.status(500).send(e)` (routes/verify.js:19-22).
    sixth = browser.get(url + "/verify", timeout=30)
    assert sixth.status_code == 500
    assert (sixth.json()["status"], sixth.json()["code"]) == (429, 60203) and sends(server, to) == 5
    assert starts(server, since) == [201] * 5 + [429]

    # The first SMS's code, typed after four resends and a refusal: verified, and the secret page.
    verified = browser.post(url + "/verify", data={"verificationCode": code}, timeout=30)
    assert [r.headers["Location"] for r in verified.history] == ["/"]
    assert "Congratulations alice, you have accessed the secret content!" in verified.text
    assert logged(express_app)[-1]["status"] == "approved"
