"""POST /v1/verifications: start a verification, or resend while one is pending."""

from __future__ import annotations

from tests.conftest import reset_app

import json
import re

import pytest

from chalicelib.channels.providers import ProviderError
from tests.conftest import last_code
from tests.unit.helpers import (
    NUMBER,
    PhoneNumberType,
    check,
    error_code,
    example,
    get,
    post,
    start,
)


def test_new_verification_is_201_with_the_contract_fields(client, outbox, clock):
    status, body, headers = start(client)
    assert status == 201
    assert set(body) == {"id", "to", "channel", "status", "expires_at", "send_count", "resend_after", "provider"}
    assert re.fullmatch(r"VE[0-9a-f]{32}", body["id"])  # Twilio's SID (tests/unit/test_sids.py)
    assert body["to"] == NUMBER
    assert body["channel"] == "sms"
    assert body["status"] == "pending"
    assert body["send_count"] == 1
    assert body["resend_after"] == 30
    assert body["expires_at"] == "2027-01-15T08:10:00Z"  # clock start + 600 s, UTC
    assert headers["Content-Type"] == "application/json"
    assert len(outbox) == 1 and outbox[0]["to"] == NUMBER


def test_sms_text_follows_the_template_and_keeps_leading_zeros(client, outbox, monkeypatch):
    monkeypatch.setattr("chalicelib.codes.secrets.randbelow", lambda n: 42)
    start(client)
    assert outbox[0]["body"] == "Your Verify verification code is 000042. It expires in 10 minutes."


def test_webotp_domain_adds_the_origin_bound_last_line(aws, outbox, monkeypatch, clock):
    import app as app_module
    from chalice.test import Client
    from tests.conftest import ROOT

    monkeypatch.setenv("OTP_WEBOTP_DOMAIN", "example.com")
    reset_app()
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        start(c)
    code = last_code(outbox)
    assert outbox[0]["body"].splitlines()[-1] == f"@example.com #{code}"


def test_national_number_is_read_with_country_and_normalised(client):
    status, body, _ = start(client, to="020 7946 0958", country="GB")
    assert status == 400 and error_code(body) == "unsupported_number_type"  # a London landline
    status, body, _ = start(client, to="07400 123456", country="GB")
    assert status == 201 and body["to"] == "+447400123456"


def test_default_region_reads_national_numbers(client):
    status, body, _ = start(client, to="(415) 555-2671")
    assert status == 201 and body["to"] == NUMBER


@pytest.mark.parametrize(
    "to",
    ["", "+1", "+1415555267", "+999123456789", "hello", "+1 415 FLOWERS", "+1４１５５５５２６７１",
     "+1415555267١", "1" * 50, " "],
)
def test_invalid_numbers_are_invalid_phone_number(client, to):
    status, body, _ = start(client, to=to)
    assert status == 400 and error_code(body) == "invalid_phone_number"


@pytest.mark.parametrize(
    "region,number_type",
    [
        ("GB", PhoneNumberType.FIXED_LINE),
        ("GB", PhoneNumberType.PREMIUM_RATE),
        ("FR", PhoneNumberType.SHARED_COST),
        ("GB", PhoneNumberType.TOLL_FREE),
        ("GB", PhoneNumberType.UAN),
        ("DE", PhoneNumberType.VOICEMAIL),
        ("GB", PhoneNumberType.PAGER),
        ("US", PhoneNumberType.TOLL_FREE),
        ("US", PhoneNumberType.PREMIUM_RATE),
        ("FR", PhoneNumberType.FIXED_LINE),
    ],
)
def test_numbers_that_must_not_get_sms_are_refused(client, outbox, region, number_type):
    status, body, _ = start(client, to=example(region, number_type))
    assert status == 400 and error_code(body) == "unsupported_number_type"
    assert len(outbox) == 0


@pytest.mark.parametrize("region", ["GB", "DE", "IN", "BR", "JP"])
def test_mobile_numbers_are_accepted(client, region):
    status, body, _ = start(client, to=example(region, PhoneNumberType.MOBILE))
    assert status == 201, body


@pytest.mark.parametrize("channel", ["email", "SMS", "whatsapp", "push"])  # email, whatsapp: not enabled
def test_other_channels_are_unsupported(client, outbox, channel):
    status, body, _ = start(client, channel=channel)
    assert status == 400 and error_code(body) == "unsupported_channel"
    assert len(outbox) == 0


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"",
        b"[]",
        b'"+14155552671"',
        b"null",
        json.dumps({"to": 14155552671}).encode(),
        json.dumps({"to": NUMBER, "channel": 1}).encode(),
        json.dumps({"to": NUMBER, "country": ["US"]}).encode(),
        json.dumps({"to": NUMBER, "extra": 1}).encode(),
        json.dumps({"to": NUMBER, "locale": "english please"}).encode(),
        json.dumps({"to": NUMBER, "country": "USA"}).encode(),
        json.dumps({"to": NUMBER, "country": "ZZ"}).encode(),
        json.dumps({}).encode(),
        json.dumps({"to": NUMBER, "locale": "en", "pad": "x" * 5000}).encode(),
        b"[" * 100_000,
    ],
)
def test_malformed_bodies_are_invalid_request(client, outbox, raw):
    status, body, _ = post(client, "/v1/verifications", raw, raw=True)
    assert status == 400 and error_code(body) == "invalid_request"
    assert len(outbox) == 0


