"""Resends as Twilio's apps expect (issue 29, item 1), on v2 and v1, through the routes.

A start for a number with a pending verification in that Service is a resend of it: 201 on v2,
the same SID, one more send attempt, up to 5 sends (60203 after), no wait on v2 unless the
Service sets one. Every code sent in a verification stays valid until it ends (the item holds
the MACs of up to 5 codes, one shared attempt count, the life fixed at the first send), and a
per-number send window on the number's item keeps rule 10 with the wait gone."""

from __future__ import annotations

import boto3
import pytest

from chalicelib import wiring
from tests.conftest import TABLE, last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER, check, error_code, get, start
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


def _start(client, key, sid: str, to: str = NUMBER, channel: str = "sms"):
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": channel})


def _check(client, key, sid: str, code: str, to: str = NUMBER) -> dict:
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": to, "Code": code})
    assert status == 200, body
    return body


def _codes(outbox) -> list[str]:
    """Every code in the console's messages, oldest first (a call reads it out digit by digit)."""
    return [last_code([{**m, "body": m["body"].replace(", ", "")}]) for m in reversed(outbox)]


def _wrong(*codes: str) -> str:
    guess = 0
    while f"{guess:06d}" in codes:
        guess += 1
    return f"{guess:06d}"


def _item(e164: str, scope: str = "") -> dict:
    service = wiring.get_service()
    key = service._hasher.number_key(e164, scope)
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "v#" + key}}).get("Item", {})


# -- v2: the quickstart's reload, resends, five sends --------------------------------------------


def test_the_quickstarts_reload_is_a_resend_201_with_the_same_sid(client, key, outbox, clock):
    """Twilio's Verify quickstarts start again when the verify page is reloaded: within a
    second, both starts are 201 with one SID and two send attempts (was 429/60203)."""
    sid = new_service(client, key)["sid"]
    status, first, _ = _start(client, key, sid)
    assert status == 201, first
    clock.advance(0.5)
    status, again, _ = _start(client, key, sid)
    assert status == 201, again
    assert again["sid"] == first["sid"] and again["status"] == "pending"
    assert len(again["send_code_attempts"]) == 2 and len(outbox) == 2


def test_the_first_code_approves_after_a_resend_on_v2(client, key, outbox):
    """SMS are late: the user types the first SMS's code after a resend."""
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    assert _start(client, key, sid, channel="call")[0] == 201  # the channel may change
    first, second = _codes(outbox)
    body = _check(client, key, sid, first)
    assert (body["status"], body["valid"]) == ("approved", True)
    if second != first:  # the verification is over: its other code is used up with it
        assert call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                    {"To": NUMBER, "Code": second})[0] == 404


def test_every_code_of_a_verification_approves_once(client, key, outbox):
    sid = new_service(client, key)["sid"]
    for _ in range(3):
        assert _start(client, key, sid)[0] == 201
    codes = _codes(outbox)
    assert len(codes) == 3
    assert _check(client, key, sid, codes[1])["status"] == "approved"


def test_five_sends_then_60203_as_twilio(client, key, outbox):
    sid = new_service(client, key)["sid"]
    sids = set()
    for _ in range(5):
        status, body, _ = _start(client, key, sid)
        assert status == 201, body
        sids.add(body["sid"])
    assert len(sids) == 1 and len(body["send_code_attempts"]) == 5
    status, body, headers = _start(client, key, sid)
    assert status == 429 and twilio_error(body) == 60203 and int(headers["Retry-After"]) > 0
    assert len(outbox) == 5
    assert _check(client, key, sid, _codes(outbox)[0])["status"] == "approved"  # the first still holds


def test_a_v2_resend_wait_comes_from_one_place_the_service_can_set(client, key, monkeypatch):
    """The hook for a Service's resend wait (an extension parameter, set by the Service's
    settings): with one set, a resend inside it is 60212 ("many verifications in a short period
    of time for the same phone number", Twilio's page) with Retry-After."""
    from chalicelib.twilio_v2 import api

    monkeypatch.setattr(api, "resend_wait", lambda settings: 30)
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    status, body, headers = _start(client, key, sid)
    assert status == 429 and twilio_error(body) == 60212 and 1 <= int(headers["Retry-After"]) <= 30


# -- v1: the 30 s interval stays, the old code stays valid ---------------------------------------


def test_the_first_code_approves_after_a_resend_on_v1(client, outbox, clock):
    status, first, _ = start(client)
    assert status == 201
    status, body, _ = start(client)
    assert status == 429 and error_code(body) == "resend_too_soon"  # v1 keeps its interval
    clock.advance(30)
    status, second, _ = start(client)
    assert status == 200 and second["id"] == first["id"] and second["send_count"] == 2
    old, new = _codes(outbox)
    assert check(client, old)[0] == 200
    if new != old:
        assert check(client, new)[0] == 404  # approved: the verification is over


