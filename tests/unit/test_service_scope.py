"""Services kept apart on every path that names a verification (issue 28 item 1), and v2's
receipts of test numbers (item 8).

A verification's SID carries its number key, and the key is the Service's own
(chalicelib/codes.py ``number_key``), so a SID names the item of the Service that made it. The
attack: Service B (or the public v1 door, with no credentials) sends Service A's SID. Each write
that names a verification carries the Service in its condition (the item's ``svc``,
chalicelib/verify/store.py), so such a request is answered as for a verification that does not exist
(v1 404 ``verification_not_found``, v2 20404) and counts nothing: no attempt, no per-number
check, no conversion. Through the routes, as an attacker would call them."""

from __future__ import annotations

import jwt
import pytest

from chalicelib import wiring
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, check, delete, error_code, get, start
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


def _verify(client, key, sid: str, to: str = NUMBER) -> dict:
    form = {"To": to, "Channel": "sms"}
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)
    assert status == 201, body
    return body


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def raw_item(verification_sid: str) -> dict:
    service = wiring.get_service()
    return service._store._get("v#" + service._number_key_of(verification_sid)) or {}


def _untouched(verification_sid: str) -> None:
    """No attempt and no per-number check counted, not canceled, not approved."""
    item = raw_item(verification_sid)
    assert item["vid"]["S"] == verification_sid and item["attempts"]["N"] == "0"
    assert not any(name.startswith("checks_") for name in item), item
    assert "canceled_at" not in item and "guess_mac" not in item


def _from_service(client, key, sid: str, victim: str, code: str) -> None:
    """Every v2 path that names ``victim`` by SID, from Service ``sid``: each 20404."""
    check_path = f"/v2/Services/{sid}/VerificationCheck"
    path = f"/v2/Services/{sid}/Verifications/{victim}"
    for guess in (_wrong(code), code):
        form = {"VerificationSid": victim, "Code": guess}
        status, body, _ = call(client, key, "POST", check_path, form)
        assert (status, twilio_error(body)) == (404, 20404), guess
        _untouched(victim)
    status, body, _ = call(client, key, "GET", path)
    assert (status, twilio_error(body)) == (404, 20404)
    for status_form in ("canceled", "approved"):
        status, body, _ = call(client, key, "POST", path, {"Status": status_form})
        assert (status, twilio_error(body)) == (404, 20404), status_form
        _untouched(victim)


def _from_v1(client, victim: str, code: str) -> None:
    """The public v1 check by id (no credentials) and the server door's GET and DELETE."""
    for guess in (_wrong(code), code):
        status, body, _ = check(client, guess, id=victim)
        assert (status, error_code(body)) == (404, "verification_not_found"), guess
        _untouched(victim)
    status, body, _ = get(client, f"/v1/verifications/{victim}")
    assert (status, error_code(body)) == (404, "verification_not_found")
    status, body, _ = delete(client, f"/v1/verifications/{victim}")
    assert (status, error_code(body)) == (404, "verification_not_found")
    _untouched(victim)


def test_another_services_sid_is_not_found_on_every_v2_path_and_counts_nothing(client, key, outbox):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    victim = _verify(client, key, first)["sid"]
    code = last_code(outbox)
    _from_service(client, key, second, victim, code)
    # A's own backend: still pending, all its attempts left, and its right code approves it.
    status, body, _ = call(client, key, "GET", f"/v2/Services/{first}/Verifications/{victim}")
    assert (status, body["status"]) == (200, "pending")
    status, body, _ = call(client, key, "POST", f"/v2/Services/{first}/VerificationCheck",
                           {"VerificationSid": victim, "Code": code})
    assert (status, body["status"], body["valid"]) == (200, "approved", True)


def test_the_public_v1_door_cannot_reach_a_services_verification(client, key, outbox):
    first = new_service(client, key)["sid"]
    victim = _verify(client, key, first)["sid"]
    code = last_code(outbox)
    _from_v1(client, victim, code)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{first}/VerificationCheck",
                           {"VerificationSid": victim, "Code": code})
    assert (status, body["status"]) == (200, "approved")


def test_the_default_services_sid_is_not_found_under_another_service(client, key, outbox):
    """The reverse: a verification of the stage's own app (v1, the default Service) named
    under Service A."""
    first = new_service(client, key)["sid"]
    status, v1, _ = start(client)
    assert status == 201
    code = last_code(outbox)
    _from_service(client, key, first, v1["id"], code)
    status, body, _ = get(client, f"/v1/verifications/{v1['id']}")
    assert (status, body["status"], body["attempts_remaining"]) == (200, "pending", 5)
    status, body, _ = check(client, code, id=v1["id"])
    assert (status, body["status"]) == (200, "approved")


