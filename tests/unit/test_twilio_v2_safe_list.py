"""Twilio's Safe List (``/v2/SafeList/Numbers``, issue 33): the resource in Twilio's shapes and
errors, and its effect: a safe number passes the conversion breakers' suspensions and the stage's
country allow-list (the one ``trusted`` rule of chalicelib/verify/limits.py), while its per-number
and per-verification limits still hold.

References: https://www.twilio.com/docs/verify/api/safe-list, the error page 60411
(https://www.twilio.com/docs/api/errors/60411), Twilio's OpenAPI document twilio_verify_v2's
``verify.v2.safelist`` schema (tests/data/twilio-oai)."""

from __future__ import annotations

import json
import re

import boto3
import pytest

from tests.conftest import TABLE
from tests.integration import twilio_oai
from tests.unit.test_concurrent_writes import slow_dynamodb  # noqa: F401  (a fixture)
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

SAFE = "/v2/SafeList/Numbers"
# One prefix (the number without its last 3 digits: +14155552): the breaker's range.
NEIGHBOURS = ["+14155552670", "+14155552671", "+14155552672", "+14155552673"]
SAFE_NUMBER, NEXT_DOOR = "+14155552675", "+14155552676"


@pytest.fixture
def client(configured):
    return configured(OTP_ATTEMPTS="false", OTP_BREAKER_MIN_SENDS="3", OTP_RESEND_INTERVAL_SECONDS="0")


def _start(client, key, sid: str, to: str):  # noqa: F811
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": "sms"})


def _sent_to(outbox, to: str) -> int:
    return sum(1 for message in outbox if message["to"] == to)


# -- the resource -----------------------------------------------------------------------------


def test_add_fetch_and_remove_a_number_in_twilios_shapes(client, key):  # noqa: F811
    status, added, _ = call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    assert status == 201, added
    assert set(added) == {"sid", "phone_number", "url"}
    schema = twilio_oai.load()["components"]["schemas"]["verify.v2.safelist"]["properties"]
    assert re.fullmatch(schema["sid"]["pattern"].strip("^$"), added["sid"])
    assert added["phone_number"] == SAFE_NUMBER and added["url"].endswith(f"{SAFE}/{SAFE_NUMBER}")
    status, fetched, _ = call(client, key, "GET", f"{SAFE}/{SAFE_NUMBER}")
    assert (status, fetched) == (200, added)
    status, encoded, _ = call(client, key, "GET", f"{SAFE}/%2B14155552675")  # a client that encodes the +
    assert (status, encoded) == (200, added)
    status, body, _ = call(client, key, "DELETE", f"{SAFE}/{SAFE_NUMBER}")
    assert status == 204
    status, body, _ = call(client, key, "GET", f"{SAFE}/{SAFE_NUMBER}")
    assert status == 404 and twilio_error(body) == 20404
    status, body, _ = call(client, key, "DELETE", f"{SAFE}/{SAFE_NUMBER}")  # a second DELETE
    assert status == 404 and twilio_error(body) == 20404
    status, again, _ = call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})  # back: the same SID
    assert (status, again["sid"]) == (201, added["sid"])


def test_a_number_on_the_list_already_is_60411_in_any_spelling(client, key):  # noqa: F811
    assert call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})[0] == 201
    for spelling in (SAFE_NUMBER, "+1 415-555-2675", "+1 (415) 555 2675"):
        status, body, _ = call(client, key, "POST", SAFE, {"PhoneNumber": spelling})
        assert status == 400 and twilio_error(body) == 60411, spelling
    status, fetched, _ = call(client, key, "GET", f"{SAFE}/+1 415 555 2675")
    assert status == 200 and fetched["phone_number"] == SAFE_NUMBER  # keyed by its E.164 form


@pytest.mark.parametrize("form", [{}, {"PhoneNumber": ""}, {"PhoneNumber": "4155552675"},
                                  {"PhoneNumber": "+1415555"}, {"PhoneNumber": "+１４１５５５５２６７５"},
                                  {"PhoneNumber": "alice@example.com"},
                                  {"PhoneNumber": SAFE_NUMBER, "FriendlyName": "x"}])
def test_a_bad_form_is_60200(client, key, form):  # noqa: F811
    status, body, _ = call(client, key, "POST", SAFE, form)
    assert status == 400 and twilio_error(body) == 60200, body


