"""A real browser: Debian's Chromium driven by Playwright, against the app served locally
(the local stage, console provider, its inbox) on dynalite. Screenshots of every step go to
tests/browser/screenshots/ (git-ignored)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from tests.live import LiveServer, dynamodb_endpoint, serve  # noqa: F401  (fixtures)

# The browser: Debian's, or yours (`CHROMIUM=/path/to/chromium make test`, as the Makefile reads it).
CHROMIUM = os.environ.get("CHROMIUM") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def kms_keys() -> Iterator[dict[str, str]]:
    """moto's server as KMS, with the stage's keys, as `make run` (scripts/local/run_local.py) does:
    the TOTP key (the "Authenticator app" tab) and the receipt key (the approval's receipt)."""
    from tests.live import moto_kms

    with moto_kms("local") as variables:
        yield variables


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
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium, "
                    "or set CHROMIUM=/path/to/chromium")
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


def shoot(page, name: str, docs: bool = False) -> None:
    """A screenshot of the whole page into tests/browser/screenshots/ (git-ignored), or with
    ``docs`` of the viewport: into docs/screenshots/ (committed: the documentation's pictures
    are the page as the tests saw it) under `make screenshots`, and beside the others
    otherwise, so a test run leaves the committed tree as it found it."""
    if docs:
        target = DOCS_SHOTS if os.environ.get("OTP_DOCS_SCREENSHOTS") == "1" else SHOTS
        target.mkdir(exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"))
        return
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