def test_one_services_sid_is_not_another_non_default_services_even_for_the_same_number(client, key, outbox):
    """Both Services have a live verification of the number: B's SID paths reach B's only."""
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    one = _verify(client, key, first)["sid"]
    code_one = last_code(outbox)
    two = _verify(client, key, second)["sid"]
    code_two = last_code(outbox)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{second}/VerificationCheck",
                           {"VerificationSid": one, "Code": code_one})
    assert (status, twilio_error(body)) == (404, 20404)
    _untouched(one)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{second}/VerificationCheck",
                           {"VerificationSid": two, "Code": code_two})
    assert body["status"] == "approved"
    assert call(client, key, "GET", f"/v2/Services/{first}/Verifications/{one}")[1]["status"] == "pending"


def test_a_services_own_check_cancel_and_approve_by_sid_still_work(client, key, outbox):
    """Honest callers are not hurt: every write by SID under its own Service, v2 and v1."""
    sid = new_service(client, key)["sid"]
    one = _verify(client, key, sid)["sid"]
    path = f"/v2/Services/{sid}/Verifications/{one}"
    assert call(client, key, "POST", path, {"Status": "canceled"})[1]["status"] == "canceled"
    two = _verify(client, key, sid)["sid"]
    path = f"/v2/Services/{sid}/Verifications/{two}"
    status, body, _ = call(client, key, "POST", path, {"Status": "approved"})
    assert (status, body["valid"]) == (200, True)
    status, v1, _ = start(client)
    status, body, _ = delete(client, f"/v1/verifications/{v1['id']}")
    assert (status, body["status"]) == (200, "canceled")


def test_v2_update_is_one_write_and_reads_nothing_first(client, key):
    """The Service is proven inside the write's condition, not by a read before it."""
    from tests.unit.test_security import CallCounter

    sid = new_service(client, key)["sid"]
    path = f"/v2/Services/{sid}/Verifications/{_verify(client, key, sid)['sid']}"
    calls = CallCounter(wiring.get_service()._store._client)
    assert call(client, key, "POST", path, {"Status": "canceled"})[0] == 200
    assert [c for c in calls.take() if c.endswith(" v")] == ["UpdateItem v"]


# -- verifications made before the upgrade (no ``svc`` on the item) ---------------------------


def _as_before_the_upgrade(verification_sid: str) -> None:
    """The item as this version's predecessor wrote it: no ``svc``."""
    service = wiring.get_service()
    pk = "v#" + service._number_key_of(verification_sid)
    service._store._client.update_item(TableName=service._store._table, Key={"pk": {"S": pk}},
                                       UpdateExpression="REMOVE svc", ConditionExpression="attribute_exists(svc)")


def test_a_services_verification_from_before_the_upgrade_is_checked_by_number_and_resent(
        configured, key, outbox):
    """Honest users mid-verification at the upgrade: the check by To and a resend still work
    (the item's key is the Service's), and the resend names the Service on the item, so its SID
    works on the SID paths from then on; until then those answer 20404."""
    client = configured(OTP_RESEND_INTERVAL_SECONDS="0")
    sid = new_service(client, key)["sid"]
    victim = _verify(client, key, sid)["sid"]
    _as_before_the_upgrade(victim)
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/Verifications/{victim}")
    assert (status, body["status"]) == (200, "pending")  # a read: the key derived again tells
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"VerificationSid": victim, "Code": last_code(outbox)})
    assert (status, twilio_error(body)) == (404, 20404)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": NUMBER, "Code": _wrong(last_code(outbox))})
    assert (status, body["status"]) == (200, "pending")  # by number: counted, as before
    assert _verify(client, key, sid)["sid"] == victim  # a resend of the same verification
    assert raw_item(victim)["svc"] == {"S": sid}
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"VerificationSid": victim, "Code": last_code(outbox)})
    assert (status, body["status"]) == (200, "approved")


