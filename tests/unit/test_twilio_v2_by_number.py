"""The number (or the address) in place of the SID (issue 29 item 2), and a v2 ``Code`` of any
length from 4 to 10 checked as a code (item 5), through the routes.

Twilio's api-snippets approve a pending verification by its phone number:
TwilioDevEd/api-snippets verify/verifications/approve-verification/ ("Approve a Verification
using Phone Number", meta.json), whose Python form is
``client.verify.services('VA...').verifications('+15017122661').update(status='approved')`` and
whose curl form posts to ``/v2/Services/VA.../Verifications/+15017122661``. twilio-python 9.x
and twilio-node 5.x put the number in the path as given (a literal ``+``: neither quotes it,
and requests/Node's URL parser leave ``+`` alone in a path); other clients send ``%2B``.

By number is in the Service's scope: the item's key is derived from the number and the
Service (chalicelib/codes.py ``number_key``), and the write's condition proves the Service
(chalicelib/verify/store.py ``_of_scope``), so another Service's pending verification of the number is
simply not found (20404) and nothing of it changes."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from tests.unit.helpers import NUMBER, OTHER_NUMBER, check, error_code, start
from tests.unit.test_service_scope import _untouched, raw_item
from tests.unit.test_twilio_v2 import call, key, new_service, sms_code, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
ENCODED = NUMBER.replace("+", "%2B")


def _verify(client, key, sid: str, to: str = NUMBER, channel: str = "sms") -> dict:
    form = {"To": to, "Channel": channel}
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)
    assert status == 201, body
    return body


def _check(client, key, sid: str, code: str, to: str = NUMBER):
    return call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": to, "Code": code})


def _path(sid: str, target: str) -> str:
    return f"/v2/Services/{sid}/Verifications/{target}"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


# -- by number --------------------------------------------------------------------------------


def test_the_backend_approves_by_phone_number_as_twilios_snippet_does(client, key, outbox):
    """api-snippets approve-verification.6.x.py:
    ``verifications('+15017122661').update(status='approved')``."""
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    code = sms_code(outbox, 6)
    status, body, _ = call(client, key, "POST", _path(sid, NUMBER), {"Status": "approved"})
    assert status == 200 and (body["sid"], body["status"], body["valid"], body["to"]) == (
        verification["sid"], "approved", True, NUMBER)
    assert body["url"].endswith(f"/Verifications/{verification['sid']}")  # the resource's own URL
    gone = call(client, key, "GET", _path(sid, verification["sid"]))[1]
    assert twilio_error(gone) == 20404  # approved: gone
    status, body, _ = _check(client, key, sid, code)
    assert (status, twilio_error(body)) == (404, 20404)  # the code is used up with it
    status, body, _ = call(client, key, "POST", _path(sid, NUMBER), {"Status": "approved"})
    assert (status, twilio_error(body)) == (404, 20404)  # once


@pytest.mark.parametrize("spelling", [NUMBER, ENCODED], ids=["literal-plus", "percent-2B"])
def test_fetch_and_cancel_by_number_in_either_spelling_of_the_plus(client, key, spelling):
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    status, body, _ = call(client, key, "GET", _path(sid, spelling))
    assert status == 200
    assert (body["sid"], body["status"], body["to"]) == (verification["sid"], "pending", NUMBER)
    status, body, _ = call(client, key, "POST", _path(sid, spelling), {"Status": "canceled"})
    assert status == 200 and (body["sid"], body["status"]) == (verification["sid"], "canceled")
    for path in (_path(sid, spelling), _path(sid, verification["sid"])):
        assert twilio_error(call(client, key, "GET", path)[1]) == 20404  # canceled: gone
    assert twilio_error(call(client, key, "POST", _path(sid, spelling), {"Status": "approved"})[1]) == 20404


def test_fetch_cancel_and_approve_by_email_in_any_spelling_of_the_mailbox(configured, key, outbox):
    """One mailbox, one item (chalicelib/channels/email_address.py: Gmail ignores dots, case and
    sub-addresses), so any spelling of it names its pending verification."""
    client = configured(OTP_EMAIL_PROVIDER="console")
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid, "alice@gmail.com", "email")
    for spelling in ("alice@gmail.com", "A.lice+signup@GMAIL.com", "a.l.i.c.e%40gmail.com"):
        status, body, _ = call(client, key, "GET", _path(sid, spelling))
        assert status == 200 and (body["sid"], body["status"]) == (verification["sid"], "pending"), spelling
    status, body, _ = call(client, key, "POST", _path(sid, "Alice@gmail.com"), {"Status": "canceled"})
    assert (status, body["status"]) == (200, "canceled")
    again = _verify(client, key, sid, "alice@gmail.com", "email")
    status, body, _ = call(client, key, "POST", _path(sid, "al.ice@gmail.com"), {"Status": "approved"})
    assert (status, body["sid"], body["status"]) == (200, again["sid"], "approved")


def test_another_services_number_is_20404_and_changes_nothing(client, key, outbox):
    """The attack: Service B's key names A's user by number (fetch, cancel, approve). B has no
    pending verification of the number: 20404 each, and A's verification is untouched."""
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    victim = _verify(client, key, first)
    code = sms_code(outbox, 6)
    for spelling in (NUMBER, ENCODED):
        assert (call(client, key, "GET", _path(second, spelling))[0]) == 404
        for status_form in ("canceled", "approved"):
            status, body, _ = call(client, key, "POST", _path(second, spelling), {"Status": status_form})
            assert (status, twilio_error(body)) == (404, 20404), status_form
            _untouched(victim["sid"])
    # B's own verification of the same number: B's by-number writes reach B's only.
    mine = _verify(client, key, second)
    status, body, _ = call(client, key, "POST", _path(second, NUMBER), {"Status": "canceled"})
    assert (status, body["sid"]) == (200, mine["sid"])
    _untouched(victim["sid"])
    status, body, _ = _check(client, key, first, code)
    assert (status, body["status"]) == (200, "approved")