# -- what a code matches -------------------------------------------------------------------------


def test_a_code_of_another_verification_number_or_service_never_matches(client, key, outbox):
    sid, other_sid = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    assert _start(client, key, sid)[0] == 201
    assert _start(client, key, sid, to=OTHER_NUMBER)[0] == 201
    assert _start(client, key, other_sid)[0] == 201
    mine, other_number, other_service = _codes(outbox)
    if other_number != mine:
        assert _check(client, key, sid, other_number)["status"] == "pending"
    if other_service != mine:
        assert _check(client, key, sid, other_service)["status"] == "pending"
    assert _check(client, key, sid, mine)["status"] == "approved"


def test_attempts_are_shared_across_the_codes(client, key, outbox):
    sid = new_service(client, key)["sid"]
    for _ in range(3):
        assert _start(client, key, sid)[0] == 201
    codes = _codes(outbox)
    wrong = _wrong(*codes)
    for _ in range(5):
        assert _check(client, key, sid, wrong)["status"] == "pending"
    for code in codes:  # five wrong guesses lock every code, not one
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": code})
        assert status == 429 and twilio_error(body) == 60202


def test_a_wrong_guess_stored_before_a_resend_never_becomes_right(client, key, monkeypatch):
    """The item keeps the last guess's MAC; a resend that happens to send that very code must
    not approve the verification without a check."""
    from chalicelib.verify import starting

    codes = iter(["111111", "222222"])
    monkeypatch.setattr(starting, "new_code", lambda length: next(codes))
    sid = new_service(client, key)["sid"]
    status, body, _ = _start(client, key, sid)
    assert _check(client, key, sid, "222222")["status"] == "pending"  # not sent yet: wrong
    assert _start(client, key, sid)[0] == 201  # now sends 222222
    path = f"/v2/Services/{sid}/Verifications/{body['sid']}"
    assert call(client, key, "GET", path)[1]["status"] == "pending"
    assert _check(client, key, sid, "222222")["status"] == "approved"


def test_a_resend_does_not_extend_the_verifications_life(client, key, outbox, clock):
    """Rule 5: a code lives at most OTP_TTL_SECONDS (10 minutes) from the verification's first
    send; a resend at 9 minutes does not give the first code (or its own) 10 more."""
    sid = new_service(client, key)["sid"]
    status, first, _ = _start(client, key, sid)
    clock.advance(540)
    status, again, _ = _start(client, key, sid)
    assert status == 201 and again["sid"] == first["sid"]
    item = _item(NUMBER, sid)
    assert int(item["code_expires_at"]["N"]) == int(clock()) - 540 + 600
    clock.advance(61)
    for code in _codes(outbox):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": code})
        assert status == 404 and twilio_error(body) == 20404


def test_the_item_holds_macs_never_a_code(client, key, outbox):
    sid = new_service(client, key)["sid"]
    for _ in range(5):
        assert _start(client, key, sid)[0] == 201
    item = _item(NUMBER, sid)
    macs = [value["S"] for value in item["code_macs"]["L"]]
    assert len(macs) == 5 and len(set(macs)) == len(set(_codes(outbox)))
    text = repr(item)
    assert not any(code in text for code in _codes(outbox))


# -- the per-number send window (rule 10 with the wait gone) -------------------------------------


def test_starting_over_cannot_exceed_the_numbers_send_window(configured, key, outbox, clock):
    """The attacker (a bot on a backend's signup form) resends 5 times, cancels, starts over:
    the number's send window (10 per hour by default) holds across verifications."""
    client = configured()
    sid = new_service(client, key)["sid"]
    sent = 0
    for _ in range(3):
        for _ in range(5):
            status, body, headers = _start(client, key, sid)
            if status != 201:
                break
            sent += 1
            vsid = body["sid"]
        if status != 201:
            break
        call(client, key, "POST", f"/v2/Services/{sid}/Verifications/{vsid}", {"Status": "canceled"})
    assert sent == 10 and len(outbox) == 10
    assert status == 429 and twilio_error(body) == 60203 and 1 <= int(headers["Retry-After"]) <= 3600
    clock.advance(3600)  # the next window
    assert _start(client, key, sid)[0] == 201


def test_the_send_window_on_v1_is_429_with_retry_after(configured, outbox, clock):
    client = configured(OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW="2", OTP_RESEND_INTERVAL_SECONDS="0")
    assert start(client)[0] == 201
    assert start(client)[0] == 200
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "too_many_sends" and int(headers["Retry-After"]) > 0
    assert len(outbox) == 2


def test_a_full_send_window_never_stops_the_user_checking_the_codes_sent(configured, key, outbox):
    """An attacker who fills the window denies more SMS, not the user's codes already sent."""
    client = configured(OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW="3")
    sid = new_service(client, key)["sid"]
    for _ in range(3):
        assert _start(client, key, sid)[0] == 201
    assert _start(client, key, sid)[0] == 429
    assert _check(client, key, sid, _codes(outbox)[0])["status"] == "approved"


