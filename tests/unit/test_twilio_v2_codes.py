"""Every refusal in the code Twilio documents for it (issue 29, "Twilio's codes"), through the
routes and in wire.from_domain's one mapping. Each code and status is from its error page,
https://www.twilio.com/docs/api/errors/<code> (the table in docs/twilio-verify.md#errors):
60202, 60203, 60212 (429); 60205 (403); 60223 (400); 60605 (403); 20429 (429); 60410's page
gives no status (403 here, as 60605's: a delivery blocked)."""

from __future__ import annotations

import pytest

from tests.unit.helpers import NUMBER, OTHER_NUMBER, PhoneNumberType, example
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


def _start(client, key, sid: str, to: str, channel: str = "sms"):
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": channel})


def test_the_per_prefix_send_limit_is_fraud_guards_60410(configured, key):
    """The per-prefix limit is a pumping defence (numbers of one block, limits.prefix_of):
    Twilio's apps expect Fraud Guard's 60410 for it, not 20429, and a Retry-After."""
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1")
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid, NUMBER)[0] == 201
    status, body, headers = _start(client, key, sid, OTHER_NUMBER)  # the same prefix
    assert (status, twilio_error(body)) == (403, 60410) and int(headers["Retry-After"]) > 0


def test_the_per_ip_limit_stays_20429(configured, key):
    """The Service's own rate limits (per IP, the budget): Twilio's 20429 page."""
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1")
    sid = new_service(client, key)["sid"]
    form = {"To": NUMBER, "Channel": "sms", "DeviceIp": "203.0.113.9"}
    assert call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)[0] == 201
    form["To"] = OTHER_NUMBER
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)
    assert (status, twilio_error(body)) == (429, 20429)


def test_sms_to_a_landline_is_60205_with_its_pages_403(client, key):
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, example("GB", PhoneNumberType.FIXED_LINE))
    assert (status, twilio_error(body)) == (403, 60205)


@pytest.mark.parametrize("channel", ["email", "whatsapp"])
def test_a_channel_the_stage_has_not_turned_on_is_60223(client, key, channel):
    """Twilio's 60223 "Delivery channel disabled" (400), not 60200: the parameter is right,
    the channel is off. A channel name Twilio does not have stays 60200 naming `Channel`."""
    sid = new_service(client, key)["sid"]
    to = "alice@example.com" if channel == "email" else NUMBER
    status, body, _ = _start(client, key, sid, to, channel)
    assert (status, twilio_error(body)) == (400, 60223)
    status, body, _ = _start(client, key, sid, NUMBER, "rcs")
    assert (status, twilio_error(body)) == (400, 60200) and "`Channel`" in body["message"]


@pytest.mark.parametrize("name,code,status", [
    ("MaxAttemptsReached", 60202, 429), ("TooManyChecks", 60202, 429), ("TotpRetryLater", 60202, 429),
    ("TooManySends", 60203, 429), ("TooManyVerifications", 60203, 429),
    ("ResendTooSoon", 60212, 429),  # many starts for one number in a short time (or two at once)
    ("PrefixRateLimited", 60410, 403), ("PrefixSuspended", 60410, 403),
    ("CountryRateLimited", 60410, 403), ("CountrySuspended", 60410, 403),
    ("CountryNotAllowed", 60605, 403),
    ("UnsupportedNumberType", 60205, 403), ("UndeliverableNumber", 60205, 403),
    ("UnsupportedChannel", 60223, 400),
    ("IpRateLimited", 20429, 429), ("IpCheckRateLimited", 20429, 429), ("SendBudgetExhausted", 20429, 429),
])
def test_each_refusal_maps_to_the_code_and_status_twilios_page_gives(name, code, status):
    from chalicelib import errors
    from chalicelib.twilio_v2 import wire

    error = wire.from_domain(getattr(errors, name)(retry_after=7))
    assert (error.code, error.status, error.retry_after) == (code, status, 7)
    assert error.response().headers["Retry-After"] == "7"
