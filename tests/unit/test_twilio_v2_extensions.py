"""Issue 29, the per-Service extensions (Twilio has none of them; docs/twilio-verify.md's
Service parameters table names them as extensions): ``ResendWait`` (seconds between two sends
of one verification), ``AllowedCountries`` (the ISO regions a Service sends to, inside the
stage's OTP_ALLOWED_COUNTRIES) and ``RiskCheckOptOutEnabled`` (whether a start may send
Twilio's ``RiskCheck=disable``). Each through the HTTP routes, each in its Service's scope only.

Twilio's RiskCheck ("overrides Fraud Prevention measures like Fraud Guard, Geo Permissions etc
per verification attempt basis ... For SMS channel only": the OpenAPI document's
``verification_enum_risk_check``, tests/data/twilio-oai/twilio_verify_v2.json). Here it
turns off the pumping defences only (the prefix's limit and the conversion breakers); the
country list, the country's and the number's limits, the verification's five sends and the
send budget hold whatever it says."""

from __future__ import annotations

import boto3
import pytest

from tests.conftest import TABLE
from tests.unit.test_v2_credentials import expire_cache
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401 (key: a fixture)

US, US2, US3, US4 = "+14155552671", "+14155552672", "+14155552673", "+14155552674"  # one prefix
GB = "+447400123456"  # phonenumbers' GB mobile example
FR = "+33612345678"  # phonenumbers' FR mobile example


def _start(client, key, sid: str, to: str = US, **form):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                {"To": to, "Channel": "sms", **form})


def _stored(sid: str) -> str:
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"v2#service#{sid}"}})["Item"]
    return item["settings"]["S"]


# -- ResendWait --------------------------------------------------------------------------------


def test_resend_wait_is_stored_returned_and_updated_on_the_services_own_item(client, key):  # noqa: F811
    service = new_service(client, key, ResendWait="45")
    assert service["resend_wait"] == 45
    assert '"resend_wait": 45' in _stored(service["sid"])
    status, body, _ = call(client, key, "GET", f"/v2/Services/{service['sid']}")
    assert status == 200 and body["resend_wait"] == 45
    status, body, _ = call(client, key, "POST", f"/v2/Services/{service['sid']}", {"ResendWait": "0"})
    assert status == 200 and body["resend_wait"] == 0
    assert new_service(client, key)["resend_wait"] == 0  # Twilio's: no wait


@pytest.mark.parametrize("wait", ["-1", "3601", "ten", "1.5", ""])
def test_a_bad_resend_wait_is_60200(client, key, wait):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme", "ResendWait": wait})
    assert status == 400 and twilio_error(body) == 60200 and "`ResendWait`" in body["message"]


def test_resend_wait_holds_a_resend_back_in_its_service_only(client, key, clock):  # noqa: F811
    waiting = new_service(client, key, ResendWait="60")["sid"]
    other = new_service(client, key)["sid"]
    assert _start(client, key, waiting)[0] == 201
    status, body, headers = _start(client, key, waiting)
    assert (status, twilio_error(body)) == (429, 60212), body  # Twilio's "too many ... same phone number"
    assert int(headers["Retry-After"]) <= 60
    assert _start(client, key, other)[0] == 201  # the other Service's resend: at once
    status, again, _ = _start(client, key, other)
    assert status == 201 and len(again["send_code_attempts"]) == 2
    clock.advance(61)
    status, body, _ = _start(client, key, waiting)
    assert status == 201 and len(body["send_code_attempts"]) == 2


# -- AllowedCountries --------------------------------------------------------------------------


def test_allowed_countries_are_stored_returned_and_cleared(client, key):  # noqa: F811
    service = new_service(client, key, AllowedCountries="us, gb")
    assert service["allowed_countries"] == ["GB", "US"]
    assert '"allowed_countries": ["GB", "US"]' in _stored(service["sid"])
    status, body, _ = call(client, key, "GET", f"/v2/Services/{service['sid']}")
    assert body["allowed_countries"] == ["GB", "US"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{service['sid']}", {"AllowedCountries": ""})
    assert status == 200 and body["allowed_countries"] is None  # every country the stage allows
    assert new_service(client, key)["allowed_countries"] is None


@pytest.mark.parametrize("countries", ["USA", "U1", "XX", "US,,GB", ",", "US;GB", "ÜS"])
def test_bad_allowed_countries_are_60200(client, key, countries):  # noqa: F811
    status, body, _ = call(client, key, "POST", "/v2/Services",
                           {"FriendlyName": "Acme", "AllowedCountries": countries})
    assert status == 400 and twilio_error(body) == 60200 and "`AllowedCountries`" in body["message"]


def test_a_start_to_another_country_is_60605_in_that_service_only(client, key, outbox):  # noqa: F811
    us_only = new_service(client, key, AllowedCountries="US")["sid"]
    other = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, us_only, GB)
    assert (status, twilio_error(body)) == (403, 60605), body
    assert not outbox  # nothing sent, nothing counted
    assert _start(client, key, us_only, US)[0] == 201
    assert _start(client, key, other, GB)[0] == 201  # another Service's list never applies


