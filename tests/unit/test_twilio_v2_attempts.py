"""Twilio's Verification Attempts and their Summary on /v2 (issue 20; on by default since issue
29): each send is an attempt and its verification's approval converts it, written in the waves
the verification's writes already make (chalicelib/verify/attempts.py). Shapes: Twilio's OpenAPI
document twilio_verify_v2 (VerificationAttempt, VerificationAttemptsSummary)."""

from __future__ import annotations

import pytest

from bench.floor import sequential_round_trips, waves
from chalicelib import wiring
from tests.conftest import last_code
from tests.unit.test_concurrent_writes import slow_dynamodb  # noqa: F401  (a fixture)
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

A, B, C = "+14155552671", "+14155552672", "+447400123456"


@pytest.fixture
def client(configured):
    return configured(OTP_ATTEMPTS="true", OTP_RESEND_INTERVAL_SECONDS="0")


def verify(client, key, sid: str, to: str) -> dict:
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": "sms"})
    assert status == 201, body
    return body


def test_attempts_are_listed_converted_and_summarised(client, key, outbox):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    approved = verify(client, key, first, A)
    resent = verify(client, key, first, A)  # a resend: a second attempt of the same verification
    code = last_code(outbox)
    assert call(client, key, "POST", f"/v2/Services/{first}/VerificationCheck", {"To": A, "Code": code})[1]["valid"]
    verify(client, key, second, B)

    status, body, _ = call(client, key, "GET", "/v2/Attempts")
    assert status == 200 and body["meta"]["key"] == "attempts" and len(body["attempts"]) == 3
    assert body["attempts"][0]["date_created"] >= body["attempts"][-1]["date_created"]  # newest first
    mine = [a for a in body["attempts"] if a["verification_sid"] == approved["sid"]]
    assert {a["conversion_status"] for a in mine} == {"converted"} and len(mine) == 2
    assert {a["sid"] for a in mine} == {s["attempt_sid"] for s in resent["send_code_attempts"]}
    verify(client, key, second, C)
    assert mine[0]["channel_data"]["to"] == A and mine[0]["service_sid"] == first and mine[0]["channel"] == "sms"

    only = call(client, key, "GET", f"/v2/Attempts?VerifyServiceSid={second}&Status=unconverted")[1]["attempts"]
    assert {a["channel_data"]["to"] for a in only} == {B, C}
    assert call(client, key, "GET", "/v2/Attempts?Country=GB")[1]["attempts"][0]["channel_data"]["to"] == C
    fetched = call(client, key, "GET", f"/v2/Attempts/{mine[0]['sid']}")[1]
    assert fetched == mine[0]

    status, summary, _ = call(client, key, "GET", "/v2/Attempts/Summary")
    assert status == 200
    assert (summary["total_attempts"], summary["total_converted"], summary["total_unconverted"]) == (4, 2, 2)
    assert summary["conversion_rate_percentage"] == "50.00"
    per_service = call(client, key, "GET", f"/v2/Attempts/Summary?VerifyServiceSid={first}")[1]
    assert (per_service["total_attempts"], per_service["conversion_rate_percentage"]) == (2, "100.00")
    assert call(client, key, "GET", "/v2/Attempts/Summary?Country=GB")[1]["total_attempts"] == 1


def test_the_attempt_sids_of_a_verification_are_its_attempts(client, key):
    sid = new_service(client, key)["sid"]
    started = verify(client, key, sid, A)
    attempt = started["send_code_attempts"][0]["attempt_sid"]
    status, body, _ = call(client, key, "GET", f"/v2/Attempts/{attempt}")
    assert status == 200 and body["verification_sid"] == started["sid"]
    assert twilio_error(call(client, key, "GET", "/v2/Attempts/VL" + "0" * 32)[1]) == 20404