def test_the_default_service_by_number_is_v1s_verification(client, key):
    listed = call(client, key, "GET", "/v2/Services")[1]["services"][0]
    status, v1, _ = start(client)
    assert status == 201
    status, body, _ = call(client, key, "GET", _path(listed["sid"], NUMBER))
    assert (status, body["sid"], body["status"]) == (200, v1["id"], "pending")
    other = new_service(client, key)["sid"]  # a Service's key for the number is its own
    assert twilio_error(call(client, key, "GET", _path(other, NUMBER))[1]) == 20404


def test_a_locked_verification_is_not_approved_or_canceled_by_number(client, key, outbox):
    """Five wrong codes lock it (60202): approving or canceling it by number would undo the
    lock (cancel, start again, five more guesses), so both answer 20404 as by SID."""
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    wrong = _wrong(sms_code(outbox, 6))
    for _ in range(5):
        _check(client, key, sid, wrong)
    for status_form in ("approved", "canceled"):
        status, body, _ = call(client, key, "POST", _path(sid, NUMBER), {"Status": status_form})
        assert (status, twilio_error(body)) == (404, 20404), status_form
    item = raw_item(verification["sid"])
    assert "canceled_at" not in item and item["guess_mac"]["S"] != item["code_mac"]["S"]


def test_a_by_number_write_is_one_conditional_write_and_no_read(client, key):
    """Cancel and approve by number: one UpdateItem on the number's item, conditioned on the
    Service (no ``vid``: the number names it), and no read of the item before it (approval's
    own bookkeeping, the trust marker, follows as it does by SID)."""
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid)
    _verify(client, key, sid, OTHER_NUMBER)
    calls: list[tuple[str, str]] = []
    store_client = wiring.get_service()._store._client

    def seen(params, model, **_):
        if params.get("Key", {}).get("pk", {}).get("S", "").startswith("v#"):  # a number's item
            calls.append((model.name, params.get("ConditionExpression", "")))

    store_client.meta.events.register("provide-client-params.dynamodb", seen)
    try:
        for to, status_form in ((NUMBER, "canceled"), (OTHER_NUMBER, "approved")):
            calls.clear()
            assert call(client, key, "POST", _path(sid, to), {"Status": status_form})[0] == 200
            (operation, condition), *after = calls
            assert operation == "UpdateItem" and "svc = :svc" in condition, calls
            assert "vid = :vid" not in condition, calls
            assert all(op == "UpdateItem" and "approved_at" not in c for op, c in after), calls
            assert len(after) == (1 if status_form == "approved" else 0), calls  # mark_approved
    finally:
        store_client.meta.events.unregister("provide-client-params.dynamodb", seen)


