"""Atomic single use and attempt counting, proven with concurrent requests over HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.conftest import unique_number


def _numbered_items(dynamodb, table: str, e164: str) -> list[dict]:
    items = dynamodb.scan(TableName=table)["Items"]  # test-only: the app never scans
    return [i for i in items if i["pk"]["S"].startswith("v#") and i.get("to", {}).get("S") == e164]


def test_twenty_concurrent_correct_checks_give_exactly_one_success(live_server):
    number = unique_number(1)
    assert live_server.post("/v1/verifications", {"to": number}).status_code == 201
    code = live_server.last_code(number)

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(
            lambda _: live_server.post("/v1/verifications/check", {"to": number, "code": code}),
            range(20),
        ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 404}, statuses


def test_twenty_concurrent_right_guesses_of_two_codes_give_exactly_one_success(serve):
    """Issue 29: both codes of a resent verification are live; 20 concurrent right guesses,
    the first code and the second mixed, approve it once (the check's condition finds the
    stored guess among the live codes after the first lands)."""
    server = serve(OTP_RESEND_INTERVAL_SECONDS="0")
    number = unique_number(5)
    assert server.post("/v1/verifications", {"to": number}).status_code == 201
    first = server.last_code(number)
    assert server.post("/v1/verifications", {"to": number}).status_code == 200
    second = server.last_code(number)
    codes = [first if i % 2 else second for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(
            lambda code: server.post("/v1/verifications/check", {"to": number, "code": code}), codes,
        ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 404}, statuses


def test_fifty_concurrent_wrong_checks_count_exactly_to_the_limit(live_server, dynamodb):
    from tests.conftest import TABLE

    number = unique_number(2)
    assert live_server.post("/v1/verifications", {"to": number}).status_code == 201
    code = live_server.last_code(number)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(
            lambda _: live_server.post("/v1/verifications/check", {"to": number, "code": wrong}),
            range(50),
        ))
    statuses = [r.status_code for r in responses]
    # A 403 is a guess that reached the comparison; everything else was refused by the
    # attempt condition before any comparison.
    assert statuses.count(403) == 5, sorted(statuses)
    assert statuses.count(429) == 45, sorted(statuses)
    (item,) = _numbered_items(dynamodb, TABLE, number)
    assert item["attempts"]["N"] == "5"

    # The limit holds for the right code too.
    late = live_server.post("/v1/verifications/check", {"to": number, "code": code})
    assert late.status_code == 429
    assert late.json()["error"]["code"] == "max_attempts_reached"


def test_concurrent_starts_for_one_number_make_one_verification_and_one_sms(live_server):
    number = unique_number(3)
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(
            lambda _: live_server.post("/v1/verifications", {"to": number}), range(10)
        ))
    statuses = sorted(r.status_code for r in responses)
    # One creates; the others find it live and are refused by the resend interval.
    assert statuses == [201] + [429] * 9, statuses
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {"resend_too_soon"}
    log = live_server.log_path.read_text()
    assert log.count(f"[console SMS to {number}]") == 1


def test_a_test_numbers_fixed_code_meets_the_attempt_limit_under_concurrency(serve):
    # Test numbers skip only the SMS and the send counters: 50 concurrent wrong guesses at a
    # fixed code reach at most 5 comparisons, and then the fixed code fails too.
    server = serve(OTP_TEST_NUMBERS='{"+15005550006": "123456"}')
    assert server.post("/v1/verifications", {"to": "+15005550006"}).status_code == 201
    with ThreadPoolExecutor(max_workers=25) as pool:
        responses = list(pool.map(
            lambda i: server.post("/v1/verifications/check", {"to": "+15005550006", "code": f"{i:06d}"}),
            range(50),
        ))
    statuses = [r.status_code for r in responses]
    assert statuses.count(403) == 5 and statuses.count(429) == 45, sorted(statuses)
    late = server.post("/v1/verifications/check", {"to": "+15005550006", "code": "123456"})
    assert late.status_code == 429 and late.json()["error"]["code"] == "max_attempts_reached"


def test_a_cancel_racing_the_last_wrong_guesses_never_resets_the_guessing(live_server):
    # Cancel and the checks race on the number's item: whatever lands first, a verification
    # whose attempts are used up is never canceled, so starting over cannot reset them.
    number = unique_number(4)
    started = live_server.post("/v1/verifications", {"to": number}).json()
    code = live_server.last_code(number)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with ThreadPoolExecutor(max_workers=20) as pool:
        checks = [pool.submit(live_server.post, "/v1/verifications/check", {"to": number, "code": wrong})
                  for _ in range(10)]
        cancels = [pool.submit(requests_delete, live_server.url + f"/v1/verifications/{started['id']}")
                   for _ in range(5)]
    wrong_statuses = [c.result().status_code for c in checks]
    cancel_statuses = [c.result().status_code for c in cancels]
    assert cancel_statuses.count(200) <= 1 and set(cancel_statuses) <= {200, 409}, cancel_statuses
    if 200 in cancel_statuses:  # the cancel landed before the fifth wrong guess
        assert wrong_statuses.count(403) < 5
    else:  # locked first: cancel refused, and a new start is refused too
        assert wrong_statuses.count(403) == 5
        again = live_server.post("/v1/verifications", {"to": number})
        assert again.status_code == 429 and again.json()["error"]["code"] == "max_attempts_reached"


def requests_delete(url: str):
    import requests

    return requests.delete(url, timeout=30)
