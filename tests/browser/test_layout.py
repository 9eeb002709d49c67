"""The page at a laptop's 1280x800 and a phone's 360x740: after each action the message is on
screen, below the field it is about; nothing is wider than the screen; no button, tab or label
wraps onto a second line. The screenshots of docs/ are taken here, so they never drift."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.conftest import shoot
from tests.browser.test_page import code_for
from tests.browser.test_totp_page import enroll

DOCS = Path(__file__).resolve().parents[2] / "docs"
SIZES = {"1280x800": (1280, 800), "360x740": (360, 740)}
ERROR_RED = "rgb(179, 38, 30)"  # --error in app.css

# Elements whose text runs over more than one line: a range's client rects per line box.
WRAPPED = """() => [...document.querySelectorAll('button, label, [role="tab"]')]
  .filter((el) => el.getClientRects().length)
  .filter((el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.bottom)));
    return lines.size > 1;
  })
  .map((el) => el.textContent.trim())"""
# Anything whose box reaches past the right edge of the screen.
OVERFLOWING = """() => [document.documentElement.scrollWidth > innerWidth ? ['the page', document.documentElement.scrollWidth] : null,
  ...[...document.querySelectorAll('body *')].filter((el) => el.getClientRects().length)
    .filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5)
    .map((el) => [el.id || el.tagName, el.getBoundingClientRect().right])].filter(Boolean)"""


@pytest.fixture(params=list(SIZES))
def screen(request, browser):
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height},
                                  is_mobile=width < 400, device_scale_factor=2 if width < 400 else 1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.size = request.param  # type: ignore[attr-defined]
    yield page
    context.close()
    assert not errors, errors


def fits(page) -> None:
    """Nothing overflows and no label wraps, in the page's current state."""
    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate(WRAPPED) == []


def in_view(page, locator) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    viewport = page.viewport_size
    assert box is not None and box["height"] > 0
    assert 0 <= box["y"] and box["y"] + box["height"] <= viewport["height"], (box, viewport)
    assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], (box, viewport)


def number_for(page, last: int) -> tuple[str, str]:
    """A national number and its E.164, a different one per screen size."""
    line = 2000 + last + (100 if page.size == "360x740" else 0)
    return f"415 555 {line}", f"+1415555{line}"


def test_the_text_message_steps(screen, site):
    page = screen
    page.goto(site.url + "/")
    fits(page)
    number = page.get_by_label("Phone number")

    number.fill("123")  # an invalid number: the message below the field, the field marked
    page.get_by_role("button", name="Send code", exact=True).click()
    error = page.locator("#number-error")
    expect(error).to_have_text("That phone number does not look right. Check the country and the number.")
    in_view(page, error)
    expect(number).to_have_attribute("aria-invalid", "true")
    assert number.evaluate("el => getComputedStyle(el).borderTopColor") == ERROR_RED
    assert "number-error" in number.get_attribute("aria-describedby").split()
    fits(page)
    number.fill("4")
    expect(number).not_to_have_attribute("aria-invalid", "true")  # typing clears it
    expect(error).to_be_hidden()

    national, e164 = number_for(page, 1)
    number.fill(national)
    page.get_by_role("button", name="Send code", exact=True).click()
    sent = page.locator("#sent-to")
    expect(sent).to_have_text(f"We sent a code to {e164[:5]}*****{e164[-2:]}.")
    in_view(page, sent)
    assert page.get_by_text("Code sent to").count() == 0  # said once, not twice
    expect(page.locator("#resend")).to_have_text(re.compile(r"Resend code in \d+ s"))
    fits(page)  # "Resend code in 29 s" and "Use another number" on one line each
    if page.size == "1280x800":
        expect(page.locator("#inbox li").first).to_contain_text(e164)
        shoot(page, "code-step-1280", docs=True)

    code = code_for(site, e164)
    page.get_by_label("Verification code").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Verify", exact=True).click()
    error = page.locator("#code-error")
    expect(error).to_have_text("That code is not right. 4 attempts left.")
    in_view(page, error)
    code_field = page.get_by_label("Verification code")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    assert code_field.evaluate("el => getComputedStyle(el).borderTopColor") == ERROR_RED
    fits(page)
    if page.size == "360x740":
        shoot(page, "wrong-code-360", docs=True)

    code_field.fill(code)
    page.get_by_role("button", name="Verify", exact=True).click()
    heading = page.get_by_role("heading", name="Phone number verified")
    expect(heading).to_be_focused()
    in_view(page, heading)
    assert page.get_by_text("Your phone number is verified").count() == 0  # the heading says it
    again = page.get_by_role("button", name="Verify another number")
    in_view(page, again)
    fits(page)
    again.click()
    expect(number).to_be_focused()
    expect(number).to_have_value("")


