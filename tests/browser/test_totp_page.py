"""The "Authenticator app" tab (local stage only), as a person uses it: the codes come from
pyotp, computed from the secret the page shows, as an authenticator app computes them.

The replay rule shapes the flow: confirming stores the accepted time step (``last_step``) and a
challenge takes only a later step (chalicelib/totp/service.py), so the code that confirmed is refused
once more, and the challenge uses the next step's code (within the window of one step)."""

from __future__ import annotations

import json
import re
import time

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.browser.conftest import shoot

SECRET_GROUPS = re.compile(r"([A-Z2-7]{4} ){7}[A-Z2-7]{4}")  # 32 base32 characters, 160 bits


def open_tab(page, site) -> None:
    page.goto(site.url + "/")
    page.get_by_role("tab", name="Authenticator app").click()


def enroll(page, identity: str) -> pyotp.TOTP:
    page.get_by_label("User id").fill(identity)
    page.get_by_role("button", name="Set up an authenticator app").click()
    secret = page.locator("#totp-secret")
    expect(secret).to_have_text(SECRET_GROUPS)
    return pyotp.TOTP(secret.inner_text().replace(" ", ""))


def decode_qr(image) -> list[str]:
    """The texts of the QR codes in an <img>, drawn on a canvas at its natural size (on a
    white ground, as .qr shows it) and read by zxing-cpp from the grey levels."""
    import zxingcpp

    width, height, grey = image.evaluate("""img => {
        const canvas = document.createElement("canvas");
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const context = canvas.getContext("2d");
        context.fillStyle = "#fff"; context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(img, 0, 0);
        const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
        const grey = [];
        for (let i = 0; i < rgba.length; i += 4) grey.push(rgba[i + 1]);
        return [canvas.width, canvas.height, grey];
    }""")
    pixels = memoryview(bytes(grey)).cast("B", shape=[height, width])
    return [barcode.text for barcode in zxingcpp.read_barcodes(pixels)]


def uri_for(secret: str, identity: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=identity, issuer_name="Verify")


def test_enroll_confirm_then_verify(page, site):
    page.goto(site.url + "/")
    sms_tab, totp_tab = page.get_by_role("tab", name="Text message"), page.get_by_role("tab", name="Authenticator app")
    expect(sms_tab).to_have_attribute("aria-selected", "true")
    expect(page.locator("#totp-panel")).to_be_hidden()
    totp_tab.click()
    expect(totp_tab).to_have_attribute("aria-selected", "true")
    expect(sms_tab).to_have_attribute("aria-selected", "false")
    expect(page.get_by_role("tabpanel", name="Authenticator app")).to_be_visible()
    expect(page.locator("#sms-panel")).to_be_hidden()

    totp = enroll(page, "alice@example.com")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 100  # the SVG rendered, at a scannable size
    assert qr.get_attribute("src").startswith("blob:")
    # What the user's app would read: the image as Chromium drew it, decoded by zxing-cpp.
    assert decode_qr(qr) == [uri_for(totp.secret, "alice@example.com")]
    expect(page.get_by_role("heading", name="Scan this code with your authenticator app")).to_be_focused()
    shoot(page, "totp-1-enroll")

    confirm_code = totp.at(time.time())
    page.get_by_role("textbox", name="Code from the app").fill(confirm_code)
    page.get_by_role("button", name="Confirm").click()
    page.locator("#totp-status").filter(has_text="Your authenticator app is set up").wait_for()
    expect(page.locator("#totp-code")).to_be_focused()
    expect(page.locator("#totp-secret")).to_have_text("")  # the secret is shown once, then gone
    shoot(page, "totp-2-confirmed")

    # The code that confirmed is refused now (replay), answered as a wrong code.
    page.get_by_role("textbox", name="Code from the app").fill(confirm_code)
    page.get_by_role("button", name="Verify", exact=True).click()
    page.locator("#totp-code-error").filter(has_text="That code is not right, or was already used.").wait_for()

    page.get_by_role("textbox", name="Code from the app").fill(totp.at(time.time() + totp.interval))  # the next step's code
    page.get_by_role("button", name="Verify", exact=True).click()
    page.get_by_role("heading", name="Code approved").wait_for()
    expect(page.locator("#totp-approval")).to_have_text(re.compile(r"Approved for alice@example\.com \(factor …[0-9a-f]{8}\)\."))
    expect(page.locator("#totp-receipt")).to_have_text(
        re.compile(r"A signed receipt came back: sub alice@example\.com, amr otp, valid until "))
    shoot(page, "totp-3-approved")


