"""WhatsApp and email beside SMS and voice (docs/channels.md): the domain, through the API with
the console provider (what `make run` uses), so routing, limits and the item are the real ones."""

from __future__ import annotations

import pytest

from chalicelib.config import Config
from chalicelib.errors import ConfigError, InvalidEmailAddress
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, PhoneNumberType, check, error_code, example, start

BASE = {"OTP_TABLE_NAME": "phone-verify-test", "OTP_SECRET": "s" * 32, "OTP_STAGE": "test"}
ON = {"OTP_EMAIL_PROVIDER": "console", "OTP_WHATSAPP_PROVIDER": "console"}


@pytest.fixture
def channels(configured):
    return configured(**ON)


# -- email addresses ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, address",
    [
        ("ana@example.com", "ana@example.com"),
        ("  Ana.Silva+otp@Example.COM ", "Ana.Silva+otp@example.com"),  # local part kept as typed
        ("ana@BÜCHER.de", "ana@bücher.de"),
        ("ana@xn--bcher-kva.de", "ana@bücher.de"),  # A-label and U-label: one recipient
    ],
)
def test_addresses_are_normalised(raw, address):
    from chalicelib.channels.email_address import parse_email

    parsed = parse_email(raw)
    assert parsed.address == address
    assert parsed.ascii_address.endswith(("example.com", "xn--bcher-kva.de"))


@pytest.mark.parametrize(
    "raw",
    [
        "ana", "ana@", "@example.com", "ana@example", "ana@@example.com", "a@b@example.com",
        "ana..silva@example.com", ".ana@example.com", '"ana"@example.com', "ana silva@example.com",
        "anä@example.com",  # SES: the local part is 7-bit ASCII only
        "ana@example.com.", "ana@-example.com", "ana@exa_mple.com", "ana@[192.0.2.1]",
        "ana@192.0.2.1", "ana@example.c", "ana@example.123",
        "a" * 65 + "@example.com",  # local part over 64
        "ana@" + ".".join(["a" * 63] * 4) + ".com",  # domain over 253
        "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example.com",  # address over 254
        "ana@xn--zz.com",  # not a valid A-label
        12, None,
    ],
)
def test_bad_addresses_are_refused(raw):
    from chalicelib.channels.email_address import parse_email

    with pytest.raises(InvalidEmailAddress):
        parse_email(raw)


# -- email through the API ----------------------------------------------------------------


def test_email_verification_is_started_and_approved(channels, outbox):
    status, body, _ = start(channels, to="Ana@Example.COM", channel="email")
    assert status == 201, body
    assert body["to"] == "Ana@example.com" and body["channel"] == "email" and body["provider"] == "console"
    assert outbox[0]["channel"] == "email" and outbox[0]["to"] == "Ana@example.com"
    assert outbox[0]["body"].startswith(f"Subject: {last_code(outbox)} is your Verify verification code")
    # The check may name the address in any form that normalises to it.
    status, body, _ = check(channels, last_code(outbox), to="Ana@EXAMPLE.com")
    assert status == 200 and body["status"] == "approved" and body["to"] == "Ana@example.com"


def test_a_bad_address_is_400_and_sends_nothing(channels, outbox):
    status, body, _ = start(channels, to="ana@example", channel="email")
    assert status == 400 and error_code(body) == "invalid_email_address"
    status, body, _ = start(channels, to=NUMBER, channel="email")
    assert status == 400 and error_code(body) == "invalid_email_address"
    assert len(outbox) == 0


def test_one_address_is_one_recipient_whatever_its_domain_case(channels, outbox):
    assert start(channels, to="ana@example.com", channel="email")[0] == 201
    status, body, _ = start(channels, to="ana@EXAMPLE.COM", channel="email")
    assert status == 429 and error_code(body) == "resend_too_soon"  # the same item: a resend
    assert len(outbox) == 1


def test_per_recipient_day_limit_applies_to_an_address(configured, outbox, clock):
    client = configured(**ON, OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="2")
    for _ in range(2):
        status, body, _ = start(client, to="ana@example.com", channel="email")
        assert status == 201, body
        assert check(client, last_code(outbox), to="ana@example.com")[0] == 200
    status, body, _ = start(client, to="ana@example.com", channel="email")
    assert status == 429 and error_code(body) == "too_many_verifications"
    assert start(client, to="bea@example.com", channel="email")[0] == 201  # another address


