"""Wrong authenticator codes (issue 22, docs/security.md rules 18-20): counted per factor across
all time and reset only by a right code, slowed by growing delays bound to the end user's source
when the backend passes it, a hard stop at 100 that suspends the factor (event, metric) until the
backend re-enables it, and replays counted and answered exactly as wrong codes.

Codes are pyotp's against the test's clock; KMS and SQS are moto's (see tests/unit/test_totp.py
and tests/unit/test_events.py for the documented behaviour each fake keeps)."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import wiring
from chalicelib.totp.limits import delay_after
from tests.conftest import TABLE
from tests.unit.helpers import error_code, get, post
from tests.unit.test_totp import IDENTITY, challenge, code_at, enrolled

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


@pytest.fixture
def step_clock(clock):
    clock.now = (int(clock.now) // 30) * 30 + 15
    return clock


def wrong_code(secret: str, moment: float) -> str:
    """A code none of the accepted steps (now +-1) has."""
    right = {code_at(secret, moment + offset) for offset in (-30, 0, 30)}
    return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in right)


def guess_until_refused(client, secret, clock, **who):
    """Wrong codes until the service says wait; the 403 bodies."""
    answers = []
    while True:
        status, body, headers = challenge(client, wrong_code(secret, clock.now), **who)
        if status != 403:
            assert status == 429, body
            return answers, body, headers
        answers.append(body)


def factor_item(factor_id: str) -> dict:
    from tests.conftest import TABLE

    from chalicelib import wiring

    key = {"pk": {"S": "t#" + wiring.get_totp().factor_key(factor_id)}}
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key=key)["Item"]
    return item["f_" + factor_id[-16:]]["M"]


# -- item 2: growing delays, worded for authenticator codes --------------------------------------


def test_five_wrong_codes_then_growing_delays_not_a_lockout(client, step_clock):
    factor = enrolled(client, step_clock)
    answers, body, headers = guess_until_refused(client, factor["secret"], step_clock)
    assert [a["error"]["attempts_remaining"] for a in answers] == [99, 98, 97, 96, 95]
    assert error_code(body) == "max_attempts_reached" and int(headers["Retry-After"]) == 30
    assert "authenticator" in body["error"]["message"] and "expire" not in body["error"]["message"]
    # The right code waits too (no comparison while refused), then passes once the delay is over.
    status, body, headers = challenge(client, code_at(factor["secret"], step_clock.now))
    assert status == 429 and 0 < int(headers["Retry-After"]) <= 30
    step_clock.advance(int(headers["Retry-After"]))
    assert challenge(client, code_at(factor["secret"], step_clock.now))[0] == 200


def test_each_wait_doubles_up_to_an_hour():
    waits = [delay_after(n, 5) for n in (4, 5, 6, 7, 11, 12, 13, 99)]
    assert waits == [0, 30, 60, 120, 1920, 3600, 3600, 3600]


@pytest.mark.parametrize("source", [None, "source-key"])
def test_a_failure_stamped_a_second_later_is_no_wait_while_the_count_is_free(source):
    """Concurrent requests take ``now`` when they start and stamp ``failed_at`` when they write:
    one that started a second later can land first. Below the free count that stamp is no
    wait; it used to answer 429 with Retry-After 1 (found by tests/integration/
    test_totp_concurrency.py under load: the 20th wrong code refused, uncounted)."""
    from chalicelib.totp.limits import FREE, FREE_WITH_SOURCES, wait_seconds
    from chalicelib.totp.store import IdentityItem, SourceRecord, TotpFactor

    now = 1_800_000_000.4
    free = FREE_WITH_SOURCES if source else FREE
    factor = TotpFactor("YF1", "verified", "phone", b"x", 0, None, 0, fails=free - 1, failed_at=int(now) + 1)
    sources = {source: SourceRecord(fails=FREE - 1, failed_at=int(now) + 1)} if source else {}
    item = IdentityItem("user", {factor.id: factor}, sources)
    assert wait_seconds(item, [factor], source, now) == 0
    counted = TotpFactor("YF1", "verified", "phone", b"x", 0, None, 0, fails=free, failed_at=int(now) + 1)
    assert wait_seconds(IdentityItem("user", {counted.id: counted}, sources), [counted], source, now) == 31


def test_a_stranger_on_another_network_does_not_slow_the_user(client, step_clock):
    factor = enrolled(client, step_clock)
    answers, _, _ = guess_until_refused(client, factor["secret"], step_clock, identity=IDENTITY,
                                        device_ip="203.0.113.7")
    assert len(answers) == 5
    status, _, _ = challenge(client, code_at(factor["secret"], step_clock.now), identity=IDENTITY,
                             device_ip="198.51.100.20")
    assert status == 200


def test_twenty_wrong_codes_an_hour_from_a_stranger_never_keep_the_user_out(client, step_clock):
    """Issue 22 item 2: the stranger's 20 requests an hour used to keep the identity locked."""
    factor = enrolled(client, step_clock)
    approved = []
    for hour in range(3):
        for _ in range(20):  # one every three minutes
            challenge(client, wrong_code(factor["secret"], step_clock.now), identity=IDENTITY,
                      device_ip="203.0.113.7")
            step_clock.advance(180)
        status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now), identity=IDENTITY,
                                    device_ip="198.51.100.20")
        approved.append(status)
        step_clock.advance(30)
    assert approved == [200, 200, 200]


