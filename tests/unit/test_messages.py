"""SMS segments (GSM-7 and UCS-2), one segment in every locale, WebOTP and app hash lines."""

from __future__ import annotations

import pytest

from chalicelib.config import Config, ConfigError
from chalicelib.channels.messages import (
    MAX_BRAND_LENGTH,
    SMS_TEMPLATES,
    VOICE_TEMPLATES,
    MessageComposer,
    base_locale,
    measure,
)

LONGEST_BRAND = "B" * MAX_BRAND_LENGTH
REQUIRED_LOCALES = {"en", "es", "fr", "de", "pt", "it", "ja", "zh", "ar", "hi", "ru"}


def test_the_required_locales_ship():
    assert REQUIRED_LOCALES <= set(SMS_TEMPLATES) and REQUIRED_LOCALES <= set(VOICE_TEMPLATES)


@pytest.mark.parametrize("locale", sorted(SMS_TEMPLATES))
def test_every_full_template_fits_one_segment_with_the_longest_brand(locale):
    composer = MessageComposer(LONGEST_BRAND, ttl_seconds=3600)
    for code in ("000000", "0000000000"):
        message = composer.sms(code, locale)
        assert message.segments == 1, (locale, message)
        assert message.text == SMS_TEMPLATES[locale][0].format(brand=LONGEST_BRAND, code=code, minutes=60)


@pytest.mark.parametrize("locale", sorted(SMS_TEMPLATES))
def test_every_locale_fits_one_segment_with_webotp_and_app_hash(locale):
    # UCS-2 locales have 70 characters: the short template makes room for both lines.
    composer = MessageComposer(LONGEST_BRAND, 600, webotp_domain="example.com",
                               android_app_hash="FA+9qCX9VSu")
    message = composer.sms("012345", locale)
    assert message.segments == 1, (locale, message)
    lines = message.text.splitlines()
    assert lines[-1] == "@example.com #012345"  # WebOTP: last line
    assert lines[-2] == "FA+9qCX9VSu"


def test_gsm7_limits_and_the_extension_table():
    assert measure("a" * 160) .segments == 1 and measure("a" * 160).encoding == "GSM-7"
    assert measure("a" * 161).segments == 2
    assert measure("a" * 306).segments == 2 and measure("a" * 307).segments == 3  # 153 per part
    assert measure("€" * 80).segments == 1 and measure("€" * 81).segments == 2  # extension: 2 each
    assert measure("àéùìò @£$¥ ÄÖÑÜ §¿").encoding == "GSM-7"


def test_ucs2_limits_and_astral_characters():
    assert measure("á" * 70).encoding == "UCS-2" and measure("á" * 70).segments == 1
    assert measure("á" * 71).segments == 2
    assert measure("á" * 134).segments == 2 and measure("á" * 135).segments == 3  # 67 per part
    assert measure("😀" * 35).segments == 1 and measure("😀" * 36).segments == 2
    assert measure("`").encoding == "UCS-2"  # backtick is not GSM-7


def test_short_template_is_used_when_the_full_one_would_not_fit():
    composer = MessageComposer(LONGEST_BRAND, 3600, webotp_domain="example.com")
    message = composer.sms("0123456789", "ru")
    assert message.segments == 1 and message.text.startswith(f"Код {LONGEST_BRAND}: 0123456789\n")


def test_configuration_needing_two_segments_fails_at_start():
    env = {"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "OTP_BRAND_NAME": LONGEST_BRAND,
           "OTP_CODE_LENGTH": "10", "OTP_WEBOTP_DOMAIN": "a" * 40 + ".example.com"}
    from chalicelib.wiring import load_config  # the budget is the channels' rule, checked at start

    with pytest.raises(ConfigError, match="two segments in locale"):
        load_config(env)


def test_template_override_applies_to_every_locale_and_is_budgeted():
    composer = MessageComposer("Acme", 600, template_override="{code} is your {brand} code")
    assert composer.sms("012345", "ja").text == "012345 is your Acme code"
    env = {"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "OTP_MESSAGE_TEMPLATE": "{code} " + "x" * 170}
    from chalicelib.wiring import load_config

    with pytest.raises(ConfigError, match="OTP_MESSAGE_TEMPLATE"):
        load_config(env)


@pytest.mark.parametrize("locale", sorted(VOICE_TEMPLATES))
def test_voice_reads_each_digit_twice(locale):
    speech = MessageComposer("Acme", 600).voice("012345", locale)
    assert speech.text.count("0, 1, 2, 3, 4, 5") == 2
    assert "012345" not in speech.text


@pytest.mark.parametrize("given,expected", [("pt-BR", "pt"), ("zh_CN", "zh"), ("EN", "en"), ("xx", "en"),
                                            (None, "en"), ("", "en")])
def test_locale_fallback(given, expected):
    assert base_locale(given) == expected