def test_the_send_window_is_per_number(configured, key, outbox):
    client = configured(OTP_MAX_SENDS_PER_NUMBER_PER_WINDOW="2")
    sid = new_service(client, key)["sid"]
    for _ in range(2):
        assert _start(client, key, sid)[0] == 201
    assert _start(client, key, sid)[0] == 429
    assert _start(client, key, sid, to=OTHER_NUMBER)[0] == 201  # another user is not hurt


def test_a_v1_lookup_still_answers_after_resends(client, outbox, clock):
    _, first, _ = start(client)
    clock.advance(30)
    start(client)
    status, body, _ = get(client, f"/v1/verifications/{first['id']}")
    assert status == 200 and body["send_count"] == 2


# -- the store: undo, upgrade, more sends than live codes, retries -------------------------------


def test_a_refused_resend_takes_out_exactly_the_code_it_added(configured, key, outbox):
    """The prefix limit refuses the second send after the number's write: the undo removes
    that send's code, its send and its count in the window; the first code still approves."""
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1")
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    before = _item(NUMBER, sid)
    status, body, _ = _start(client, key, sid)
    assert status == 403 and twilio_error(body) == 60410, body  # Fraud Guard's code for a prefix
    after = _item(NUMBER, sid)
    assert after["code_macs"] == before["code_macs"] and len(after["code_macs"]["L"]) == 1
    assert after["code_mac"] == before["code_mac"] and after["send_count"]["N"] == "1"
    sent = [name for name in after if name.startswith("sent_3600_")]
    assert [after[name]["N"] for name in sent] == ["1"]
    assert _check(client, key, sid, _codes(outbox)[0])["status"] == "approved"


def test_an_item_from_before_the_upgrade_stays_checkable_and_takes_resends(client, key, outbox):
    """An item with one ``code_mac`` and no ``code_macs`` (written by the previous version)
    is read as a one-element list: its code approves, and a resend keeps it live."""
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    service = wiring.get_service()
    pk = "v#" + service._hasher.number_key(NUMBER, sid)
    boto3.client("dynamodb").update_item(TableName=TABLE, Key={"pk": {"S": pk}}, UpdateExpression="REMOVE code_macs")
    first = _codes(outbox)[0]
    assert _check(client, key, sid, _wrong(first))["status"] == "pending"
    assert _start(client, key, sid)[0] == 201  # the resend makes the list: [its code, the new one]
    assert len(_item(NUMBER, sid)["code_macs"]["L"]) == 2
    assert _check(client, key, sid, first)["status"] == "approved"


def test_an_old_item_approves_once_with_its_one_code(client, key, outbox):
    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    pk = "v#" + wiring.get_service()._hasher.number_key(NUMBER, sid)
    boto3.client("dynamodb").update_item(TableName=TABLE, Key={"pk": {"S": pk}}, UpdateExpression="REMOVE code_macs")
    code = _codes(outbox)[0]
    assert _check(client, key, sid, code)["status"] == "approved"
    assert call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": code})[0] == 404


def test_at_most_five_codes_are_live_whatever_otp_max_sends_says(configured, outbox):
    """v1 with OTP_MAX_SENDS=7 and no interval: the 6th and 7th sends replace the oldest codes."""
    client = configured(OTP_MAX_SENDS="7", OTP_RESEND_INTERVAL_SECONDS="0")
    for _ in range(7):
        assert start(client)[0] in (200, 201)
    item = _item(NUMBER)
    assert len(item["code_macs"]["L"]) == 5 and item["send_count"]["N"] == "7"
    codes = _codes(outbox)
    service = wiring.get_service()
    key = service._hasher.number_key(NUMBER)
    live = {value["S"] for value in item["code_macs"]["L"]}
    assert live == {service._hasher.code_mac(key, code) for code in codes[2:]}
    if codes[0] not in codes[2:]:
        assert check(client, codes[0])[0] == 403  # the oldest was replaced
    assert check(client, codes[2])[0] == 200


def test_a_retried_resend_adds_one_code_and_counts_one_send(client, key, outbox):
    """botocore's retry after a lost answer (tests/faults.py) finds its own resend: 201, one
    code added, one send counted on the verification and in the window."""
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    assert _start(client, key, sid)[0] == 201
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("resend", "lost")
    status, body, _ = _start(client, key, sid)
    assert status == 201 and len(body["send_code_attempts"]) == 2 and faults.seen.count("resend") == 2
    item = _item(NUMBER, sid)
    assert len(item["code_macs"]["L"]) == 2 and item["send_count"]["N"] == "2"
    assert [item[n]["N"] for n in item if n.startswith("sent_3600_")] == ["2"]
