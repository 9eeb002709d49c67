"""OTP_PASSKEY_* (chalicelib/settings/passkeys.py): validated once, errors naming the variable."""

from __future__ import annotations

import pytest

from chalicelib.errors import ConfigError
from chalicelib.settings.passkeys import PasskeySettings

HASH = "android:apk-key-hash:" + "A" * 43


def test_the_defaults_follow_the_request():
    s = PasskeySettings.from_env({})
    assert (s.rp_id, s.rp_name, s.origins, s.challenge_ttl_seconds, s.max_factors, s.user_verification) == (
        None, None, frozenset(), 300, 10, "preferred")


def test_a_deployed_relying_party_with_its_pages_and_apps():
    s = PasskeySettings.from_env({"OTP_PASSKEY_RP_ID": "Example.com", "OTP_PASSKEY_RP_NAME": "Example",
                                  "OTP_PASSKEY_ORIGINS": f"https://www.example.com/, {HASH}",
                                  "OTP_PASSKEY_USER_VERIFICATION": "required"})
    assert s.rp_id == "example.com" and s.origins == frozenset({"https://www.example.com", HASH})
    assert s.user_verification == "required"


@pytest.mark.parametrize("env, variable", [
    ({"OTP_PASSKEY_RP_ID": "https://example.com"}, "OTP_PASSKEY_RP_ID"),
    ({"OTP_PASSKEY_RP_ID": "example.com:443"}, "OTP_PASSKEY_RP_ID"),
    ({"OTP_PASSKEY_ORIGINS": "http://example.com"}, "OTP_PASSKEY_ORIGINS"),  # http only for localhost
    ({"OTP_PASSKEY_ORIGINS": "android:apk-key-hash:short"}, "OTP_PASSKEY_ORIGINS"),
    ({"OTP_PASSKEY_RP_NAME": "x" * 65}, "OTP_PASSKEY_RP_NAME"),
    ({"OTP_PASSKEY_CHALLENGE_TTL_SECONDS": "4"}, "OTP_PASSKEY_CHALLENGE_TTL_SECONDS"),
    ({"OTP_PASSKEY_USER_VERIFICATION": "always"}, "OTP_PASSKEY_USER_VERIFICATION"),
])
def test_a_bad_value_is_refused_naming_its_variable(env, variable):
    with pytest.raises(ConfigError, match=variable):
        PasskeySettings.from_env(env)
