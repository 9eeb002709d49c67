"""The page as a person uses it."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.browser.conftest import shoot


def code_for(site, e164: str) -> str:
    for message in requests.get(site.url + "/dev/inbox.json", timeout=10).json():
        if message["to"] == e164:
            return re.search(r"\b([0-9]{6})\b", message["body"]).group(1)
    raise AssertionError(f"no SMS to {e164}")


def send_code(page, site, national: str) -> None:
    page.goto(site.url + "/")
    page.get_by_label("Phone number").fill(national)
    page.get_by_role("button", name="Send code", exact=True).click()
    page.get_by_label("Verification code").wait_for()


def test_happy_path(page, site):
    page.goto(site.url + "/")
    assert page.get_by_label("Country").input_value() == "US"
    shoot(page, "1-phone-step")
    page.get_by_label("Phone number").fill("(415) 555-0101")
    page.get_by_role("button", name="Send code", exact=True).click()
    page.locator("#sent-to").filter(has_text="We sent a code to +1415*****01.").wait_for()
    assert page.evaluate("document.activeElement.id") == "code"  # focus moved to the code
    shoot(page, "2-code-step")
    page.get_by_label("Verification code").fill(code_for(site, "+14155550101"))
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_role("heading", name="Phone number verified").wait_for()
    expect(page.locator("#verified")).to_have_text("+1415*****01 is yours. You can close this page.")
    shoot(page, "3-verified")
    page.get_by_role("button", name="Verify another number").click()  # and start again
    expect(page.get_by_label("Phone number")).to_be_focused()
    expect(page.get_by_label("Phone number")).to_have_value("")


def test_a_wrong_code_then_the_right_one(page, site):
    send_code(page, site, "415 555 0102")
    code = code_for(site, "+14155550102")
    page.get_by_label("Verification code").fill(f"{(int(code) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Verify", exact=True).click()
    page.locator("#code-error").filter(has_text="That code is not right. 4 attempts left.").wait_for()
    expect(page.get_by_label("Verification code")).to_have_attribute("aria-invalid", "true")
    shoot(page, "4-wrong-code")
    page.get_by_label("Verification code").fill(code)
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_role("heading", name="Phone number verified").wait_for()


def test_the_resend_countdown(page, site):
    send_code(page, site, "415-555-0103")
    resend = page.locator("#resend")
    assert resend.is_disabled()
    assert re.fullmatch(r"Resend code in [1-3] s", resend.inner_text())
    shoot(page, "5-countdown")
    expect(resend).to_be_enabled(timeout=6000)  # (the page's CSP forbids wait_for_function's eval)
    assert resend.inner_text() == "Resend code"
    resend.click()
    page.locator("#sent-to").filter(has_text="We sent a new code to +1415*****03.").wait_for()
    assert resend.is_disabled()


def test_an_invalid_number_is_explained(page, site):
    page.goto(site.url + "/")
    page.get_by_label("Phone number").fill("123")
    page.get_by_role("button", name="Send code", exact=True).click()
    page.locator("#number-error").filter(has_text="That phone number does not look right").wait_for()
    assert page.evaluate("document.activeElement.id") == "number"
    shoot(page, "6-invalid-number")


def test_keyboard_only(page, site):
    page.goto(site.url + "/")
    page.keyboard.press("Tab")  # the selected tab, "Text message" (the local stage has two)
    assert page.evaluate("document.activeElement.id") == "tab-sms"
    page.keyboard.press("Tab")  # the channel choice (make run offers WhatsApp and email): SMS
    assert page.evaluate("document.activeElement.value") == "sms"
    page.keyboard.press("Tab")  # the country selector
    assert page.evaluate("document.activeElement.id") == "country"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "number"
    page.keyboard.type("4155550104")
    page.keyboard.press("Enter")
    page.get_by_label("Verification code").wait_for()
    expect(page.locator("#code")).to_be_focused()
    page.keyboard.type(code_for(site, "+14155550104"))
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Phone number verified").wait_for()
    assert page.evaluate("document.activeElement.tagName") == "H2"


def test_the_page_fits_a_360_px_phone_screen(browser, site):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    page.goto(site.url + "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    for label in ("Country", "Phone number"):
        box = page.get_by_label(label).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    shoot(page, "7-phone-360px")
    page.get_by_label("Phone number").fill("4155550105")
    page.get_by_role("button", name="Send code", exact=True).click()
    page.get_by_label("Verification code").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shoot(page, "8-phone-360px-code")
    context.close()


def test_the_inbox_page_shows_the_messages(browser, site):
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True)
    page = context.new_page()
    assert site.post("/v1/verifications", {"to": "+14155550106"}).status_code in (200, 201)
    page.goto(site.url + "/dev/inbox")
    expect(page.locator("#inbox li").first).to_contain_text("+14155550106")
    assert "verification code is" in page.locator("#inbox").inner_text()
    box = page.locator("#inbox-panel").bounding_box()
    assert box["x"] >= 12 and box["x"] + box["width"] <= 360 - 12  # off the phone's edges
    context.close()


def _countries(browser, site, locale: str) -> tuple[str, list[str]]:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    try:
        page.goto(site.url + "/")
        select = page.get_by_label("Country")
        return select.input_value(), page.eval_on_selector_all(
            "#country option", "options => options.map(o => o.textContent)")
    finally:
        context.close()


def _name(option: str) -> str:
    return option.rsplit(" (+", 1)[0]


def test_the_countries_are_sorted_by_name_in_the_browsers_language(browser, site):
    selected, english = _countries(browser, site, "en-US")
    assert selected == "US" and english[0] == "United States (+1)"  # the default region first
    names = [_name(o) for o in english[1:]]
    # by name, not by ISO code (which starts Ascension Island, Andorra, United Arab Emirates)
    assert names[:3] == ["Afghanistan", "Åland Islands", "Albania"], names[:5]
    assert names.index("Andorra") < names.index("Ascension Island") < names.index("Zimbabwe")
    assert names.index("Germany") < names.index("United Arab Emirates")

    selected, german = _countries(browser, site, "de-DE")
    assert selected == "US" and german[0] == "Vereinigte Staaten (+1)"
    names = [_name(o) for o in german[1:]]
    # German names in German order: "Ägypten" among the A's (code-point order puts Ä after Z)
    assert names.index("Afghanistan") < names.index("Ägypten") < names.index("Albanien")
    assert names.index("Deutschland") < names.index("Frankreich") < names.index("Zypern")
    assert len(german) == len(english)
