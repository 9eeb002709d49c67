"""The page's channels (docs/channels.md) as a person uses them, in Chromium at a desktop
(1280x800) and a phone (360x740) size: the local stage offers SMS, WhatsApp and email (the
console provider prints each to the inbox)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import shoot
from tests.browser.test_layout import fits as fits_the_screen

SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 360, "height": 740}}


def code_for(site, to: str, channel: str) -> str:
    for message in requests.get(site.url + "/dev/inbox.json", timeout=10).json():
        if message["to"] == to and message["channel"] == channel:
            return re.search(r"\b([0-9]{6})\b", message["body"]).group(1)
    raise AssertionError(f"no {channel} message to {to}")


@pytest.fixture(params=list(SIZES))
def sized(browser, request):
    context = browser.new_context(viewport=SIZES[request.param], is_mobile=request.param == "phone",
                                  device_scale_factor=2 if request.param == "phone" else 1)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, request.param
    context.close()
    assert not errors, errors


def fits(page, width: int, choice: bool = True) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for radio in page.locator('input[name="channel"]').all() if choice else []:
        box = radio.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


def test_whatsapp_is_offered_beside_sms_and_verifies(sized, site):
    page, size = sized
    page.goto(site.url + "/")
    choice = page.get_by_role("group", name="Send the code by")
    values = [r.get_attribute("value") for r in choice.get_by_role("radio").all()]
    assert values == ["sms", "whatsapp", "email"]
    page.get_by_role("radio", name="WhatsApp").check()
    assert page.locator("#number-help").inner_text() == "We will send you a 6-digit code on WhatsApp."
    fits(page, SIZES[size]["width"])
    number = "4155550111" if size == "desktop" else "4155550112"
    page.get_by_label("Phone number").fill(number)
    page.get_by_role("button", name="Send code", exact=True).click()
    page.get_by_label("Verification code").wait_for()
    shoot(page, f"channels-whatsapp-{size}")
    page.get_by_label("Verification code").fill(code_for(site, "+1" + number, "whatsapp"))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_role("heading", name="Phone number verified").wait_for()
    fits(page, SIZES[size]["width"], choice=False)


def test_email_swaps_the_number_for_an_address_and_verifies(sized, site):
    page, size = sized
    page.goto(site.url + "/")
    page.get_by_role("radio", name="Email").check()
    assert page.get_by_label("Phone number").is_hidden() and page.get_by_label("Country").is_hidden()
    address = f"ana.{size}@Example.COM"
    page.get_by_label("Email address").fill(address)
    fits(page, SIZES[size]["width"])
    shoot(page, f"channels-email-{size}")
    page.get_by_role("button", name="Send code", exact=True).click()
    page.locator("#sent-to").filter(has_text="We sent a code to a***@example.com.").wait_for()
    page.get_by_label("Verification code").fill(code_for(site, f"ana.{size}@example.com", "email"))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_role("heading", name="Email address verified").wait_for()


def test_a_bad_address_is_explained(sized, site):
    page, _ = sized
    page.goto(site.url + "/")
    page.get_by_role("radio", name="Email").check()
    page.get_by_label("Email address").fill("ana@example")
    page.get_by_role("button", name="Send code", exact=True).click()
    page.locator("#email-error").filter(has_text="That email address does not look right.").wait_for()
    assert page.evaluate("document.activeElement.id") == "email"


def test_the_inbox_shows_whatsapp_and_email(page, site):
    page.goto(site.url + "/dev/inbox")
    page.locator("#inbox li").first.wait_for()
    text = page.locator("#inbox").inner_text()
    assert "(whatsapp)" in text and "is your verification code. For your security" in text
    assert "(email)" in text and "Subject: " in text


def test_the_tab_and_the_inbox_follow_the_channel(sized, site):
    page, size = sized
    page.goto(site.url + "/")
    # A message of each channel, so each list has something to leave out.
    n = 0 if size == "desktop" else 5
    for body in ({"to": f"+1415555012{n + 1}"}, {"to": f"+1415555012{n + 2}", "channel": "whatsapp"},
                 {"to": f"ana.follow.{size}@example.com", "channel": "email"}):
        assert requests.post(site.url + "/v1/verifications", json=body, timeout=10).status_code == 201
    tab, title, inbox = page.locator("#tab-sms"), page.locator("#inbox-title"), page.locator("#inbox li")
    for radio, tab_name, inbox_name, channel in (
        ("Email", "Email", "Local email inbox", "email"),
        ("WhatsApp", "WhatsApp", "Local WhatsApp inbox", "whatsapp"),
        ("SMS", "Text message", "Local SMS inbox", "sms"),
    ):
        page.get_by_role("radio", name=radio).check()
        expect(page.get_by_role("tab", name=tab_name, exact=True)).to_have_attribute("aria-selected", "true")
        expect(tab).to_have_text(tab_name)
        expect(title).to_have_text(f"{inbox_name} (open)")
        expect(inbox.filter(has_text=f"({channel})").first).to_be_visible()
        assert all(f"({channel})" in text for text in inbox.all_inner_texts()), inbox.all_inner_texts()
        fits_the_screen(page)  # "WhatsApp" and "Authenticator app" each on one line, nothing wider
        if channel == "email":
            expect(page.get_by_role("heading", level=1)).to_have_text("Verify it is you")  # beside the tab
            expect(page.locator("#change")).to_have_text("Use another address")
            shoot(page, f"channels-follow-email-{size}")
