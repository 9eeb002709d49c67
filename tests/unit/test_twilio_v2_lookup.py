"""Issue 29: a Service's `LookupEnabled` and `SkipSmsToLandlines`, through the /v2 routes.

Twilio's Service resource: lookup_enabled "Whether to perform a lookup with each verification
started and return info about the phone number"; skip_sms_to_landlines "Whether to skip
sending SMS verifications to landlines. Requires `lookup_enabled`" (tests/data/twilio-oai,
the Service's properties). The Verification's `lookup` is `{}` without a lookup and
`{"carrier": {"error_code", "mobile_country_code", "mobile_network_code", "name", "type"}}`
with one (the document's createVerification examples). Twilio's 60205: "SMS is not supported
by landline phone number", 403 (https://www.twilio.com/docs/api/errors/60205).

The number's type is phonenumbers' (chalicelib/channels/phone.py): a NANP number (+1) is "fixed line
or mobile" there, so its type is unknown (null) and an SMS to it goes."""

from __future__ import annotations

import pytest

from tests.unit.helpers import NUMBER, PhoneNumberType, example
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")

GB_LANDLINE = "+442079460000"  # Ofcom's drama range, London (phonenumbers: FIXED_LINE)
GB_MOBILE = "+447400123456"  # phonenumbers' GB mobile example
LOOKUP = {"LookupEnabled": "true"}
SKIP = {"LookupEnabled": "true", "SkipSmsToLandlines": "true"}
_NO_CARRIER = {"error_code": None, "mobile_country_code": None, "mobile_network_code": None, "name": None}


def _start(client, key, sid: str, to: str, channel: str = "sms"):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": channel})


def test_the_numbers_chosen_are_what_phonenumbers_says():
    """phonenumberslite's metadata has the types (number_type works on it), and NANP's is
    "fixed line or mobile"."""
    import phonenumbers

    numbers = [phonenumbers.parse(n) for n in (GB_LANDLINE, GB_MOBILE, NUMBER)]
    assert [phonenumbers.region_code_for_number(n) for n in numbers] == ["GB", "GB", "US"]
    kinds = [phonenumbers.number_type(n) for n in numbers]
    assert kinds == [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE]


def test_skip_sms_to_landlines_answers_60205_and_sends_nothing(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, **SKIP)["sid"]
    status, body, _ = _start(client, key, sid, GB_LANDLINE)
    assert (status, twilio_error(body)) == (403, 60205)
    assert not outbox
    # Nothing was counted either: the same number by call starts at once (no live verification,
    # no send window used).
    status, body, _ = _start(client, key, sid, GB_LANDLINE, "call")
    assert status == 201 and [a["channel"] for a in body["send_code_attempts"]] == ["call"], body


def test_without_the_flag_an_sms_to_a_landline_is_still_refused(client, key, outbox):  # noqa: F811
    """Stricter than Twilio, on purpose (docs/twilio-verify.md): a landline cannot take the SMS
    and the send is still billed, so no Service sends one, whatever the flag says."""
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid, GB_LANDLINE)
    assert (status, twilio_error(body)) == (403, 60205) and not outbox


def test_a_call_to_a_landline_goes_with_the_flag_and_shows_its_type(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, **SKIP)["sid"]
    status, body, _ = _start(client, key, sid, GB_LANDLINE, "call")
    assert status == 201, body
    assert len(outbox) == 1
    assert body["lookup"] == {"carrier": {**_NO_CARRIER, "type": "landline"}}


@pytest.mark.parametrize("to,kind", [(GB_MOBILE, "mobile"), (NUMBER, None)])
def test_a_mobile_and_a_nanp_number_go_by_sms_with_the_flag(client, key, outbox, to, kind):  # noqa: F811
    """NANP: phonenumbers cannot tell a fixed line from a mobile there, so the type is unknown
    (null, never a guess) and the SMS goes (never skipped)."""
    sid = new_service(client, key, **SKIP)["sid"]
    status, body, _ = _start(client, key, sid, to)
    assert status == 201 and len(outbox) == 1, body
    assert body["lookup"] == {"carrier": {**_NO_CARRIER, "type": kind}}


def test_lookup_is_computed_on_every_answer_of_the_service(client, key, outbox):  # noqa: F811
    """Fetch, the list and the by-number read show it too (computed at answer time, nothing
    stored); a Service without LookupEnabled shows `{}` as Twilio does."""
    sid = new_service(client, key, **LOOKUP)["sid"]
    created = _start(client, key, sid, GB_MOBILE)[1]
    for path in (f"/v2/Services/{sid}/Verifications/{created['sid']}",
                 f"/v2/Services/{sid}/Verifications/{GB_MOBILE}"):
        status, body, _ = call(client, key, "GET", path)
        assert status == 200 and body["lookup"]["carrier"]["type"] == "mobile", body
    plain = new_service(client, key)["sid"]
    assert _start(client, key, plain, GB_MOBILE)[1]["lookup"] == {}


def test_turning_lookup_off_empties_lookup(client, key, outbox):  # noqa: F811
    sid = new_service(client, key, **LOOKUP)["sid"]
    ve = _start(client, key, sid, GB_MOBILE)[1]["sid"]
    assert call(client, key, "POST", f"/v2/Services/{sid}", {"LookupEnabled": "false"})[0] == 200
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/Verifications/{ve}")
    assert status == 200 and body["lookup"] == {}, body


def test_an_email_verification_has_no_lookup(configured, key):  # noqa: F811
    client = configured(OTP_EMAIL_PROVIDER="console")
    sid = new_service(client, key, **LOOKUP)["sid"]
    status, body, _ = _start(client, key, sid, "alice@example.com", "email")
    assert status == 201 and body["lookup"] == {}, body


def test_a_voip_number_the_stage_allows_shows_voip(configured, key, outbox):  # noqa: F811
    client = configured(OTP_SMS_ALLOWED_SPECIAL_TYPES="voip")
    sid = new_service(client, key, **SKIP)["sid"]
    status, body, _ = _start(client, key, sid, example("GB", PhoneNumberType.VOIP))
    assert status == 201 and body["lookup"]["carrier"]["type"] == "voip", body
