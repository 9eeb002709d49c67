"""POST /v1/callbacks/{provider}: signed receipts update a send's status, once, never backwards;
anything unsigned, badly signed or replayed with another body changes nothing; an undelivered
send makes the next resend use the next provider, a permanent reason refuses it.

The provider side is a stand-in for the adapter (which issue 13 rewrites): it records the
DeliveryReport the service hands it, as an adapter with ``delivery_reports = True`` would.
Callbacks are signed with chalicelib.delivery.callbacks' schemes, themselves tested against the
providers' published vectors (test_callback_signatures.py)."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urlsplit, parse_qsl

import pytest

from chalicelib.delivery.callbacks import plivo as plivo_scheme
from chalicelib.delivery.callbacks import twilio as twilio_scheme
from tests.unit.helpers import JSON, NUMBER, error_code, get, start
from chalicelib import wiring

PUBLIC = "https://verify.example.com/api"
ENV = {"OTP_PUBLIC_URL": PUBLIC, "SMS_PROVIDER": "twilio,plivo", "TWILIO_ACCOUNT_SID": "AC1",
       "TWILIO_AUTH_TOKEN": "tw-token", "TWILIO_FROM": "+15005550006", "PLIVO_AUTH_ID": "MA1",
       "PLIVO_AUTH_TOKEN": "pl-token", "PLIVO_SRC": "+15005550006", "OTP_RESEND_INTERVAL_SECONDS": "0"}


class RecordingAdapter:
    delivery_reports = True
    supports_voice = False

    def __init__(self, name):
        self.name = name
        self.reports = []

    def send_sms(self, to, message, report=None):
        self.reports.append(report)
        return f"{self.name}-{len(self.reports)}"


@pytest.fixture
def env(configured):
    client = configured(**ENV)
    pool = wiring.get_service()._providers
    adapters = {name: RecordingAdapter(name) for name in ("twilio", "plivo")}
    for name, adapter in adapters.items():
        pool.replace(name, adapter)
    return client, adapters


def twilio_callback(client, report, fields, token="tw-token", signature=None, body=None):
    params = list(fields.items())
    signature = signature or twilio_scheme.signature(token, report.callback_url, params)
    path = urlsplit(report.callback_url)
    response = client.http.post(
        "/v1/callbacks/twilio?" + path.query,
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
        body=body if body is not None else urlencode(params),
    )
    return response.status_code, json.loads(response.body)


def send_statuses(client, verification_id):
    status, body, _ = get(client, f"/v1/verifications/{verification_id}")
    assert status == 200
    return [(a["provider"], a["status"], a["error_code"]) for a in body["send_attempts"]]


def test_each_send_hands_the_provider_a_callback_url_and_an_opaque_reference(env):
    client, adapters = env
    status, body, _ = start(client)
    assert status == 201 and body["provider"] == "twilio"
    [report] = adapters["twilio"].reports
    assert report.callback_url.startswith(PUBLIC + "/v1/callbacks/twilio?ref=")
    assert dict(parse_qsl(urlsplit(report.callback_url).query))["ref"] == report.reference
    digits = NUMBER.lstrip("+")
    assert digits not in report.reference and body["id"] not in report.callback_url
    assert send_statuses(client, body["id"]) == [("twilio", "accepted", None)]


def test_a_signed_receipt_updates_the_status(env):
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    status, answer = twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert (status, answer["changed"]) == (200, 1)
    assert send_statuses(client, body["id"]) == [("twilio", "delivered", None)]


def test_out_of_order_and_duplicate_receipts_never_move_backwards(env):
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    assert twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": "delivered"})[1]["changed"] == 1
    for late in ("sent", "delivered", "undelivered"):
        status, answer = twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": late})
        assert (status, answer["changed"]) == (200, 0)
    assert send_statuses(client, body["id"]) == [("twilio", "delivered", None)]


def test_twilio_read_is_read_and_outranks_delivered(env):
    # Twilio reports MessageStatus=read for WhatsApp (and RCS) messages the user opened, on the
    # same status callback ("Outbound Message Status in Status Callbacks",
    # twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks).
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    for receipt, changed in (("delivered", 1), ("read", 1), ("delivered", 0), ("sent", 0)):
        answer = twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": receipt})[1]
        assert answer["changed"] == changed, receipt
    assert send_statuses(client, body["id"]) == [("twilio", "read", None)]


@pytest.mark.parametrize("tamper", ["bad_signature", "no_signature", "changed_body", "wrong_token"])
def test_unsigned_or_tampered_receipts_answer_403_and_change_nothing(env, tamper):
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    fields = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    good = twilio_scheme.signature("tw-token", report.callback_url, list(fields.items()))
    kwargs = {
        "bad_signature": {"signature": ("B" if good[0] == "A" else "A") + good[1:]},
        "no_signature": {"signature": ""},
        "changed_body": {"signature": good, "body": "MessageSid=SM1&MessageStatus=undelivered&ErrorCode=30005"},
        "wrong_token": {"token": "not-the-token"},
    }[tamper]
    if tamper == "no_signature":
        response = client.http.post("/v1/callbacks/twilio?" + urlsplit(report.callback_url).query,
                                    headers={"content-type": "application/x-www-form-urlencoded"},
                                    body=urlencode(fields))
        status, answer = response.status_code, json.loads(response.body)
    else:
        status, answer = twilio_callback(client, report, fields, **kwargs)
    assert status == 403 and error_code(answer) == "invalid_signature"
    assert send_statuses(client, body["id"]) == [("twilio", "accepted", None)]


def test_a_well_signed_unknown_reference_is_acknowledged_and_changes_nothing(env):
    client, adapters = env
    _, body, _ = start(client)
    real = adapters["twilio"].reports[0]
    forged_ref = real.reference[:-1] + ("0" if real.reference[-1] != "0" else "1")
    forged = type(real)(real.callback_url.replace(real.reference, forged_ref), forged_ref)
    status, answer = twilio_callback(client, forged, {"MessageSid": "SM1", "MessageStatus": "delivered"})
    assert (status, answer["changed"]) == (200, 0)
    assert send_statuses(client, body["id"]) == [("twilio", "accepted", None)]


def test_a_large_body_is_refused(env):
    client, _ = env
    response = client.http.post("/v1/callbacks/twilio?ref=x", body="a=" + "b" * 20_000,
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


def test_an_unknown_provider_is_not_found(env):
    client, _ = env
    response = client.http.post("/v1/callbacks/nobody", body="a=b",
                                headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 404


def test_a_resend_after_an_undelivered_send_uses_the_next_provider(env, clock):
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"})
    clock.advance(1)
    status, resent, _ = start(client)
    assert status == 200 and resent["provider"] == "plivo"
    assert len(adapters["twilio"].reports) == 1 and len(adapters["plivo"].reports) == 1
    assert send_statuses(client, body["id"]) == [("twilio", "undelivered", "30003"), ("plivo", "accepted", None)]

    # Plivo's receipt for the second send, signed with Signature V3.
    plivo_report = adapters["plivo"].reports[0]
    assert plivo_report.callback_url.startswith(PUBLIC + "/v1/callbacks/plivo?ref=")
    fields = [("MessageUUID", "u1"), ("Status", "delivered")]
    signature = plivo_scheme.signature("pl-token", plivo_report.callback_url, fields, "nonce-1")
    response = client.http.post(
        "/v1/callbacks/plivo?" + urlsplit(plivo_report.callback_url).query, body=urlencode(fields),
        headers={"content-type": "application/x-www-form-urlencoded", "x-plivo-signature-v3": signature,
                 "x-plivo-signature-v3-nonce": "nonce-1"})
    assert response.status_code == 200
    assert send_statuses(client, body["id"])[1] == ("plivo", "delivered", None)


def test_a_permanent_undelivered_reason_refuses_the_next_resend(env, clock):
    client, adapters = env
    _, body, _ = start(client)
    report = adapters["twilio"].reports[0]
    twilio_callback(client, report, {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30005"})
    clock.advance(1)
    status, answer, _ = start(client)
    assert status == 422 and error_code(answer) == "undeliverable_number"
    assert len(adapters["twilio"].reports) == 1 and adapters["plivo"].reports == []
    _, after, _ = get(client, f"/v1/verifications/{body['id']}")
    assert after["send_count"] == 1


def test_a_reference_shares_nothing_with_the_verification_id_or_its_other_sends():
    """Issue 22 item 6: characters 34-50 of every reference used to be the id's random half."""
    from chalicelib.codes import CodeHasher

    hasher = CodeHasher(b"s" * 32)
    for n in range(50):
        number_key = hasher.number_key(f"+1415555{n:04d}")
        verification_id = hasher.verification_id(number_key)
        first, second = (hasher.send_reference(verification_id, i, number_key) for i in (0, 1))
        for reference in (first, second):
            assert len(reference) == 66 and reference[:2] in ("80", "81")  # a 34-character SID's
            # No 8 hex characters (32 bits) of the id or of the number key show.
            for part in (verification_id[2:], number_key):
                assert not any(part[i:i + 8] in reference for i in range(len(part) - 7)), (part, reference)
            assert hasher.read_send_reference(reference)[:2] == (number_key, verification_id)
        assert not any(first[i:i + 8] in second for i in range(2, 58))  # two sends look unrelated
    other = CodeHasher(b"t" * 32)
    assert other.read_send_reference(first) is None  # the MAC: another secret reads nothing