@pytest.mark.parametrize("path", ["nothing", "%2B1415", "+999999999999", "%ZZ"])
def test_a_bad_path_is_60200_never_a_500(client, key, path):  # noqa: F811
    for method in ("GET", "DELETE"):
        status, body, _ = call(client, key, method, f"{SAFE}/{path}")
        assert status == 400 and twilio_error(body) == 60200, (method, path, body)


def test_a_key_limited_to_some_services_gets_20403(client, key, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import create
    from tests.unit.test_v2_credentials import expire_cache

    mine = new_service(client, key)
    limited = create("test", "limited", services=[mine["sid"]])
    expire_cache(monkeypatch, 1.5)  # a second later: the new key is read
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    for method, path, form in (("POST", SAFE, {"PhoneNumber": NEXT_DOOR}),
                               ("GET", f"{SAFE}/{SAFE_NUMBER}", None), ("DELETE", f"{SAFE}/{SAFE_NUMBER}", None)):
        status, body, _ = call(client, limited, method, path, form)
        assert status == 403 and twilio_error(body) == 20403, (method, body)
    assert call(client, key, "GET", f"{SAFE}/{SAFE_NUMBER}")[0] == 200  # still there


def test_the_table_never_holds_the_number(client, key):  # noqa: F811
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    items = json.dumps(boto3.client("dynamodb").scan(TableName=TABLE)["Items"])
    assert "safe#" in items and SAFE_NUMBER[1:] not in items and "4155552675" not in items


# -- what a safe number passes, and what it does not -----------------------------------------


def test_a_safe_number_in_a_suspended_prefix_is_sent_while_its_neighbour_is_refused(client, key, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    for to in NEIGHBOURS[:3]:  # three sends, none approved: OTP_BREAKER_MIN_SENDS
        assert _start(client, key, sid, to)[0] == 201
    status, body, _ = _start(client, key, sid, NEIGHBOURS[3])  # trips the prefix's breaker
    assert status == 403 and twilio_error(body) == 60410
    status, body, _ = _start(client, key, sid, NEXT_DOOR)
    assert status == 403 and twilio_error(body) == 60410 and _sent_to(outbox, NEXT_DOOR) == 0
    status, body, _ = _start(client, key, sid, SAFE_NUMBER)
    assert status == 201, body
    assert _sent_to(outbox, SAFE_NUMBER) == 1
    call(client, key, "DELETE", f"{SAFE}/{SAFE_NUMBER}")  # off the list: refused as its neighbours
    status, body, _ = _start(client, key, new_service(client, key, FriendlyName="Other")["sid"], SAFE_NUMBER)
    assert status == 403 and twilio_error(body) == 60410


def test_a_safe_number_keeps_its_per_verification_and_per_number_limits(client, key, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    for _ in range(5):  # Twilio's 5 sends per verification
        assert _start(client, key, sid, SAFE_NUMBER)[0] == 201
    status, body, _ = _start(client, key, sid, SAFE_NUMBER)
    assert status == 429 and twilio_error(body) == 60203, body
    assert _sent_to(outbox, SAFE_NUMBER) == 5


def test_a_safe_number_passes_the_stages_country_list_and_its_neighbour_does_not(configured, key, outbox):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false", OTP_ALLOWED_COUNTRIES="US")
    sid = new_service(client, key)["sid"]
    london, other = "+447911123456", "+447911123457"
    call(client, key, "POST", SAFE, {"PhoneNumber": london})
    status, body, _ = _start(client, key, sid, other)
    assert status == 403 and twilio_error(body) == 60605
    status, body, _ = _start(client, key, sid, london)
    assert status == 201, body
    assert _sent_to(outbox, london) == 1 and _sent_to(outbox, other) == 0


def test_a_services_own_allowed_countries_still_hold_for_a_safe_number(configured, key):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false")
    sid = new_service(client, key, AllowedCountries="US")["sid"]
    london = "+447911123456"
    call(client, key, "POST", SAFE, {"PhoneNumber": london})
    status, body, _ = _start(client, key, sid, london)
    assert status == 403 and twilio_error(body) == 60605


def test_a_start_that_passes_never_reads_the_safe_list(client, key, monkeypatch):  # noqa: F811
    from chalicelib.verify.safe_list import SafeList

    def refuse(*_):
        raise AssertionError("the Safe List was read on a start nothing refused")

    monkeypatch.setattr(SafeList, "contains", refuse)
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid, SAFE_NUMBER)[0] == 201


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_add_or_remove_answers_as_the_write_it_was(client, key, kind):  # noqa: F811
    """botocore retries a write whose answer was lost: the token makes the retry find its own
    add (201, not 60411) and its own removal (204, not 20404)."""
    from chalicelib import wiring
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("safe_list", kind)
    status, body, _ = call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    assert status == 201 and ("safe_list", kind) in faults.hit, body
    faults.arm("safe_list", kind)
    status, body, _ = call(client, key, "DELETE", f"{SAFE}/{SAFE_NUMBER}")
    assert status == 204 and faults.hit.count(("safe_list", kind)) == 2, body
    assert call(client, key, "GET", f"{SAFE}/{SAFE_NUMBER}")[0] == 404


def test_a_safe_number_still_meets_the_send_budget(configured, key, outbox):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false", OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1")
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    assert _start(client, key, sid, NEXT_DOOR)[0] == 201  # the hour's one send
    status, body, _ = _start(client, key, sid, SAFE_NUMBER)
    assert status == 429 and _sent_to(outbox, SAFE_NUMBER) == 0, body


def test_a_safe_number_of_a_refused_type_is_still_refused(client, key, outbox):  # noqa: F811
    voip = "+445612345678"  # a UK VoIP number (OTP_SMS_ALLOWED_SPECIAL_TYPES allows none by default)
    sid = new_service(client, key)["sid"]
    assert call(client, key, "POST", SAFE, {"PhoneNumber": voip})[0] == 201
    status, body, _ = _start(client, key, sid, voip)
    assert status == 403 and twilio_error(body) == 60205 and _sent_to(outbox, voip) == 0, body


def test_a_safe_number_still_meets_its_services_rate_limits(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, limit, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {"UniqueName": "ip"})
    call(client, key, "POST", f"/v2/Services/{sid}/RateLimits/{limit['sid']}/Buckets", {"Max": "1", "Interval": "60"})
    for number in (SAFE_NUMBER, NEXT_DOOR):
        call(client, key, "POST", SAFE, {"PhoneNumber": number})
    form = {"Channel": "sms", "RateLimits": json.dumps({"ip": "203.0.113.7"})}
    path = f"/v2/Services/{sid}/Verifications"
    assert call(client, key, "POST", path, {"To": SAFE_NUMBER, **form})[0] == 201
    status, body, _ = call(client, key, "POST", path, {"To": NEXT_DOOR, **form})
    assert status == 429 and twilio_error(body) == 20429, body


def test_a_safe_number_passes_a_calls_suspended_breaker_too(client, key, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    path = f"/v2/Services/{sid}/Verifications"
    for to in NEIGHBOURS[:3]:
        assert call(client, key, "POST", path, {"To": to, "Channel": "call"})[0] == 201
    status, body, _ = call(client, key, "POST", path, {"To": NEXT_DOOR, "Channel": "call"})
    assert status == 403 and twilio_error(body) == 60410
    status, body, _ = call(client, key, "POST", path, {"To": SAFE_NUMBER, "Channel": "call"})
    assert status == 201, body


def test_what_the_safe_list_costs_a_start(client, key, slow_dynamodb):  # noqa: F811
    """A start nothing refuses: no read of the list, the same two sequential round trips. A safe
    number in a suspended prefix, on that path only: the refused counters' wave, then (after the
    give-backs, which go through their own client, not timed here) one consistent GetItem of the
    list and the counters' wave again: 4 timed round trips, 5 with the give-backs."""
    from bench.floor import sequential_round_trips
    from chalicelib import wiring

    sid = new_service(client, key)["sid"]
    call(client, key, "POST", SAFE, {"PhoneNumber": SAFE_NUMBER})
    for to in NEIGHBOURS:
        _start(client, key, sid, to)  # the fourth trips the breaker
    calls = slow_dynamodb(wiring.get_service())
    assert _start(client, key, sid, "+14155559999")[0] == 201  # another prefix: nothing refuses
    plain = calls.take()
    assert _start(client, key, sid, SAFE_NUMBER)[0] == 201
    safe = calls.take()
    reads = [c for c in safe if c["operation"] == "GetItem" and c["params"]["Key"]["pk"]["S"].startswith("safe#")]
    assert not [c for c in plain if c["params"]["Key"]["pk"]["S"].startswith("safe#")]
    assert len(reads) == 1 and reads[0]["params"]["ConsistentRead"] is True
    print(f"\nround trips: a start nothing refuses {sequential_round_trips(plain)}, "
          f"a safe number in a suspended prefix {sequential_round_trips(safe)}")
    assert sequential_round_trips(plain) == 2 and sequential_round_trips(safe) == 4
