"""A new verification's independent writes go out at once (two sequential DynamoDB round
trips), and a refusal by any of them leaves nothing counted that the request did not use."""

from __future__ import annotations

import os
import random
import signal
import time

import boto3
import pytest

from bench.floor import capture, sequential_round_trips, waves
from tests.conftest import TABLE, last_code
from tests.unit.helpers import check, error_code, start
from tests.unit import test_limits

number = test_limits.number

LATENCY = 0.1  # seconds added to every DynamoDB call, so overlap is unmistakable (a busy machine delays a thread by tens of ms)


@pytest.fixture
def slow_dynamodb():
    """Every call on the service's client takes LATENCY longer (a before-call hook sleeps in
    the thread making the call, as network latency would); returns the timed call log."""

    def attach(service):
        client = service._store._client
        client.meta.events.register("before-call.dynamodb", lambda **_: time.sleep(LATENCY))
        return capture(client)

    return attach


def _counters() -> dict[str, int]:
    """Every counter item's count, keyed by kind and key without the window."""
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    counts: dict[str, int] = {}
    for item in items:
        pk = item["pk"]["S"]
        if pk.startswith("rl#"):
            kind_key = "#".join(pk.split("#")[1:3]) if not pk.startswith("rl#budget#") else "budget"
            counts[kind_key] = counts.get(kind_key, 0) + int(item.get("n", {"N": "0"})["N"])
    return counts


def _kind(call: dict) -> str:
    pk = call["params"]["Key"]["pk"]["S"]
    if pk.startswith("sid#"):  # a 34-character SID's lookup (chalicelib/factors/sid_links.py)
        return "sid"
    return "v" if pk.startswith("v#") else pk.split("#")[1]


def _number_item(e164: str) -> dict:
    from chalicelib import wiring

    key = wiring.get_service()._hasher.number_key(e164)
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "v#" + key}}).get("Item", {})


def test_a_new_verification_waits_for_two_sequential_round_trips(configured, outbox, clock, slow_dynamodb):
    client = configured(OTP_ATTEMPTS="false")  # the attempt's two writes: tests/unit/test_twilio_v2_attempts.py
    from chalicelib import wiring

    calls = slow_dynamodb(wiring.get_service())
    assert start(client, to=number(1))[0] == 201
    request = calls.take()
    assert len(request) == 6  # IP, the SID's lookup, number, prefix, country, budget
    assert sequential_round_trips(request) == 2  # the lookup in the number's wave: no round trip more
    grouped = [sorted(_kind(c) for c in wave) for wave in waves(request)]
    assert grouped == [["ip", "sid", "v"], ["budget", "country", "prefix"]]

    clock.advance(31)
    assert start(client, to=number(1))[0] == 200  # a resend: the failed create, the resend, the counters
    assert sequential_round_trips(calls.take()) == 3
    assert check(client, "000000" if last_code(outbox) != "000000" else "000001", to=number(1))[0] == 403
    assert sequential_round_trips(calls.take()) == 2  # the IP's check count, then the number's
    verification_id = wiring.get_service()._store.get(wiring.get_service()._hasher.number_key(number(1))).id
    calls.take()  # that read is the test's own
    wrong = "000000" if last_code(outbox) != "000000" else "000001"
    assert check(client, wrong, id=verification_id)[0] == 403
    checked = calls.take()  # by SID: the lookup beside the IP's count, then the number's write
    assert sequential_round_trips(checked) == 2
    assert [sorted(_kind(c) for c in wave) for wave in waves(checked)] == [["ipcheck", "sid"], ["v"]]