def test_a_resend_after_the_list_narrows_is_60605(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid, GB)[0] == 201
    assert call(client, key, "POST", f"/v2/Services/{sid}", {"AllowedCountries": "US"})[0] == 200
    status, body, _ = _start(client, key, sid, GB)
    assert (status, twilio_error(body)) == (403, 60605)


def test_a_service_narrows_the_stages_countries_and_never_widens_them(configured, key):  # noqa: F811
    client = configured(OTP_ALLOWED_COUNTRIES="US,GB")
    status, body, _ = call(client, key, "POST", "/v2/Services",
                           {"FriendlyName": "Acme", "AllowedCountries": "US,FR"})
    assert status == 400 and twilio_error(body) == 60200 and "FR" in body["message"]
    narrow = new_service(client, key, AllowedCountries="GB")["sid"]
    assert _start(client, key, narrow, GB)[0] == 201
    assert _start(client, key, narrow, US)[1]["code"] == 60605
    # A Service stored with a country the stage dropped since: the stage's list still holds.
    wide = new_service(client, key, AllowedCountries="US,GB")["sid"]
    client = configured(OTP_ALLOWED_COUNTRIES="US")
    assert _start(client, key, wide, GB)[1]["code"] == 60605
    assert _start(client, key, wide, US)[0] == 201


def test_email_has_no_country(configured, key):  # noqa: F811
    client = configured(OTP_EMAIL_PROVIDER="console")
    sid = new_service(client, key, AllowedCountries="GB")["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": "alice@example.com", "Channel": "email"})
    assert status == 201, body


# -- RiskCheck ---------------------------------------------------------------------------------


def test_risk_check_opt_out_is_off_by_default_stored_and_returned(client, key):  # noqa: F811
    assert new_service(client, key)["risk_check_opt_out_enabled"] is False
    service = new_service(client, key, RiskCheckOptOutEnabled="true")
    assert service["risk_check_opt_out_enabled"] is True
    assert '"risk_check_opt_out_enabled": true' in _stored(service["sid"])


def test_risk_check_disable_is_60200_where_the_service_does_not_allow_it(client, key, outbox):  # noqa: F811
    allowing = new_service(client, key, RiskCheckOptOutEnabled="true")["sid"]
    other = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, other, RiskCheck="disable")
    assert status == 400 and twilio_error(body) == 60200 and "`RiskCheck`" in body["message"]
    assert "RiskCheckOptOutEnabled" in body["message"] and not outbox
    default = call(client, key, "GET", "/v2/Services")[1]["services"][0]["sid"]  # the stage's own
    assert _start(client, key, default, RiskCheck="disable")[1]["code"] == 60200
    assert _start(client, key, allowing, RiskCheck="disable")[0] == 201
    assert _start(client, key, other, RiskCheck="enable")[0] == 201


def test_risk_check_disable_passes_the_prefix_limit_in_the_allowing_service_only(configured, key):  # noqa: F811
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="2")
    allowing = new_service(client, key, RiskCheckOptOutEnabled="true")["sid"]
    other = new_service(client, key)["sid"]
    assert _start(client, key, other, US)[0] == 201
    assert _start(client, key, other, US2)[0] == 201
    status, body, _ = _start(client, key, other, US3)
    assert (status, twilio_error(body)) == (403, 60410)  # the prefix's limit: Fraud Guard's code
    status, body, _ = _start(client, key, allowing, US3)  # the allowing Service, risk check on
    assert (status, twilio_error(body)) == (403, 60410)
    assert _start(client, key, allowing, US3, RiskCheck="disable")[0] == 201
    assert _start(client, key, allowing, US4, RiskCheck="disable")[0] == 201
    assert _start(client, key, other, US4)[1]["code"] == 60410  # still full for everyone else