def test_email_counts_against_its_own_send_budget(configured, outbox):
    """Email has its own budget (OTP_MAX_EMAILS_PER_HOUR): an SMS after the emails is not
    refused by them (issue 28; tests/unit/test_limits.py has the attack)."""
    client = configured(**ON, OTP_MAX_EMAILS_PER_HOUR="1", OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1")
    assert start(client, to="ana@example.com", channel="email")[0] == 201
    status, body, _ = start(client, to="bea@example.com", channel="email")
    assert status == 429 and error_code(body) == "send_budget_exhausted"
    assert start(client)[0] == 201  # the SMS budget is the SMS's
    assert len(outbox) == 2


def test_many_addresses_of_one_domain_are_not_a_prefix(configured, outbox):
    """No breaker or prefix limit on a domain: a stranger could otherwise suspend gmail.com."""
    client = configured(**ON, OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1")
    for name in ("ana", "bea", "cid"):
        assert start(client, to=f"{name}@gmail.com", channel="email")[0] == 201
    assert len(outbox) == 3


def test_email_ignores_the_allowed_countries(configured, outbox):
    client = configured(**ON, OTP_ALLOWED_COUNTRIES="JP")
    assert start(client, to="ana@example.com", channel="email")[0] == 201


# -- WhatsApp through the API ---------------------------------------------------------------


def test_whatsapp_verification_is_started_and_approved(channels, outbox):
    status, body, _ = start(channels, channel="whatsapp", locale="pt-BR")
    assert status == 201, body
    assert body["channel"] == "whatsapp" and body["provider"] == "console"
    assert outbox[0]["channel"] == "whatsapp" and outbox[0]["to"] == NUMBER
    assert "is your verification code" in outbox[0]["body"]
    assert check(channels, last_code(outbox))[1]["status"] == "approved"


def test_whatsapp_counts_the_prefix_like_sms(configured, outbox):
    client = configured(**ON, OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1")
    assert start(client, channel="whatsapp")[0] == 201
    status, body, _ = start(client, to=NUMBER[:-1] + "9")  # the same range, by SMS
    assert status == 429 and error_code(body) == "prefix_rate_limited"


def test_whatsapp_refuses_the_types_sms_refuses(channels, outbox):
    status, body, _ = start(channels, to=example("GB", PhoneNumberType.PREMIUM_RATE), channel="whatsapp")
    assert status == 400 and error_code(body) == "unsupported_number_type"
    assert body["error"]["message"].endswith("by WhatsApp.")


def test_a_channel_moves_on_resend_within_one_verification(channels, outbox, clock):
    first = start(channels)[1]
    clock.advance(31)
    status, body, _ = start(channels, channel="whatsapp")
    assert status == 200 and body["id"] == first["id"] and body["channel"] == "whatsapp"
    assert [m["channel"] for m in outbox] == ["whatsapp", "sms"]


@pytest.mark.parametrize("channel", ["whatsapp", "email"])
def test_a_channel_without_providers_is_unsupported(configured, outbox, channel):
    client = configured(OTP_EMAIL_PROVIDER="", OTP_WHATSAPP_PROVIDER="")
    status, body, _ = start(client, to="ana@example.com" if channel == "email" else NUMBER, channel=channel)
    assert status == 400 and error_code(body) == "unsupported_channel"
    assert "not enabled" in body["error"]["message"]
    assert len(outbox) == 0


# -- configuration ---------------------------------------------------------------------------


def test_channels_are_off_by_default():
    config = Config.from_env(BASE)
    assert config.channels.whatsapp == () and config.channels.email == ()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"OTP_EMAIL_PROVIDER": "sns"}, "OTP_EMAIL_PROVIDER must list distinct providers that send email"),
        ({"OTP_WHATSAPP_PROVIDER": "ses"}, "OTP_WHATSAPP_PROVIDER must list distinct providers"),
        ({"OTP_EMAIL_PROVIDER": "console,console"}, "distinct"),
        ({"SMS_PROVIDER": "ses"}, "SMS_PROVIDER names unknown SMS provider(s) ses"),
        ({"OTP_WHATSAPP_TEMPLATE": "Verify Code"}, "OTP_WHATSAPP_TEMPLATE"),
        ({"OTP_WHATSAPP_LANGUAGES": '{"pt": "portuguese"}'}, "OTP_WHATSAPP_LANGUAGES"),
        ({"OTP_WHATSAPP_LANGUAGES": '{"xx": "en"}'}, "OTP_WHATSAPP_LANGUAGES"),
    ],
)
def test_bad_channel_settings_are_refused(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Config.from_env({**BASE, **env})


def test_the_console_provider_is_refused_on_the_new_channels_in_prod():
    deployed = {"OTP_TABLE_NAME": "t-prod", "OTP_SECRET_PARAMETER": "/p", "SMS_PROVIDER": "sns",
                "OTP_ALLOWED_COUNTRIES": "US", "OTP_STAGE": "prod"}
    for variable in ("OTP_EMAIL_PROVIDER", "OTP_WHATSAPP_PROVIDER"):
        with pytest.raises(ConfigError, match="console is allowed only"):
            Config.from_env({**deployed, variable: "console"})


# -- the messages -----------------------------------------------------------------------------


def test_the_email_has_text_and_html_parts_per_locale_with_the_brand_escaped():
    from chalicelib.channels.messages import MessageComposer

    message = MessageComposer("A<b>&Co", 600).email("012345", "fr-CA")
    assert message.subject == "012345 est votre code de vérification A<b>&Co"
    assert "012345" in message.text and "10 minutes" in message.text and "A<b>&Co" in message.text
    assert "A&lt;b&gt;&amp;Co" in message.html and "A<b>" not in message.html
    assert '<html lang="fr">' in message.html and "012345" in message.html
    assert 'dir="rtl"' in MessageComposer("Acme", 600).email("012345", "ar").html


def test_every_sms_locale_has_an_email_and_a_whatsapp_language():
    from chalicelib.channels.channel_messages import EMAIL_TEMPLATES, WHATSAPP_LANGUAGES
    from chalicelib.channels.messages import SMS_TEMPLATES

    assert set(EMAIL_TEMPLATES) == set(SMS_TEMPLATES) == set(WHATSAPP_LANGUAGES)


def test_the_whatsapp_message_is_metas_authentication_template_with_copy_code():
    # Shape from Meta, "Copy code authentication templates", section "Sending authentication
    # templates" (developers.facebook.com/docs/whatsapp/business-management-api/
    # authentication-templates/copy-code-button-authentication-templates).
    from chalicelib.channels.channel_messages import cloud_api_message
    from chalicelib.channels.messages import MessageComposer

    message = MessageComposer("Acme", 600, whatsapp_template="acme_otp",
                              whatsapp_languages={"pt": "pt_PT"}).whatsapp("012345", "pt-BR")
    assert cloud_api_message("+5511961234567", message) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+5511961234567",
        "type": "template",
        "template": {
            "name": "acme_otp",
            "language": {"code": "pt_PT"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "012345"}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": "012345"}]},
            ],
        },
    }
    from chalicelib.channels import composer_for

    assert composer_for(Config.from_env(BASE)).whatsapp("1", "pt").language == "pt_BR"


