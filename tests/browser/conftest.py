"""A real browser: Debian's Chromium driven by Playwright, against the app served locally
(the local stage, console provider, its inbox) on dynalite. Screenshots of every step go to
tests/browser/screenshots/ (git-ignored)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.live import LiveServer, dynamodb_endpoint, serve  # noqa: F401  (fixtures)

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"


@pytest.fixture(scope="session")
def kms_keys() -> Iterator[dict[str, str]]:
    """moto's server as KMS, with the stage's keys, as `make run` (scripts/run_local.py) does:
    the TOTP key (the "Authenticator app" tab) and the receipt key (the approval's receipt)."""
    import boto3

    from scripts.keys import ensure_receipt_key, ensure_totp_key
    from scripts.run_local import free_port, wait_for_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        endpoint = f"http://127.0.0.1:{port}"
        kms = boto3.client("kms", endpoint_url=endpoint)
        yield {"AWS_ENDPOINT_URL_KMS": endpoint, "OTP_TOTP_KEY_ID": ensure_totp_key(kms, "local"),
               "OTP_RECEIPT_KEY_IDS": ensure_receipt_key(kms, "local")}
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="session")
def site(serve, kms_keys) -> LiveServer:
    # Threads with one app call at a time (the page polls the inbox while it works), a short
    # resend interval so the countdown test finishes, the inbox of the local stage, and KMS
    # for its "Authenticator app" tab.
    return serve(stage="local", forking=False, OTP_RESEND_INTERVAL_SECONDS="3",
                 OTP_MAX_REQUESTS_PER_IP_PER_HOUR="100000", OTP_MAX_CHECKS_PER_IP_PER_HOUR="100000", **kms_keys)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1000, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Chrome logs every 4xx fetch as "Failed to load resource": those are the API's answers
    # (a wrong code is a 403) and the page shows them; anything else (a script error, a CSP
    # violation) fails the test.
    page.on("console", lambda m: errors.append(f"{m.text} {m.location}")
            if m.type == "error" and not m.text.startswith("Failed to load resource: the server responded with a status of 4")
            else None)
    yield page
    context.close()
    assert not errors, errors  # no script error, no CSP violation


def shoot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