def test_risk_check_disable_passes_a_suspended_breaker_and_still_feeds_it(configured, key):  # noqa: F811
    client = configured(OTP_BREAKER_MIN_SENDS="2", OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="100")
    allowing = new_service(client, key, RiskCheckOptOutEnabled="true")["sid"]
    other = new_service(client, key)["sid"]
    # Two unconverted sends with the risk check off: counted as the breaker's samples.
    assert _start(client, key, allowing, US, RiskCheck="disable")[0] == 201
    assert _start(client, key, allowing, US2, RiskCheck="disable")[0] == 201
    status, body, _ = _start(client, key, other, US3)  # trips the range's breaker
    assert (status, twilio_error(body)) == (403, 60410)
    assert _start(client, key, other, US4)[1]["code"] == 60410
    assert _start(client, key, allowing, US4, RiskCheck="disable")[0] == 201


def test_risk_check_disable_keeps_the_verifications_and_the_numbers_limits(configured, key, clock):  # noqa: F811
    client = configured(OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW="6")
    sid = new_service(client, key, RiskCheckOptOutEnabled="true")["sid"]
    for _ in range(5):
        assert _start(client, key, sid, US, RiskCheck="disable")[0] == 201
    status, body, _ = _start(client, key, sid, US, RiskCheck="disable")
    assert (status, twilio_error(body)) == (429, 60203)  # five sends per verification
    cancel = f"/v2/Services/{sid}/Verifications/{US}"
    assert call(client, key, "POST", cancel, {"Status": "canceled"})[0] == 200
    assert _start(client, key, sid, US, RiskCheck="disable")[0] == 201  # the number's sixth send
    assert call(client, key, "POST", cancel, {"Status": "canceled"})[0] == 200
    status, body, headers = _start(client, key, sid, US, RiskCheck="disable")
    assert (status, twilio_error(body)) == (429, 60203), body  # the number's send window
    assert int(headers["Retry-After"]) > 0


def test_risk_check_disable_keeps_the_countries_and_the_budget(configured, key):  # noqa: F811
    client = configured(OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1")
    sid = new_service(client, key, RiskCheckOptOutEnabled="true", AllowedCountries="US")["sid"]
    assert _start(client, key, sid, GB, RiskCheck="disable")[1]["code"] == 60605
    assert _start(client, key, sid, US, RiskCheck="disable")[0] == 201
    status, body, _ = _start(client, key, sid, US2, RiskCheck="disable")
    assert status in (429, 503) and twilio_error(body) != 60410, body  # the budget, not Fraud Guard


def test_risk_check_disable_is_for_sms_only_as_at_twilio(configured, key):  # noqa: F811
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1")
    sid = new_service(client, key, RiskCheckOptOutEnabled="true")["sid"]
    assert _start(client, key, sid, US, Channel="call")[0] == 201
    status, body, _ = _start(client, key, sid, US2, Channel="call", RiskCheck="disable")
    assert (status, twilio_error(body)) == (403, 60410)  # "For SMS channel only"


def test_a_key_limited_to_the_service_cannot_turn_the_risk_check_off(client, key, monkeypatch):  # noqa: F811
    """A key handed to one app (limited to its Service) acts on that Service, but turning the
    pumping defences off is the account's decision: a leaked app key cannot grant it itself."""
    from scripts.keys.api_keys import create

    sid = new_service(client, key)["sid"]
    limited = create("test", "app", services=[sid])
    expire_cache(monkeypatch, 1.5)  # a second later: the new key is read
    status, body, _ = call(client, limited, "POST", f"/v2/Services/{sid}", {"RiskCheckOptOutEnabled": "true"})
    assert (status, twilio_error(body)) == (403, 20403), body
    assert call(client, key, "GET", f"/v2/Services/{sid}")[1]["risk_check_opt_out_enabled"] is False
    assert call(client, limited, "POST", f"/v2/Services/{sid}", {"FriendlyName": "Shop"})[0] == 200
    assert call(client, limited, "POST", f"/v2/Services/{sid}", {"RiskCheckOptOutEnabled": "false"})[0] == 200
    other = new_service(client, key)["sid"]
    assert call(client, limited, "POST", f"/v2/Services/{other}", {"FriendlyName": "X"})[0] == 403
    assert call(client, key, "POST", f"/v2/Services/{sid}", {"RiskCheckOptOutEnabled": "true"})[0] == 200
    assert _start(client, limited, sid, RiskCheck="disable")[0] == 201  # the account allowed it
