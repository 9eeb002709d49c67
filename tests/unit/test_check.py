"""POST /v1/verifications/check: single use, bounded attempts, strict input."""

from __future__ import annotations

import pytest

from tests.conftest import last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER, check, delete, error_code, get, post, start


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_right_code_approves_once(client, outbox):
    _, started, _ = start(client)
    code = last_code(outbox)
    status, body, _ = check(client, code)
    assert status == 200
    receipt = body.pop("receipt")  # verified in test_receipts.py
    assert body == {"id": started["id"], "to": NUMBER, "status": "approved", "valid": True}
    assert receipt.count(".") == 2
    status, body, _ = check(client, code)
    assert status == 404 and error_code(body) == "verification_not_found"


def test_check_by_id(client, outbox):
    _, started, _ = start(client)
    status, body, _ = check(client, last_code(outbox), id=started["id"])
    assert status == 200 and body["id"] == started["id"]


def test_check_by_national_number_with_country(client, outbox):
    start(client)
    status, _, _ = check(client, last_code(outbox), to="(415) 555-2671", country="US")
    assert status == 200


def test_wrong_code_is_403_with_attempts_remaining(client, outbox):
    start(client)
    bad = wrong_code(last_code(outbox))
    for remaining in (4, 3, 2, 1, 0):
        status, body, _ = check(client, bad)
        assert status == 403 and error_code(body) == "incorrect_code"
        assert body["error"]["attempts_remaining"] == remaining


def test_after_max_attempts_even_the_right_code_fails(client, outbox, clock):
    start(client)
    code = last_code(outbox)
    for _ in range(5):
        check(client, wrong_code(code))
    status, body, headers = check(client, code)
    assert status == 429 and error_code(body) == "max_attempts_reached"
    assert headers["Retry-After"] == "600" and body["error"]["retry_after"] == 600


def test_the_fifth_attempt_may_still_be_the_right_one(client, outbox):
    start(client)
    code = last_code(outbox)
    for _ in range(4):
        check(client, wrong_code(code))
    assert check(client, code)[0] == 200


def test_nothing_requested_is_404(client):
    status, body, _ = check(client, "123456")
    assert status == 404 and error_code(body) == "verification_not_found"


def test_expired_code_fails_although_the_item_is_still_in_the_table(client, outbox, clock):
    import boto3

    from tests.conftest import TABLE

    start(client)
    code = last_code(outbox)
    clock.advance(600)  # TTL has not deleted anything: moto, like DynamoDB, still returns it
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert [i["to"]["S"] for i in items if i["pk"]["S"].startswith("v#")] == ["+14155552671"]
    status, body, _ = check(client, code)
    assert status == 404 and error_code(body) == "verification_not_found"


def test_one_second_before_expiry_the_code_works(client, outbox, clock):
    start(client)
    clock.advance(599)
    assert check(client, last_code(outbox))[0] == 200


def test_canceled_verification_does_not_approve(client, outbox):
    _, started, _ = start(client)
    delete(client, f"/v1/verifications/{started['id']}")
    status, body, _ = check(client, last_code(outbox))
    assert status == 404 and error_code(body) == "verification_not_found"


def test_a_code_for_one_number_fails_for_another(client, outbox):
    start(client, to=NUMBER)
    code_a = last_code(outbox)
    start(client, to=OTHER_NUMBER)
    code_b = last_code(outbox)
    if code_a != code_b:
        status, body, _ = check(client, code_a, to=OTHER_NUMBER)
        assert status == 403 and error_code(body) == "incorrect_code"
    # and the same code under the other number's id does not pass either
    status, _, _ = check(client, code_a, to=OTHER_NUMBER.replace("72", "73"))
    assert status == 404


def test_an_id_for_another_number_or_an_old_id_is_404(client, outbox):
    _, first, _ = start(client)
    code = last_code(outbox)
    assert check(client, code)[0] == 200
    start(client)  # a new verification for the same number
    status, body, _ = check(client, last_code(outbox), id=first["id"])
    assert status == 404 and error_code(body) == "verification_not_found"


@pytest.mark.parametrize("bad_id", ["VE123", "x" * 50, "VE" + "g" * 48, "ve" + "0" * 48, ""])
def test_malformed_ids_are_404(client, bad_id):
    status, body, _ = check(client, "123456", id=bad_id)
    assert status == 404 and error_code(body) == "verification_not_found"


# The traps of ../shared/docs/security.md, "Input is strict".
MALFORMED_CODES = [
    "１２３４５６",  # full-width digits: int() accepts them
    "١٢٣٤٥٦",  # Arabic-Indic digits
    "۱۲۳۴۵۶",  # Extended Arabic-Indic digits
    " 123456",
    "123456 ",
    "123456\n",
    "12_3456",  # int() accepts underscores
    "+12345",
    "-12345",
    "12345",  # 012345 with its leading zero lost
    "1234567",
    "",
    "12345a",
    "0x1234",
    "1e5000",
    None,
    True,
    False,
    123456,
    12345.0,
    ["123456"],
    {"code": "123456"},
]


@pytest.mark.parametrize("bad", MALFORMED_CODES, ids=repr)
def test_malformed_codes_are_refused_without_using_an_attempt(client, outbox, bad):
    _, started, _ = start(client)
    status, body, _ = check(client, bad)
    assert status == 400 and error_code(body) == "invalid_code_format"
    assert "code" not in body["error"] or body["error"]["code"] == "invalid_code_format"
    _, state, _ = get(client, f"/v1/verifications/{started['id']}")
    assert state["attempts_remaining"] == 5


def test_missing_code_and_bad_selectors_are_invalid_request(client):
    for body in ({"to": NUMBER}, {"code": "123456"}, {"to": NUMBER, "id": "VE" + "0" * 48, "code": "123456"},
                 {"to": NUMBER, "code": "123456", "extra": True}, {"to": 1, "code": "123456"}):
        status, response, _ = post(client, "/v1/verifications/check", body)
        assert status == 400 and error_code(response) == "invalid_request", body


def test_no_verification_means_no_match_for_a_missing_code(client):
    # None == None must never approve: a check with null is refused before any lookup.
    status, body, _ = check(client, None)
    assert status == 400 and error_code(body) == "invalid_code_format"
