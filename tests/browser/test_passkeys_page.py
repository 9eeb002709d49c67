"""Passkeys on the page, as a person uses them (docs/passkeys.md#on-the-page): Chromium with
the DevTools WebAuthn domain's virtual authenticator (CTAP2, internal, resident keys) verifies a
number by SMS, adds a passkey, and signs in with it after a reload; with user verification on
and off. A second authenticator's assertion for the first one's credential is refused, and the
same authenticator cannot be added twice (excludeCredentials: InvalidStateError, in words).

WebAuthn takes no IP address as a relying party id, so the page is opened at localhost (the same
server as the other browser tests: its host is the relying party id, its origin the page's)."""

from __future__ import annotations

import base64
import json

from playwright.sync_api import expect

from tests.browser.test_layout import fits
from tests.browser.test_page import code_for

REGISTER = "/v1/passkeys/registrations"
VERIFY = "/v1/passkeys/registrations/verify"
APPROVE = "/v1/passkeys/challenges/approve"


def local(site) -> str:
    return site.url.replace("//127.0.0.1:", "//localhost:")


def authenticator(page, user_verification: bool = True, verified: bool = True) -> tuple[object, str]:
    """A virtual platform authenticator in this tab: (its DevTools session, its id)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    options = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
               "hasUserVerification": user_verification, "isUserVerified": user_verification and verified,
               "automaticPresenceSimulation": True}
    return cdp, cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]


def e164(line: int) -> tuple[str, str]:
    return f"415 555 {line}", f"+1415555{line}"


def masked(number: str) -> str:
    return f"{number[:5]}*****{number[-2:]}"


def verify_by_sms(page, site, line: int) -> None:
    national, number = e164(line)
    page.goto(local(site) + "/")
    page.get_by_label("Phone number").fill(national)
    page.get_by_role("button", name="Send code", exact=True).click()
    page.locator("#sent-to").filter(has_text="We sent a code").wait_for()
    page.get_by_label("Verification code").fill(code_for(site, number))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="Phone number verified")).to_be_focused()


def add_passkey(page, line: int) -> dict:
    with page.expect_response(lambda r: r.url.endswith(VERIFY)) as answer:
        page.get_by_role("button", name="Add a passkey").click()
    assert answer.value.status == 200, answer.value.text()
    _, number = e164(line)
    expect(page.locator("#passkey-status")).to_have_text(
        f'Passkey added for {masked(number)}. Next time, choose "Sign in with a passkey".')
    expect(page.get_by_role("button", name="Add a passkey")).to_be_hidden()  # its receipt is used
    fits(page)  # nothing wider than the screen, no button or label on two lines
    body = answer.value.json()
    assert body["status"] == "verified" and body["to"] == number and body["factor_id"].startswith("YF")
    return body


def sign_in(page, site, national: str = ""):
    """Reload the start screen and sign in with a passkey: for ``national``, or discoverable."""
    page.goto(local(site) + "/")
    page.get_by_label("Phone number").fill(national)
    with page.expect_response(lambda r: r.url.endswith(APPROVE)) as answer:
        page.get_by_role("button", name="Sign in with a passkey").click()
    return answer.value


def claims(receipt: str) -> dict:
    payload = receipt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def signed_in(page, answer, line: int, user_verified: bool) -> None:
    assert answer.status == 200, answer.text()
    _, number = e164(line)
    body = answer.json()
    assert body["status"] == "approved" and body["to"] == number
    receipt = claims(body["receipt"])
    assert receipt["sub"] == number and receipt["factor_id"] == body["factor_id"]
    amr = receipt["amr"]
    # How the user proved it: a device-bound passkey (the virtual authenticator is not backup
    # eligible), and the user verified only when the authenticator did; since when it is bound.
    assert amr == (["hwk", "user"] if user_verified else ["hwk"]), amr
    assert receipt["iat"] - 60 < receipt["passkey_bound_at"] <= receipt["iat"]
    assert "phone_number_verified" not in receipt  # it cannot register another passkey
    expect(page.get_by_role("heading", name="Signed in with a passkey")).to_be_focused()
    expect(page.locator("#verified")).to_have_text(f"{masked(number)} is yours: your passkey said so.")


def test_add_a_passkey_then_sign_in_with_it_with_user_verification(page, site):
    authenticator(page, user_verification=True)
    verify_by_sms(page, site, 4101)
    add_passkey(page, 4101)
    signed_in(page, sign_in(page, site, "415 555 4101"), 4101, user_verified=True)  # for the number
    signed_in(page, sign_in(page, site), 4101, user_verified=True)  # discoverable: no number typed


def test_add_a_passkey_then_sign_in_with_it_without_user_verification(page, site):
    authenticator(page, user_verification=False)  # presence only: the flags' UV bit is 0
    verify_by_sms(page, site, 4102)
    add_passkey(page, 4102)
    signed_in(page, sign_in(page, site, "(415) 555-4102"), 4102, user_verified=False)


def test_a_cancelled_passkey_is_said_in_words_and_the_retry_reuses_the_registration(page, site):
    cdp, authenticator_id = authenticator(page, verified=False)  # the user fails the screen lock
    verify_by_sms(page, site, 4103)
    registrations: list[str] = []
    page.on("request", lambda r: registrations.append(r.url) if r.url.endswith(REGISTER) else None)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.locator("#passkey-add-error")).to_have_text(
        "Adding the passkey was cancelled or timed out. Try again.")
    expect(page.get_by_role("button", name="Add a passkey")).to_be_focused()
    fits(page)
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": authenticator_id, "isUserVerified": True})
    add_passkey(page, 4103)
    assert len(registrations) == 1  # the receipt was consumed once; the retry kept its options


def test_the_same_authenticator_cannot_be_added_twice(page, site):
    authenticator(page)
    verify_by_sms(page, site, 4104)
    add_passkey(page, 4104)
    verify_by_sms(page, site, 4104)  # verified again: a fresh receipt, the same device
    verified: list[str] = []
    page.on("request", lambda r: verified.append(r.url) if r.url.endswith(VERIFY) else None)
    page.get_by_role("button", name="Add a passkey").click()
    # excludeCredentials names the number's passkey: the authenticator refuses (InvalidStateError)
    expect(page.locator("#passkey-add-error")).to_have_text(
        "This device already has a passkey for this number.")
    assert verified == []  # nothing was made, so nothing was sent


def test_an_assertion_from_another_authenticator_is_refused_for_the_first_ones_credential(page, site):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    cdp, first = authenticator(page)
    verify_by_sms(page, site, 4105)
    add_passkey(page, 4105)
    [credential] = cdp.send("WebAuthn.getCredentials", {"authenticatorId": first})["credentials"]
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": first})
    # A second authenticator claims the first one's credential id and user handle, with a key
    # of its own (and a higher counter, so the signature is what gives it away).
    _, second = authenticator(page)
    key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    claimed = {**credential, "privateKey": base64.b64encode(key).decode(),
               "signCount": credential["signCount"] + 10}
    cdp.send("WebAuthn.addCredential", {"authenticatorId": second, "credential": claimed})

    answer = sign_in(page, site, "415 555 4105")
    assert answer.status == 400 and answer.json()["error"]["code"] == "invalid_credential", answer.text()
    sent = json.loads(answer.request.post_data)["credential"]
    assert base64.urlsafe_b64decode(sent["rawId"] + "==") == base64.b64decode(credential["credentialId"])
    expect(page.locator("#passkey-signin-error")).to_have_text(
        "This passkey was not accepted. Use another passkey, or send a code.")
    expect(page.get_by_role("heading", name="Signed in with a passkey")).to_be_hidden()


def test_no_passkey_is_said_in_words(page, site):
    authenticator(page)
    page.goto(local(site) + "/")
    page.get_by_label("Phone number").fill("415 555 4106")  # a number with no passkey: 404 no_passkey
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#passkey-signin-error")).to_have_text(
        "This number has no passkey yet. Send a code, then add one.")
    page.get_by_label("Phone number").fill("")  # discoverable: this authenticator holds none for the site
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#passkey-signin-error")).to_have_text(
        "The passkey request was cancelled or timed out, or this device has no passkey for this site.")
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_focused()
    fits(page)


def test_a_browser_without_webauthn_shows_no_passkey_button(page, site):
    page.add_init_script("delete window.PublicKeyCredential")
    verify_by_sms(page, site, 4107)  # the SMS path as it was
    expect(page.get_by_role("button", name="Add a passkey")).to_be_hidden()
    page.get_by_role("button", name="Verify another number").click()
    expect(page.get_by_role("button", name="Send code", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()


def test_a_relying_party_on_another_site_is_said_in_words(page, site):
    """The service's request options name another site (as OTP_PASSKEY_RP_ID=example.com would,
    without a second server): the browser refuses them (SecurityError), the page says so."""
    def elsewhere(route):
        answer = route.fetch()
        body = answer.json()
        body["public_key"]["rpId"] = "example.com"
        route.fulfill(response=answer, json=body)

    authenticator(page)
    page.route("**/v1/passkeys/challenges", elsewhere)
    page.goto(local(site) + "/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("#passkey-signin-error")).to_have_text(
        "Passkeys are not set up for this address. Send a code instead.")


def test_an_ip_address_is_said_before_any_request(page, site):
    """WebAuthn refuses an IP address as relying party id: the page says so, and asks nothing."""
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/v1/passkeys/" in r.url else None)
    page.goto(site.url + "/")  # http://127.0.0.1:<port>
    page.get_by_role("button", name="Sign in with a passkey").click()
    port = site.url.rsplit(":", 1)[1]
    expect(page.locator("#passkey-signin-error")).to_have_text(
        f"Passkeys need a domain name, not an IP address: open this page at localhost:{port}.")
    assert calls == []