def test_body_over_4_kib_is_refused_even_when_valid_json(client):
    raw = json.dumps({"to": NUMBER + " " * 4100})
    status, body, _ = post(client, "/v1/verifications", raw, raw=True)
    assert status == 400 and "4096" in body["error"]["message"]


def test_resend_keeps_the_id_and_the_old_code_and_counts_the_send(client, outbox, clock):
    # Issue 29: every code sent stays valid until the verification ends (was: a resend kills
    # the old code, which failed every user whose first SMS arrived late).
    _, first, _ = start(client)
    old_code = last_code(outbox)
    clock.advance(30)
    status, second, _ = start(client)
    new_code = last_code(outbox)
    assert status == 200
    assert second["id"] == first["id"]
    assert second["send_count"] == 2
    assert len(outbox) == 2
    assert check(client, old_code)[0] == 200
    if new_code != old_code:  # 1 in a million they coincide
        status, body, _ = check(client, new_code)
        assert status == 404 and error_code(body) == "verification_not_found"  # approved: over


def test_resend_does_not_reset_the_failure_counter(client, outbox, clock):
    start(client)
    wrong = f"{(int(last_code(outbox)) + 1) % 10**6:06d}"
    check(client, wrong)
    check(client, wrong)
    clock.advance(30)
    _, body, _ = start(client)
    _, status_body, _ = get(client, f"/v1/verifications/{body['id']}")
    assert status_body["attempts_remaining"] == 3


def test_resend_too_soon_is_429_with_retry_after(client, outbox, clock):
    start(client)
    clock.advance(10.2)
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "resend_too_soon"
    assert body["error"]["retry_after"] == 20
    assert headers["Retry-After"] == "20"
    assert len(outbox) == 1
    clock.advance(19.8)
    assert start(client)[0] == 200


def test_too_many_sends_is_429_until_the_verification_expires(client, outbox, clock):
    for _ in range(5):
        assert start(client)[0] in (200, 201)
        clock.advance(30)
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "too_many_sends"
    # A resend never extends the verification (issue 29): it expires at +600 s; we are at +150 s.
    assert body["error"]["retry_after"] == 450 and headers["Retry-After"] == "450"
    assert len(outbox) == 5
    clock.advance(450)
    assert start(client)[0] == 201


def test_a_new_verification_follows_an_approved_one(client, outbox):
    _, first, _ = start(client)
    assert check(client, last_code(outbox))[0] == 200
    status, second, _ = start(client)
    assert status == 201 and second["id"] != first["id"] and second["send_count"] == 1


def test_a_new_verification_follows_an_expired_one(client, outbox, clock):
    _, first, _ = start(client)
    clock.advance(600)
    status, second, _ = start(client)
    assert status == 201 and second["id"] != first["id"]


def test_a_locked_verification_cannot_be_restarted_until_it_expires(client, outbox, clock):
    start(client)
    wrong = f"{(int(last_code(outbox)) + 1) % 10**6:06d}"
    for _ in range(5):
        check(client, wrong)
    clock.advance(30)
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "max_attempts_reached"
    assert headers["Retry-After"] == "570"
    assert len(outbox) == 1


class FailingProvider:
    name = "failing"

    def __init__(self, permanent: bool = False) -> None:
        self.permanent = permanent
        self.calls = 0

    def send_sms(self, to, message):
        self.calls += 1
        raise ProviderError("failing", permanent=self.permanent, detail="HTTP 503")


def test_failed_delivery_is_502_and_leaves_nothing_behind(client, service, outbox, monkeypatch):
    console = service._providers.get("console")
    service._providers.replace("console", FailingProvider())
    status, body, _ = start(client)
    assert status == 502 and error_code(body) == "delivery_failed"
    service._providers.replace("console", console)
    status, body, _ = start(client)  # no resend interval, no used-up send
    assert status == 201 and body["send_count"] == 1


def test_failed_resend_gives_back_the_send_the_interval_and_the_old_code(
    client, service, outbox, clock, monkeypatch
):
    start(client)
    clock.advance(30)
    console = service._providers.get("console")
    service._providers.replace("console", FailingProvider())
    assert start(client)[0] == 502
    service._providers.replace("console", console)
    status, body, _ = start(client)
    assert status == 200 and body["send_count"] == 2  # the failed send was not counted
    clock.advance(30)
    service._providers.replace("console", FailingProvider())
    start(client)
    service._providers.replace("console", console)
    assert check(client, last_code(outbox))[0] == 200  # the code before the failure still works


def test_a_provider_bug_is_a_502_not_a_500(client, service, monkeypatch):
    class Broken:
        name = "broken"

        def send_sms(self, to, message):
            raise RuntimeError("bug")

    service._providers.replace("console", Broken())
    status, body, _ = start(client)
    assert status == 502 and error_code(body) == "delivery_failed"


def test_a_write_storm_on_one_number_is_429_with_retry_after_never_a_500(client, monkeypatch):
    """Each try's create finds an item that stopped being live between the two writes (what
    concurrent starts, checks and cancels on one number can make happen three times in a row):
    the request answers 429 `resend_too_soon` with Retry-After (v2: 60212), not a 500."""
    from chalicelib import wiring
    from chalicelib.dynamodb import ConditionFailed

    store = wiring.get_service()._store
    calls = []

    def create(*args, **kwargs):
        calls.append(1)
        raise ConditionFailed(None)  # no live verification, no limit used: start again

    monkeypatch.setattr(store, "create", create)
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "resend_too_soon", body
    assert headers["Retry-After"] == "1" and len(calls) == 3