def test_a_retried_by_number_approval_recognises_its_own_write(client, key):
    """botocore's retry after a lost answer (tests/faults.py) finds its own approval: 200."""
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    _verify(client, key, sid)
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("approve", "lost")
    status, body, _ = call(client, key, "POST", _path(sid, NUMBER), {"Status": "approved"})
    assert (status, body["status"]) == (200, "approved") and faults.seen.count("approve") == 2
    assert twilio_error(call(client, key, "POST", _path(sid, NUMBER), {"Status": "approved"})[1]) == 20404


@pytest.mark.parametrize("target", ["not-a-number", "+1415", "%2B", "%ZZ", "@", "VE" + "0" * 48,
                                    "+" + "9" * 40])
def test_a_path_that_names_nothing_is_20404_never_a_500(client, key, target):
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid)
    for method, form in (("GET", None), ("POST", {"Status": "canceled"}), ("POST", {"Status": "approved"})):
        status, body, _ = call(client, key, method, _path(sid, target), form)
        assert (status, twilio_error(body)) == (404, 20404), (method, form)


# -- a Code of 4-10 characters is checked as a code ------------------------------------------


@pytest.mark.parametrize("guess", ["1234", "12345", "1234567", "1234567890", "abcd", "A1b2C3d4"])
def test_a_code_of_another_length_is_a_wrong_guess_counted_once(client, key, outbox, guess):
    """Twilio's ``Code``: "the 4-10 character string being verified". A guess of another length
    than the Service's (6) is a wrong code: 200 pending, one attempt used."""
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    code = sms_code(outbox, 6)
    status, body, _ = _check(client, key, sid, guess)
    assert status == 200 and (body["status"], body["valid"]) == ("pending", False)
    assert raw_item(verification["sid"])["attempts"]["N"] == "1"
    status, body, _ = _check(client, key, sid, code)
    assert (status, body["status"]) == (200, "approved")  # the right code still approves


def test_wrong_length_guesses_use_up_the_same_five_attempts(client, key, outbox):
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid)
    code = sms_code(outbox, 6)
    for guess in ("1234", "12345", "1234567", "12345678", "abcdefghij"):
        status, body, _ = _check(client, key, sid, guess)
        assert (status, body["status"]) == (200, "pending"), guess
    status, body, _ = _check(client, key, sid, code)
    assert (status, twilio_error(body)) == (429, 60202)  # locked: not even the right code


def test_a_code_of_another_length_with_nothing_pending_is_20404(client, key):
    sid = new_service(client, key)["sid"]
    status, body, _ = _check(client, key, sid, "1234")
    assert (status, twilio_error(body)) == (404, 20404)


@pytest.mark.parametrize("guess", ["123", "12345678901", "12 345", "12-345", "１２３４５６", "123456\n", "",
                                   "12345é"])
def test_a_code_outside_4_10_letters_and_digits_stays_60200_and_counts_nothing(client, key, outbox, guess):
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    status, body, _ = _check(client, key, sid, guess)
    assert (status, twilio_error(body)) == (400, 60200) and "`Code`" in body["message"]
    _untouched(verification["sid"])


def test_v1_keeps_its_strict_code_format(client, outbox):
    """docs/security.md rule 13: v1 refuses a code that is not exactly the stage's digits
    before it can use up an attempt."""
    assert start(client)[0] == 201
    status, body, _ = check(client, "1234")
    assert (status, error_code(body)) == (400, "invalid_code_format")
    status, body, _ = check(client, sms_code(outbox, 6))
    assert (status, body["status"]) == (200, "approved")