def test_a_send_and_its_attempt_share_a_wave(client, key, slow_dynamodb):  # noqa: F811
    sid = new_service(client, key)["sid"]
    calls = slow_dynamodb(wiring.get_service())
    verify(client, key, sid, A)
    request = [c for c in calls.take() if c["operation"] != "GetItem"]  # the Service, cached
    assert sequential_round_trips(request) == 2  # as without attempts
    assert len(waves(request)[1]) == 5  # prefix, country, budget, the attempt and its counter


def test_a_refused_send_is_no_attempt(configured, key):
    client = configured(OTP_ATTEMPTS="true", OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    sid = new_service(client, key)["sid"]
    verify(client, key, sid, A)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": B, "Channel": "sms"})
    assert status == 429 and twilio_error(body) == 20429
    assert [a["channel_data"]["to"] for a in call(client, key, "GET", "/v2/Attempts")[1]["attempts"]] == [A]
    assert call(client, key, "GET", "/v2/Attempts/Summary")[1]["total_attempts"] == 1


def test_a_retried_write_is_counted_once(client, key, outbox):
    from chalicelib.verify.attempts import AttemptLog

    sid = new_service(client, key)["sid"]
    verify(client, key, sid, A)
    service = wiring.get_service()
    verification = service._store.get(service._hasher.number_key(A, sid))
    log: AttemptLog = service._attempts
    log.record(verification, "US", sid).settle()  # botocore's retry after a lost answer
    for write in log.conversions(verification, "US", sid) * 2:
        write()
    summary = call(client, key, "GET", "/v2/Attempts/Summary")[1]
    assert (summary["total_attempts"], summary["total_converted"]) == (1, 1)


def test_attempts_are_on_by_default(configured, key):
    """Twilio always has them: a stage that sets nothing records and lists its attempts."""
    client = configured()
    sid = new_service(client, key)["sid"]
    started = verify(client, key, sid, A)
    status, body, _ = call(client, key, "GET", "/v2/Attempts")
    assert status == 200 and [a["verification_sid"] for a in body["attempts"]] == [started["sid"]]
    assert call(client, key, "GET", "/v2/Attempts/Summary")[1]["total_attempts"] == 1


def test_otp_attempts_false_records_none_and_the_routes_say_so(configured, key, outbox):
    from chalicelib.verify.attempts import attempt_sid

    client = configured(OTP_ATTEMPTS="false")
    sid = new_service(client, key)["sid"]
    started = verify(client, key, sid, A)
    assert call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": A, "Code": last_code(outbox)})[1]["valid"]
    service = wiring.get_service()
    assert service._attempts is None
    table = service._store._client
    from tests.conftest import TABLE
    attempt = attempt_sid(started["sid"], 0)
    assert started["send_code_attempts"][0]["attempt_sid"] == attempt
    assert "Item" not in table.get_item(TableName=TABLE, Key={"pk": {"S": "at#" + attempt}})
    for shard in range(8):  # nothing in the index either
        assert table.query(TableName=TABLE, IndexName="attempts", KeyConditionExpression="ak = :a",
                           ExpressionAttributeValues={":a": {"S": f"at#{shard}"}})["Count"] == 0
    status, body, _ = call(client, key, "GET", "/v2/Attempts")
    assert status == 404 and twilio_error(body) == 20404 and "OTP_ATTEMPTS" in body["message"]


@pytest.mark.parametrize("query,parameter", [
    ("DateCreatedAfter=yesterday", "DateCreatedAfter"), ("Channel=fax", "Channel"), ("Status=done", "Status"),
    ("Channel=auto", "Channel"),  # a start may ask for auto; an attempt is always by one channel
    ("DateCreatedAfter=2026-01-01T00:00:00Z&DateCreatedBefore=2026-03-01T00:00:00Z", "DateCreatedAfter"),
    ("Nope=1", "Nope"),
])
def test_bad_filters_are_60200(client, key, query, parameter):
    status, body, _ = call(client, key, "GET", f"/v2/Attempts?{query}")
    assert status == 400 and twilio_error(body) == 60200 and f"`{parameter}`" in body["message"]


def test_each_channel_this_service_sends_by_is_a_filter_by_twilios_name(configured, key, outbox):
    """Twilio's enum for the Channel filter (twilio_verify_v2: verification_attempt_enum_channels,
    verification_attempts_summary_enum_channels) is sms, call, email, whatsapp, rbm; this service
    never sends by rbm, so that filter finds nothing, and a name outside the enum is 60200."""
    client = configured(OTP_ATTEMPTS="true", OTP_RESEND_INTERVAL_SECONDS="0",
                        OTP_EMAIL_PROVIDER="console", OTP_WHATSAPP_PROVIDER="console")
    sid = new_service(client, key)["sid"]
    for to, channel in (("alice@example.com", "email"), (B, "whatsapp"), (A, "sms")):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": channel})
        assert status == 201, body
    for channel, to in (("email", "alice@example.com"), ("whatsapp", B), ("sms", A)):
        status, body, _ = call(client, key, "GET", f"/v2/Attempts?Channel={channel}")
        assert status == 200 and [(a["channel"], a["channel_data"]["to"]) for a in body["attempts"]] == [(channel, to)]
        status, summary, _ = call(client, key, "GET", f"/v2/Attempts/Summary?Channel={channel}")
        assert status == 200 and summary["total_attempts"] == 1
    assert call(client, key, "GET", "/v2/Attempts?Channel=call")[1]["attempts"] == []
    assert call(client, key, "GET", "/v2/Attempts?Channel=rbm")[1]["attempts"] == []
    assert call(client, key, "GET", "/v2/Attempts/Summary?Channel=rbm")[1]["total_attempts"] == 0
    status, body, _ = call(client, key, "GET", "/v2/Attempts/Summary?Channel=fax")
    assert status == 400 and twilio_error(body) == 60200 and "`Channel`" in body["message"]


def test_a_months_range_is_one_query_a_shard_and_no_scan(client, key, clock):
    from datetime import datetime, timezone

    from chalicelib.verify.attempts import SHARDS

    sid = new_service(client, key)["sid"]
    started = verify(client, key, sid, A)
    calls = []
    wiring.get_service()._store._client.meta.events.register(
        "provide-client-params.dynamodb.*", lambda params, model, **_: calls.append((model.name, params)))
    end = datetime.fromtimestamp(clock.now + 60, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    start = datetime.fromtimestamp(clock.now + 60 - 30 * 86400, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    status, body, _ = call(client, key, "GET", f"/v2/Attempts?DateCreatedAfter={start}&DateCreatedBefore={end}")
    assert status == 200 and [a["channel_data"]["to"] for a in body["attempts"]] == [A]
    assert body["meta"]["next_page_url"] is None
    listed = [(name, params) for name, params in calls if name != "GetItem"]
    assert [name for name, _ in listed] == ["Query"] * SHARDS  # no Scan, no BatchGetItem
    assert {params["IndexName"] for _, params in listed} == {"attempts"}
    calls.clear()
    summary = call(client, key, "GET", f"/v2/Attempts/Summary?DateCreatedAfter={start}&DateCreatedBefore={end}")[1]
    assert summary["total_attempts"] == 1
    batches = [params for name, params in calls if name == "BatchGetItem"]
    assert [name for name, _ in calls if name != "GetItem"] == ["BatchGetItem"] * -(-31 * SHARDS // 100)
    assert sum(len(next(iter(p["RequestItems"].values()))["Keys"]) for p in batches) == 31 * SHARDS
    calls.clear()
    by_verification = call(client, key, "GET", f"/v2/Attempts?VerificationSid={started['sid']}")[1]["attempts"]
    assert [a["verification_sid"] for a in by_verification] == [started["sid"]]
    assert {name for name, _ in calls} == {"GetItem"}  # by key: its SIDs follow from its id