# -- the approval's receipt ---------------------------------------------------------------------


def test_an_email_receipt_names_the_address_never_a_phone_number(configured, outbox, clock):
    import time

    from tests.unit.test_receipts import ISSUER, jwks, verify

    clock.now = time.time()  # receipts carry iat/exp that PyJWT checks against the wall clock
    client = configured(**ON)
    start(client, to="Ana@Example.com", channel="email")
    body = check(client, last_code(outbox), to="Ana@example.com")[1]
    claims = verify(body["receipt"], jwks(client))
    assert claims["sub"] == claims["email"] == "Ana@example.com" and claims["email_verified"] is True
    assert "phone_number" not in claims and "phone_number_verified" not in claims
    assert claims["amr"] == ["otp"] and claims["iss"] == ISSUER


def test_a_whatsapp_receipt_names_the_number_with_otp(configured, outbox, clock):
    import time

    from tests.unit.test_receipts import jwks, verify

    clock.now = time.time()
    client = configured(**ON)
    start(client, channel="whatsapp")
    claims = verify(check(client, last_code(outbox))[1]["receipt"], jwks(client))
    assert claims["phone_number"] == NUMBER and claims["phone_number_verified"] is True
    assert claims["amr"] == ["otp"] and "email" not in claims


def test_events_mask_an_address_as_logs_do():
    from chalicelib.channels.email_address import parse_email
    from chalicelib.events.stream import masked as _masked

    assert _masked("Ana@example.com") == parse_email("Ana@example.com").masked == "A***@example.com"
    assert _masked(NUMBER) == "+1415*****71"