def test_a_default_service_read_of_an_unmarked_item_of_another_service_is_not_found(client, key, outbox):
    """GET /v1/verifications/{id} (and v2 fetch under the default Service) of a Service's item
    made before the upgrade: the key, derived again from the item's number, is not the
    default's, so it is not found, as before."""
    sid = new_service(client, key)["sid"]
    victim = _verify(client, key, sid)["sid"]
    _as_before_the_upgrade(victim)
    status, body, _ = get(client, f"/v1/verifications/{victim}")
    assert (status, error_code(body)) == (404, "verification_not_found")


# -- the Attempts Summary -----------------------------------------------------------------------


@pytest.fixture
def counting(configured):
    return configured(OTP_ATTEMPTS="true", OTP_RESEND_INTERVAL_SECONDS="0")


def _summary(client, key, sid: str | None = None) -> tuple[int, int, int]:
    query = f"?VerifyServiceSid={sid}" if sid else ""
    status, body, _ = call(client, key, "GET", f"/v2/Attempts/Summary{query}")
    assert status == 200, body
    return body["total_attempts"], body["total_converted"], body["total_unconverted"]


def test_the_summary_stays_consistent_after_a_cross_service_attempt(counting, key, outbox):
    client = counting
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    victim = _verify(client, key, first)["sid"]
    code = last_code(outbox)
    for door in ("v2", "v1"):
        if door == "v2":
            status, body, _ = call(client, key, "POST", f"/v2/Services/{second}/VerificationCheck",
                                   {"VerificationSid": victim, "Code": code})
            assert status == 404 and twilio_error(body) == 20404
            status, body, _ = call(client, key, "POST", f"/v2/Services/{second}/Verifications/{victim}",
                                   {"Status": "approved"})
            assert status == 404 and twilio_error(body) == 20404
        else:
            assert check(client, code, id=victim)[0] == 404
    assert _summary(client, key) == (1, 0, 1)
    assert _summary(client, key, first) == (1, 0, 1)
    assert _summary(client, key, second) == (0, 0, 0)
    assert call(client, key, "POST", f"/v2/Services/{first}/VerificationCheck",
                {"VerificationSid": victim, "Code": code})[1]["valid"]
    assert _summary(client, key) == (1, 1, 0) and _summary(client, key, first) == (1, 1, 0)
    assert _summary(client, key, second) == (0, 0, 0)


def test_a_conversion_is_counted_on_the_attempts_own_service(counting, key, outbox):
    """The conversion's write itself checks the attempt's Service: handed another Service's
    scope (a caller's bug), it counts nothing rather than a conversion with no attempt."""
    client = counting
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    victim = _verify(client, key, first)["sid"]
    service = wiring.get_service()
    verification = service._store.get(service._number_key_of(victim))
    for write in service._attempts.conversions(verification, "US", second):
        write()
    assert _summary(client, key, second) == (0, 0, 0) and _summary(client, key) == (1, 0, 1)


# -- a retried write still recognises itself under a Service ----------------------------------


@pytest.mark.parametrize("write", ["check", "cancel", "approve"])
def test_a_retried_write_by_sid_under_a_service_recognises_itself(client, key, outbox, write):
    """botocore retries a write whose answer was lost (tests/faults.py): the token makes the
    retry find its own write, under the Service's condition too."""
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    victim = _verify(client, key, sid)["sid"]
    code = last_code(outbox)
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm(write, "lost")
    if write == "check":
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                               {"VerificationSid": victim, "Code": _wrong(code)})
        assert (status, body["status"]) == (200, "pending")
        assert raw_item(victim)["attempts"]["N"] == "1"  # counted once
    else:
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications/{victim}",
                               {"Status": {"cancel": "canceled", "approve": "approved"}[write]})
        assert (status, body["status"]) == (200, {"cancel": "canceled", "approve": "approved"}[write])
    assert (write, "lost") in faults.hit and faults.seen.count(write) == 2  # the retry happened


# -- item 8: v2's receipt of a test number says so ----------------------------------------------


def test_a_v2_receipt_of_a_test_number_says_so_and_a_real_ones_does_not(configured, key, outbox):
    client = configured(OTP_TEST_NUMBERS='{"+15005550006": "123456"}')
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid, "+15005550006")
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": "+15005550006", "Code": "123456"})
    assert (status, body["status"]) == (200, "approved")
    assert jwt.decode(body["receipt"], options={"verify_signature": False})["test_number"] is True
    _verify(client, key, sid)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": NUMBER, "Code": last_code(outbox)})
    assert (status, body["status"]) == (200, "approved")
    assert "test_number" not in jwt.decode(body["receipt"], options={"verify_signature": False})