def test_a_refused_send_gives_back_what_the_other_counters_counted(configured, outbox):
    client = configured(OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    assert start(client, to=number(1))[0] == 201
    status, body, _ = start(client, to=number(2))
    assert status == 429 and error_code(body) == "send_budget_exhausted"
    counts = _counters()
    # the refused send's prefix and country counts were given back: only the first send counts
    assert counts[f"prefix#{number(2)[:-3]}"] == 0
    assert counts[f"prefix#{number(1)[:-3]}"] == 1
    assert counts["country#US"] == 1 and counts["budget"] == 1
    assert counts["ip#127.0.0.1"] == 2  # the IP counts requests, refused or not
    assert "vid" not in _number_item(number(2))  # and the number's write was undone
    assert len(outbox) == 1


def test_a_refused_prefix_gives_back_the_budget(configured, outbox):
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1", OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    same_prefix = [number(3)[:-3] + "001", number(3)[:-3] + "002"]
    assert start(client, to=same_prefix[0])[0] == 201
    status, body, _ = start(client, to=same_prefix[1])
    assert status == 429 and error_code(body) == "prefix_rate_limited"
    counts = _counters()
    assert counts[f"prefix#{number(3)[:-3]}"] == 1
    assert counts["budget"] == 1 and counts["country#US"] == 1


def test_an_ip_refusal_leaves_no_verification_and_no_start(configured, outbox):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1", OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="1")
    configured.from_ip("198.51.100.1")
    assert start(client, to=number(1))[0] == 201
    status, body, _ = start(client, to=number(2))
    assert status == 429 and error_code(body) == "ip_rate_limited"
    item = _number_item(number(2))
    assert "vid" not in item  # written in the same wave as the IP count, then removed
    assert all(int(v["N"]) == 0 for k, v in item.items() if k.startswith("starts_"))  # start given back
    assert "budget" not in _counters() or _counters()["budget"] == 1  # no send counted
    configured.from_ip("198.51.100.2")
    assert start(client, to=number(2))[0] == 201  # a new verification, within its one start a day
    assert len(outbox) == 2


def test_an_ip_refusal_never_touches_a_live_verification(configured, outbox, clock):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1")
    configured.from_ip("198.51.100.1")
    assert start(client, to=number(1))[0] == 201
    code = last_code(outbox)
    before = _number_item(number(1))
    clock.advance(31)
    status, body, _ = start(client, to=number(1))  # a resend from an IP over its limit
    assert status == 429 and error_code(body) == "ip_rate_limited"
    assert _number_item(number(1)) == before  # the resend write waited for the IP's answer
    assert check(client, code, to=number(1))[0] == 200


def test_the_budget_shard_is_not_chosen_from_randoms_seeded_state(configured):
    """SnapStart: every restored container starts from the snapshot's memory, so anything
    drawn from `random`'s state would repeat across containers; shards come from the OS."""
    from chalicelib.config import Limits
    from chalicelib.verify.limits import Limiter

    limits = Limits.from_env({"OTP_BUDGET_SHARDS": "100", "OTP_MAX_SENDS_PER_HOUR": "1000"})
    draws = []
    for _ in range(2):
        random.seed(1234)  # the same state, as two containers restored from one snapshot
        limiter = Limiter(limits, counters=None)  # type: ignore[arg-type]
        draws.append([limiter._choose_shard(100) for _ in range(20)])
    assert draws[0] != draws[1]


def test_a_forked_child_gets_a_working_pool():
    """serve.py --forking forks after the parent's first requests may have started the pool's
    threads; threads do not survive fork, so the child must make a pool of its own."""
    from chalicelib import concurrency

    assert [o.value for o in concurrency.run_all([lambda: 1, lambda: 2, lambda: 3])] == [1, 2, 3]
    pid = os.fork()
    if pid == 0:  # the child: a deadlock here would hang, so the alarm ends it with a failure
        signal.alarm(5)
        outcomes = concurrency.run_all([lambda: 1, lambda: 2, lambda: 3])
        os._exit(0 if [o.value for o in outcomes] == [1, 2, 3] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_run_all_returns_every_outcome_and_leaves_nothing_running():
    from chalicelib import concurrency

    finished = []

    def slow(value):
        time.sleep(0.05)
        finished.append(value)
        return value

    def refuse():
        raise ValueError("refused")

    outcomes = concurrency.run_all([refuse, lambda: slow(1), lambda: slow(2)])
    assert isinstance(outcomes[0].error, ValueError)
    assert [o.value for o in outcomes[1:]] == [1, 2] and sorted(finished) == [1, 2]