def test_rotating_inside_an_ipv6_64_is_one_source(client, step_clock):
    factor = enrolled(client, step_clock)
    for host in range(1, 6):
        status, _, _ = challenge(client, wrong_code(factor["secret"], step_clock.now), identity=IDENTITY,
                                 device_ip=f"2001:db8:1:2::{host}")
        assert status == 403
    status, _, _ = challenge(client, wrong_code(factor["secret"], step_clock.now), identity=IDENTITY,
                             device_ip="2001:db8:1:2:ffff::1")
    assert status == 429


def test_rotating_sources_slow_the_factor_after_twenty(client, step_clock):
    """Sources are the stranger's to make; past 20 in a row the factor itself waits."""
    factor = enrolled(client, step_clock)
    statuses = [challenge(client, wrong_code(factor["secret"], step_clock.now), identity=IDENTITY,
                          device_ip=f"192.0.2.{n}")[0] for n in range(1, 23)]
    assert statuses == [403] * 20 + [429] * 2


@pytest.mark.parametrize("device_ip", ["", "10.0.0.256", "::g", 12, "203.0.113.7/24", "a" * 100])
def test_a_bad_device_ip_is_400(client, step_clock, device_ip):
    status, body, _ = challenge(client, "123456", identity=IDENTITY, device_ip=device_ip)
    assert status == 400 and error_code(body) == "invalid_request" and "device_ip" in body["error"]["message"]


# -- item 1: consecutive failures across windows, suspension at 100 -------------------------------


def drive_to(client, factor, clock, failures: int) -> list[int]:
    """Wrong codes, each as soon as allowed, until ``failures`` were counted; the 403 times."""
    times = []
    while len(times) < failures:
        status, body, headers = challenge(client, wrong_code(factor["secret"], clock.now))
        if status == 429:
            clock.advance(int(headers["Retry-After"]))
            continue
        assert status == 403, body
        times.append(clock.now)
    return times


def test_at_most_34_codes_a_day_per_factor(client, step_clock):
    """docs/security.md: the guessing odds per factor per day come from this count."""
    factor = enrolled(client, step_clock)
    start = step_clock.now
    times = drive_to(client, factor, step_clock, 40)
    assert sum(1 for t in times if t < start + 86_400) == 34


def test_the_issue_s_attack_no_longer_adds_up(client, step_clock):
    """Six wrong codes every 15 minutes for 7.5 hours (150 comparisons) used to end with the
    right code approved; now failures add up across windows and most of those are refused."""
    factor = enrolled(client, step_clock)
    counted = 0
    for _ in range(30):
        for _ in range(6):
            status, _, _ = challenge(client, wrong_code(factor["secret"], step_clock.now))
            counted += status == 403
        step_clock.advance(900)
    # 5 free, then one per window while the wait is under 15 minutes (30 s ... 480 s), then one
    # per wait of 960 s, 1920 s, 3600 s...: 16 compared instead of 150, no lockout on the way.
    assert counted == 16
    assert factor_item(factor["id"])["fails"]["N"] == str(counted)


def test_a_right_code_resets_the_count(client, step_clock):
    factor = enrolled(client, step_clock)
    drive_to(client, factor, step_clock, 7)
    step_clock.advance(3600)
    assert challenge(client, code_at(factor["secret"], step_clock.now))[0] == 200
    assert factor_item(factor["id"])["fails"]["N"] == "0"
    step_clock.advance(30)
    answers, _, _ = guess_until_refused(client, factor["secret"], step_clock)
    assert len(answers) == 5 and answers[0]["error"]["attempts_remaining"] == 99