def test_keyboard_only_at_360_px(browser, site):
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(site.url + "/")
        page.keyboard.press("Tab")
        expect(page.get_by_role("tab", name="Text message")).to_be_focused()
        page.keyboard.press("ArrowRight")
        expect(page.get_by_role("tab", name="Authenticator app")).to_be_focused()
        expect(page.locator("#totp-panel")).to_be_visible()
        page.keyboard.press("Home")
        expect(page.locator("#sms-panel")).to_be_visible()
        page.keyboard.press("End")
        expect(page.locator("#totp-panel")).to_be_visible()
        page.keyboard.press("Tab")  # from the selected tab into its panel: the user id
        expect(page.locator("#totp-identity")).to_be_focused()
        page.keyboard.type("bob.360")
        page.keyboard.press("Enter")
        expect(page.locator("#totp-secret")).to_have_text(SECRET_GROUPS)
        expect(page.get_by_role("heading", name="Scan this code with your authenticator app")).to_be_focused()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        shoot(page, "totp-4-enroll-360px")
        totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
        now = time.time()
        page.keyboard.press("Tab")
        expect(page.locator("#totp-confirm-code")).to_be_focused()
        page.keyboard.type(totp.at(now))
        page.keyboard.press("Enter")
        expect(page.locator("#totp-code")).to_be_focused()
        page.keyboard.type(totp.at(now + totp.interval))
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Code approved")).to_be_focused()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        shoot(page, "totp-5-approved-360px")
    finally:
        context.close()
    assert not errors, errors


def test_wrong_input_is_explained(page, site):
    open_tab(page, site)
    page.get_by_label("User id").fill("not an id!")
    page.get_by_role("button", name="Set up an authenticator app").click()
    page.locator("#totp-identity-error").filter(has_text="Check the user id").wait_for()
    expect(page.locator("#totp-identity")).to_be_focused()

    # No confirmed factor for this id: the challenge answers factor_not_found.
    page.get_by_label("User id").fill("nobody")
    page.get_by_role("button", name="Already set up? Enter a code").click()
    expect(page.locator("#totp-code")).to_be_focused()
    page.keyboard.type("123456")
    page.keyboard.press("Enter")
    page.locator("#totp-identity-error").filter(has_text="No confirmed authenticator app for this user id").wait_for()
    expect(page.locator("#totp-identity")).to_be_focused()

    totp = enroll(page, "carol")
    right = totp.at(time.time())
    page.get_by_role("textbox", name="Code from the app").fill(f"{(int(right) + 1) % 10**6:06d}")
    page.get_by_role("button", name="Confirm").click()
    page.locator("#totp-confirm-code-error").filter(has_text="That code is not right, or was already used.").wait_for()
    page.get_by_role("textbox", name="Code from the app").fill("12345")
    page.get_by_role("button", name="Confirm").click()
    page.locator("#totp-confirm-code-error").filter(has_text="Enter the 6 digits the app shows.").wait_for()
    page.get_by_role("textbox", name="Code from the app").fill(right)
    page.get_by_role("button", name="Confirm").click()
    page.locator("#totp-status").filter(has_text="Your authenticator app is set up").wait_for()


@pytest.mark.parametrize("svg,renders", [
    # An SVG shown as an image runs no script: not its handlers, not its <script>.
    ('<svg xmlns="http://www.w3.org/2000/svg" width="160" height="160" onload="alert(1)">'
     '<path stroke="#000" d="M0 0h8"/><script>alert(2)</script></svg>', True),
    # Anything that is not an SVG does not render: the key stays, alone.
    ('<html><body><img src="x" onerror="alert(3)"></body></html>', False),
    ("not svg at all", False),
])
def test_the_qr_svg_is_only_ever_an_image(page, site, svg, renders):
    def answer(route):  # the real enrolment with its qr_svg replaced: the page's handling under test
        response = route.fetch()
        route.fulfill(response=response, body=json.dumps({**response.json(), "qr_svg": svg}))

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route("**/v1/totp/factors", answer)
    open_tab(page, site)
    enroll(page, f"svg-{len(svg)}")
    qr = page.locator("#totp-qr")
    if renders:
        expect(qr.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
        assert qr.locator("img").evaluate("img => img.naturalWidth") == 160
    else:
        page.locator("#totp-status").filter(has_text="Type the key into your authenticator app").wait_for()
        expect(qr).to_be_hidden()
        expect(qr.locator("img")).to_have_count(0)
    assert page.locator("svg, script:not([src])").count() == 0  # nothing of it became markup
    assert dialogs == []


def test_the_tab_exists_only_in_the_local_stage(serve, kms_keys, site):
    assert 'id="tab-totp"' in requests.get(site.url + "/", timeout=10).text
    # The test stage with the same TOTP key: the routes would sit behind IAM, so no tab.
    other = serve(stage="test", **kms_keys)
    html = requests.get(other.url + "/", timeout=10).text
    assert "tablist" not in html and "totp.js" not in html and 'id="totp-panel"' not in html
    assert "<h1>Verify your phone number</h1>" in html
    response = requests.get(site.url + "/", timeout=10)
    assert "img-src 'self' blob:;" in response.headers["Content-Security-Policy"]  # the QR image
    assert "img-src 'self';" in requests.get(other.url + "/", timeout=10).headers["Content-Security-Policy"]