def test_the_inbox_beside_the_form_and_off_the_phone_edges(screen, site):
    page = screen
    national, e164 = number_for(page, 2)
    page.goto(site.url + "/")
    page.get_by_label("Phone number").fill(national)
    page.get_by_role("button", name="Send code", exact=True).click()
    expect(page.locator("#inbox li").first).to_contain_text(e164)
    form, inbox = page.locator("main").bounding_box(), page.locator("#inbox-panel").bounding_box()
    width = page.viewport_size["width"]
    if width >= 960:  # beside: to the right of the form, starting near its top
        assert inbox["x"] >= form["x"] + form["width"] and abs(inbox["y"] - form["y"]) < 40, (form, inbox)
    else:  # below, with a margin on both sides
        assert inbox["y"] >= form["y"] + form["height"] - 1
        assert inbox["x"] >= 12 and inbox["x"] + inbox["width"] <= width - 12, inbox
    fits(page)


def test_the_inbox_marks_the_codes_a_resend_replaced(page, site):
    page.goto(site.url + "/")
    page.get_by_label("Phone number").fill("415 555 2050")
    page.get_by_role("button", name="Send code", exact=True).click()
    expect(page.locator("#resend")).to_be_enabled(timeout=6000)  # the site's interval is 3 s
    page.locator("#resend").click()
    page.locator("#sent-to").filter(has_text="We sent a new code").wait_for()
    items = page.locator("#inbox li").filter(has_text="+14155552050")
    expect(items).to_have_count(2)
    expect(items.nth(0)).not_to_have_class("replaced")
    expect(items.nth(0)).not_to_contain_text("replaced")
    expect(items.nth(1)).to_have_class("replaced")
    expect(items.nth(1)).to_contain_text("replaced by a newer code")
    assert items.nth(1).locator(".body").evaluate("el => getComputedStyle(el).textDecorationLine") == "line-through"


def test_the_authenticator_tab(screen, site):
    page = screen
    page.goto(site.url + "/")
    page.get_by_role("tab", name="Authenticator app").click()
    expect(page.locator("#inbox-panel")).to_be_hidden()  # the SMS inbox is not about this tab
    fits(page)
    totp: pyotp.TOTP = enroll(page, f"layout-{page.size}")
    fits(page)
    if page.size == "1280x800":
        shoot(page, "authenticator-1280", docs=True)

    # A wrong code: its message below the code field, under the QR code, on screen.
    right = totp.at(time.time())
    field = page.get_by_role("textbox", name="Code from the app")
    field.fill(f"{(int(right) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Confirm").click()
    error = page.locator("#totp-confirm-code-error")
    expect(error).to_have_text("That code is not right, or was already used.")
    in_view(page, error)
    expect(field).to_have_attribute("aria-invalid", "true")
    fits(page)

    field.fill(right)
    page.get_by_role("button", name="Confirm").click()
    status = page.locator("#totp-status")
    expect(status).to_have_text("Your authenticator app is set up. Sign in with the next code it shows.")
    in_view(page, status)

    # The code that confirmed, replayed: refused, the message next to the field.
    page.get_by_role("textbox", name="Code from the app").fill(right)
    page.get_by_role("button", name="Verify", exact=True).click()
    error = page.locator("#totp-code-error")
    expect(error).to_have_text("That code is not right, or was already used.")
    in_view(page, error)
    fits(page)

    page.get_by_role("tab", name="Text message").click()
    expect(page.locator("#inbox-panel")).to_be_visible()