@pytest.fixture
def events_client(configured):
    """Events from the table's stream (docs/events.md), through Lambda's mapping as documented
    (tests/unit/stream_poller.py), to a receiver on 127.0.0.1."""
    import app as app_module
    from tests.unit.stream_poller import StreamPoller
    from tests.unit.test_events import SECRET, Receiver

    receiver = Receiver()
    client = configured(OTP_EVENTS_URL=receiver.url, OTP_EVENTS_SECRET=SECRET)
    wiring._event_delivery.cache_clear()
    yield client, StreamPoller(TABLE, app_module.deliver_stream_records), receiver
    wiring._event_delivery.cache_clear()


def delivered(poller, receiver) -> list[dict]:
    """The events the receiver got since the last call."""
    poller.run(rounds=10)
    bodies = [json.loads(body) for _, body in receiver.received]
    receiver.received.clear()
    return bodies


def test_the_hundredth_failure_suspends_the_factor_until_the_backend_re_enables_it(
        events_client, step_clock, capsys):
    client, poller, receiver = events_client
    factor = enrolled(client, step_clock)
    drive_to(client, factor, step_clock, 100)
    assert "suspended_at" in factor_item(factor["id"])  # on the item: the stream can derive the event
    assert "TotpFactorsSuspended" in capsys.readouterr().out  # the EMF metric
    (event,) = [b for b in delivered(poller, receiver) if b["type"] == "totp.factor_suspended"]
    assert event["data"] == {"factor_id": factor["id"], "identity": IDENTITY, "consecutive_failures": 100}
    step_clock.advance(3600)
    status, body, _ = challenge(client, code_at(factor["secret"], step_clock.now))
    assert status == 403 and error_code(body) == "factor_suspended"
    _, listed, _ = get(client, f"/v1/totp/factors?identity={IDENTITY}")
    assert listed["factors"][0]["suspended"] is True
    status, body, _ = post(client, f"/v1/totp/factors/{factor['id']}/enable", {})
    assert status == 200 and body["suspended"] is False and body["consecutive_failures"] == 0
    assert challenge(client, code_at(factor["secret"], step_clock.now))[0] == 200
    assert not [b for b in delivered(poller, receiver) if b["type"] == "totp.factor_suspended"]


def test_re_enabling_an_unknown_factor_is_404(client, step_clock):
    status, body, _ = post(client, "/v1/totp/factors/YF" + "0" * 48 + "/enable", {})
    assert status == 404 and error_code(body) == "factor_not_found"


def test_a_new_enrolment_is_not_suspended(client, step_clock):
    factor = enrolled(client, step_clock)
    drive_to(client, factor, step_clock, 100)
    second = enrolled(client, step_clock, identity=IDENTITY)
    assert challenge(client, code_at(second["secret"], step_clock.now), factor_id=second["id"])[0] == 200


# -- item 3: a replay is a wrong code -------------------------------------------------------------


def test_a_replayed_code_answers_and_counts_as_a_wrong_one(client, step_clock, capsys, caplog):
    factor = enrolled(client, step_clock)
    code = code_at(factor["secret"], step_clock.now)
    assert challenge(client, code)[0] == 200
    capsys.readouterr()
    replay = challenge(client, code)
    wrong = challenge(client, wrong_code(factor["secret"], step_clock.now))
    assert (replay[0], wrong[0]) == (403, 403)
    assert replay[1]["error"]["attempts_remaining"] == 99 and wrong[1]["error"]["attempts_remaining"] == 98
    assert {k: v for k, v in replay[1]["error"].items() if k != "attempts_remaining"} == \
        {k: v for k, v in wrong[1]["error"].items() if k != "attempts_remaining"}
    assert capsys.readouterr().out.count('"TotpReplays": 1') == 1
    assert sum("replayed" in r.getMessage() for r in caplog.records) == 1
    assert "replayed_at" in factor_item(factor["id"]) and factor_item(factor["id"])["fails"]["N"] == "2"


def test_a_replay_reaches_the_backend_as_its_own_event(events_client, step_clock):
    """Told apart from a wrong code only where the sender cannot see it: the item's replayed_at,
    and from it the event (derived from the table's stream, as every event is)."""
    client, poller, receiver = events_client
    factor = enrolled(client, step_clock)
    code = code_at(factor["secret"], step_clock.now)
    assert challenge(client, code)[0] == 200
    assert challenge(client, wrong_code(factor["secret"], step_clock.now))[0] == 403
    assert not [b for b in delivered(poller, receiver) if b["type"] == "totp.code_replayed"]
    assert challenge(client, code)[0] == 403
    (event,) = [b for b in delivered(poller, receiver) if b["type"] == "totp.code_replayed"]
    assert event["data"] == {"factor_id": factor["id"], "identity": IDENTITY, "consecutive_failures": 2}
