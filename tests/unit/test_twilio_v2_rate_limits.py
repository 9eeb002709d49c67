"""Twilio's Service Rate Limits (RK) and Buckets (BL) on /v2 (issue 33): the resources in
Twilio's shapes and errors, and a start's ``RateLimits`` counted in the wave of its send
counters, given back with them, refused with 429/20429.

References: https://www.twilio.com/docs/verify/api/service-rate-limits,
.../service-rate-limit-buckets, .../programmable-rate-limits; the error pages 60207-60211
(https://www.twilio.com/docs/verify/api/error-codes) and 20429
(https://www.twilio.com/docs/api/errors/20429); Twilio's OpenAPI document twilio_verify_v2's
RateLimit and Bucket schemas (tests/data/twilio-oai)."""

from __future__ import annotations

import json
import re

import boto3
import pytest

from bench.floor import sequential_round_trips, waves
from chalicelib import wiring
from tests.conftest import TABLE
from tests.unit.test_concurrent_writes import slow_dynamodb  # noqa: F401  (a fixture)
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

A, B, C, D = "+14155552671", "+14155552672", "+14155552673", "+14155552674"
RK = re.compile(r"RK[0-9a-f]{32}")
BL = re.compile(r"BL[0-9a-f]{32}")


@pytest.fixture
def client(configured):
    return configured(OTP_ATTEMPTS="false", OTP_RESEND_INTERVAL_SECONDS="0")


def _limit(client, key, sid: str, name: str = "end_user_ip_address", **form: str) -> dict:  # noqa: F811
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {"UniqueName": name, **form})
    assert status == 201, body
    return body


def _bucket(client, key, sid: str, rk: str, max_: int = 2, interval: int = 60) -> dict:  # noqa: F811
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits/{rk}/Buckets",
                           {"Max": str(max_), "Interval": str(interval)})
    assert status == 201, body
    return body


def _start(client, key, sid: str, to: str, **limits: str):  # noqa: F811
    form = {"To": to, "Channel": "sms"}
    if limits:
        form["RateLimits"] = json.dumps(limits)
    return call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)


def _items() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


# -- the resources ----------------------------------------------------------------------------


def test_rate_limits_and_buckets_in_twilios_shapes(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    limit = _limit(client, key, sid, Description="Per end user IP")
    assert RK.fullmatch(limit["sid"]) and limit["service_sid"] == sid and limit["account_sid"].startswith("AC")
    assert (limit["unique_name"], limit["description"]) == ("end_user_ip_address", "Per end user IP")
    assert limit["url"].endswith(f"/v2/Services/{sid}/RateLimits/{limit['sid']}")
    assert limit["links"] == {"buckets": limit["url"] + "/Buckets"}
    assert set(limit) == {"sid", "service_sid", "account_sid", "unique_name", "description", "date_created",
                          "date_updated", "url", "links"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", limit["date_created"])
    rk = limit["sid"]
    assert call(client, key, "GET", f"/v2/Services/{sid}/RateLimits/{rk}")[1] == limit
    status, updated, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits/{rk}", {"Description": "IP"})
    assert status == 200 and updated["description"] == "IP" and updated["unique_name"] == "end_user_ip_address"
    second = _limit(client, key, sid, "session_id")
    status, listed, _ = call(client, key, "GET", f"/v2/Services/{sid}/RateLimits?PageSize=1")
    assert status == 200 and listed["meta"]["key"] == "rate_limits"
    assert [r["sid"] for r in listed["rate_limits"]] == [rk] and listed["meta"]["next_page_url"]
    assert call(client, key, "GET", f"/v2/Services/{sid}/RateLimits?PageSize=1&Page=1")[1]["rate_limits"][0][
        "sid"] == second["sid"]

    bucket = _bucket(client, key, sid, rk)
    assert BL.fullmatch(bucket["sid"]) and bucket["rate_limit_sid"] == rk and bucket["service_sid"] == sid
    assert (bucket["max"], bucket["interval"]) == (2, 60)
    assert set(bucket) == {"sid", "rate_limit_sid", "service_sid", "account_sid", "max", "interval",
                           "date_created", "date_updated", "url"}
    path = f"/v2/Services/{sid}/RateLimits/{rk}/Buckets"
    assert call(client, key, "GET", f"{path}/{bucket['sid']}")[1] == bucket
    status, changed, _ = call(client, key, "POST", f"{path}/{bucket['sid']}", {"Max": "5"})
    assert status == 200 and (changed["max"], changed["interval"]) == (5, 60)
    status, page, _ = call(client, key, "GET", path)
    assert page["meta"]["key"] == "buckets" and [b["sid"] for b in page["buckets"]] == [bucket["sid"]]
    assert call(client, key, "DELETE", f"{path}/{bucket['sid']}")[0] == 204
    assert twilio_error(call(client, key, "GET", f"{path}/{bucket['sid']}")[1]) == 20404
    assert call(client, key, "DELETE", f"/v2/Services/{sid}/RateLimits/{rk}")[0] == 204
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/RateLimits/{rk}")
    assert status == 404 and twilio_error(body) == 20404


@pytest.mark.parametrize("name", ["has space", "ip/address", "é", "a" * 65, "semi;colon", "new\nline"])
def test_a_unique_name_of_other_characters_is_60209(client, key, name):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {"UniqueName": name})
    assert status == 400 and twilio_error(body) == 60209


def test_twilios_errors_for_names_counts_and_intervals(client, key):  # noqa: F811
    from chalicelib.twilio_v2 import rate_limits

    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid, "user-id.v1_x")["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {"UniqueName": "user-id.v1_x"})
    assert status == 400 and twilio_error(body) == 60208
    for i in range(rate_limits.MAX_RATE_LIMITS - 1):
        _limit(client, key, sid, f"limit{i}")
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {"UniqueName": "one_more"})
    assert status == 400 and twilio_error(body) == 60207
    for i in range(rate_limits.MAX_BUCKETS):
        _bucket(client, key, sid, rk, 10, 60 * (i + 1))
    path = f"/v2/Services/{sid}/RateLimits/{rk}/Buckets"
    status, body, _ = call(client, key, "POST", path, {"Max": "1", "Interval": "7"})
    assert status == 400 and twilio_error(body) == 60210
    buckets = call(client, key, "GET", path)[1]["buckets"]
    call(client, key, "DELETE", f"{path}/{buckets[0]['sid']}")
    status, body, _ = call(client, key, "POST", path, {"Max": "1", "Interval": "120"})
    assert status == 400 and twilio_error(body) == 60211  # that Interval has a bucket
    status, body, _ = call(client, key, "POST", f"{path}/{buckets[1]['sid']}", {"Interval": "180"})
    assert status == 400 and twilio_error(body) == 60211
    for form in ({"Max": "1"}, {"Interval": "60"}, {"Max": "0", "Interval": "60"}, {"Max": "1", "Interval": "0"},
                 {"Max": "x", "Interval": "60"}, {"Max": "1", "Interval": str(rate_limits.MAX_INTERVAL + 1)},
                 {"Max": "1", "Interval": "60", "Burst": "2"}):
        status, body, _ = call(client, key, "POST", path, form)
        assert status == 400 and twilio_error(body) == 60200, (form, body)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits", {})
    assert status == 400 and twilio_error(body) == 60200 and "UniqueName" in body["message"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/RateLimits/{rk}", {"Description": "a\u202eb"})
    assert status == 400 and twilio_error(body) == 60200


# -- the effect: a start's RateLimits ---------------------------------------------------------


def test_a_bucket_refuses_the_third_start_with_that_key_and_not_another_key(client, key, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 2, 60)
    assert _start(client, key, sid, A, end_user_ip_address="203.0.113.7")[0] == 201
    assert _start(client, key, sid, B, end_user_ip_address="203.0.113.7")[0] == 201
    sent = len(outbox)
    status, body, headers = _start(client, key, sid, C, end_user_ip_address="203.0.113.7")
    assert status == 429 and twilio_error(body) == 20429, body
    assert int(headers["Retry-After"]) >= 1
    assert len(outbox) == sent  # nothing sent
    assert _start(client, key, sid, C, end_user_ip_address="198.51.100.1")[0] == 201  # another key
    assert _start(client, key, sid, D)[0] == 201  # no key named: the bucket does not apply
    # The refused start left no verification: its number starts afresh (201, not a resend).
    fetched = call(client, key, "GET", f"/v2/Services/{sid}/Verifications/{C}")[1]
    assert len(fetched["send_code_attempts"]) == 1


def test_the_count_slides_a_fixed_window_would_admit_twice_max_across_its_edge(client, key, clock):  # noqa: F811
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 2, 60)
    clock.advance(60 - clock() % 60 - 1)  # the window's last second
    assert _start(client, key, sid, A, end_user_ip_address="k")[0] == 201
    assert _start(client, key, sid, B, end_user_ip_address="k")[0] == 201
    clock.advance(2)  # the next window: a fixed one would admit two more now
    status, body, _ = _start(client, key, sid, C, end_user_ip_address="k")
    assert status == 429 and twilio_error(body) == 20429
    clock.advance(30)  # half the window on: 2 x 1/2 + 1 = 2, within Max
    assert _start(client, key, sid, C, end_user_ip_address="k")[0] == 201
    assert _start(client, key, sid, D, end_user_ip_address="k")[0] == 429
    clock.advance(60)
    assert _start(client, key, sid, D, end_user_ip_address="k")[0] == 201


def test_every_bucket_of_a_limit_holds(client, key, clock):  # noqa: F811
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 5, 60)
    _bucket(client, key, sid, rk, 2, 3600)
    clock.advance(3600 - clock() % 3600 + 1)
    assert [_start(client, key, sid, n, end_user_ip_address="k")[0] for n in (A, B, C)] == [201, 201, 429]


def test_a_name_the_service_has_not_and_a_malformed_value_are_60200_naming_rate_limits(client, key, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    _limit(client, key, sid)
    other = new_service(client, key, FriendlyName="Other")["sid"]
    _limit(client, key, other, "session_id")
    for raw in (json.dumps({"session_id": "s1"}), json.dumps({"nope": "x"}), "[1]", "{", '{"end_user_ip_address": {}}',
                json.dumps({"end_user_ip_address": ""}), json.dumps({"end_user_ip_address": "x" * 257})):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                               {"To": A, "Channel": "sms", "RateLimits": raw})
        assert status == 400 and twilio_error(body) == 60200 and "`RateLimits`" in body["message"], (raw, body)
    assert not outbox


def test_a_refused_start_gives_back_every_counter_it_counted(configured, key, outbox):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false", OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 2, 60)
    assert _start(client, key, sid, A, end_user_ip_address="k")[0] == 201
    status, body, _ = _start(client, key, sid, B, end_user_ip_address="k")  # the budget refuses
    assert status == 429
    counts = [int(v["N"]) for i in _items() if i["pk"]["S"].startswith("rl#rk#")
              for name, v in i.items() if name.startswith("c_")]
    assert counts == [1]  # the budget's refusal gave the bucket's count back


def test_a_bucket_refusal_gives_back_the_send_counters(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 1, 60)
    assert _start(client, key, sid, A, end_user_ip_address="k")[0] == 201
    assert _start(client, key, sid, B, end_user_ip_address="k")[0] == 429
    budget = sum(int(i.get("n", {"N": "0"})["N"]) for i in _items() if i["pk"]["S"].startswith("rl#budget#"))
    prefixes = sum(int(i.get("n", {"N": "0"})["N"]) for i in _items() if i["pk"]["S"].startswith("rl#prefix#"))
    assert (budget, prefixes) == (1, 1)  # the refused start counts nowhere


def test_keys_are_stored_hashed(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk)
    assert _start(client, key, sid, A, end_user_ip_address="203.0.113.77")[0] == 201
    stored = json.dumps(_items())
    assert "203.0.113.77" not in stored and "rl#rk#" in stored


def test_a_test_numbers_start_is_counted_too(configured, key):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false", OTP_TEST_NUMBERS=json.dumps({"+15005550006": "123456", "+15005550007": "123456"}))
    sid = new_service(client, key)["sid"]
    rk = _limit(client, key, sid)["sid"]
    _bucket(client, key, sid, rk, 1, 60)
    assert _start(client, key, sid, "+15005550006", end_user_ip_address="k")[0] == 201
    assert _start(client, key, sid, "+15005550007", end_user_ip_address="k")[0] == 429


# -- scope, doors and retries -----------------------------------------------------------------


def test_another_services_rate_limit_is_20404_from_this_service(client, key):  # noqa: F811
    mine, theirs = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    rk = _limit(client, key, theirs)["sid"]
    bl = _bucket(client, key, theirs, rk)["sid"]
    base = f"/v2/Services/{mine}/RateLimits/{rk}"
    for method, path, form in (("GET", base, None), ("POST", base, {"Description": "x"}), ("DELETE", base, None),
                               ("GET", base + "/Buckets", None), ("POST", base + "/Buckets", {"Max": "1", "Interval": "9"}),
                               ("GET", f"{base}/Buckets/{bl}", None), ("POST", f"{base}/Buckets/{bl}", {"Max": "9"}),
                               ("DELETE", f"{base}/Buckets/{bl}", None)):
        status, body, _ = call(client, key, method, path, form)
        assert status == 404 and twilio_error(body) == 20404, (method, path, body)
    theirs_bucket = call(client, key, "GET", f"/v2/Services/{theirs}/RateLimits/{rk}/Buckets/{bl}")[1]
    assert theirs_bucket["max"] == 2  # untouched
    assert twilio_error(call(client, key, "GET", f"/v2/Services/{mine}/RateLimits/RKnot-a-sid")[1]) == 20404


def test_without_a_key_nothing_and_a_limited_key_only_its_services(client, key, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import create
    from tests.unit.test_v2_credentials import expire_cache

    mine, other = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    rk = _limit(client, key, other)["sid"]
    for method, path in (("GET", f"/v2/Services/{other}/RateLimits"), ("POST", f"/v2/Services/{other}/RateLimits"),
                         ("GET", f"/v2/Services/{other}/RateLimits/{rk}/Buckets")):
        status, body, _ = call(client, key, method, path, {"UniqueName": "x"}, headers={"content-type": "application/x-www-form-urlencoded"})
        assert status == 401 and twilio_error(body) == 20003
    limited = create("test", "limited", services=[mine])
    expire_cache(monkeypatch, 1.5)
    assert call(client, limited, "POST", f"/v2/Services/{mine}/RateLimits", {"UniqueName": "ok"})[0] == 201
    for method, path, form in (("GET", f"/v2/Services/{other}/RateLimits", None),
                               ("POST", f"/v2/Services/{other}/RateLimits", {"UniqueName": "y"}),
                               ("DELETE", f"/v2/Services/{other}/RateLimits/{rk}", None),
                               ("POST", f"/v2/Services/{other}/RateLimits/{rk}/Buckets", {"Max": "1", "Interval": "1"})):
        status, body, _ = call(client, limited, method, path, form)
        assert status == 403 and twilio_error(body) == 20403, (method, path)
    assert len(call(client, key, "GET", f"/v2/Services/{other}/RateLimits")[1]["rate_limits"]) == 1


def test_the_default_service_has_no_rate_limits(client, key):  # noqa: F811
    default = wiring.get_twilio().catalog.default.sid
    status, body, _ = call(client, key, "POST", f"/v2/Services/{default}/RateLimits", {"UniqueName": "x"})
    assert status == 400 and twilio_error(body) == 60200


def _faults():
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    return faults


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_create_is_one_resource(client, key, kind):  # noqa: F811
    sid = new_service(client, key)["sid"]
    faults = _faults()
    faults.arm("service_item", kind)
    limit = _limit(client, key, sid)
    assert ("service_item", kind) in faults.hit
    faults.arm("service_item", kind)
    bucket = _bucket(client, key, sid, limit["sid"])
    assert faults.hit.count(("service_item", kind)) == 2
    assert [r["sid"] for r in call(client, key, "GET", f"/v2/Services/{sid}/RateLimits")[1]["rate_limits"]] == [
        limit["sid"]]
    path = f"/v2/Services/{sid}/RateLimits/{limit['sid']}/Buckets"
    assert [b["sid"] for b in call(client, key, "GET", path)[1]["buckets"]] == [bucket["sid"]]


def test_a_retry_that_meets_another_change_applies_its_create_once():
    """The lost answer's retry fails its compare-and-set (another change landed between): the
    catalog re-reads and applies the create again, which finds its own SID there."""
    from chalicelib.twilio_v2.services import ServiceSettings

    made = {"sid": "RK" + "0" * 32, "unique_name": "x", "description": None, "created_at": 1, "updated_at": 1,
            "buckets": []}
    base = ServiceSettings("VA" + "1" * 32, "Acme", 6, 1, 1)
    landed = ServiceSettings("VA" + "1" * 32, "Renamed", 6, 1, 2, rate_limits=(made,))

    class Store:
        writes = 0

        def replace(self, old, new):
            self.writes += 1
            return False  # the compare fails: the item is ``landed``

        def get(self, sid):
            return landed

    from chalicelib.twilio_v2.services import ServiceCatalog

    store = Store()
    catalog = ServiceCatalog(store, base)  # type: ignore[arg-type]
    catalog._services[base.sid] = (base, catalog._monotonic())

    def apply(s):
        if any(r["sid"] == made["sid"] for r in s.rate_limits):
            return s
        return ServiceSettings(**{**s.__dict__, "rate_limits": (*s.rate_limits, made)})

    assert catalog.change(base.sid, apply) == landed and store.writes == 1


# -- the cost: no extra sequential round trip --------------------------------------------------


@pytest.mark.parametrize("attempts", ["false", "true"])
def test_a_start_naming_two_keys_makes_the_same_two_sequential_round_trips(configured, key, slow_dynamodb,  # noqa: F811
                                                                            attempts):
    """For `make bench`: a start naming two rate-limit keys (two buckets each) against one
    naming none. With Attempts on (the default) each has the attempt's two writes more."""
    client = configured(OTP_ATTEMPTS=attempts, OTP_RESEND_INTERVAL_SECONDS="0")
    extra = 2 if attempts == "true" else 0
    sid = new_service(client, key)["sid"]
    for name in ("end_user_ip_address", "session_id"):
        rk = _limit(client, key, sid, name)["sid"]
        _bucket(client, key, sid, rk, 10, 60)
        _bucket(client, key, sid, rk, 100, 3600)
    calls = slow_dynamodb(wiring.get_service())
    assert _start(client, key, sid, A)[0] == 201
    plain = [c for c in calls.take() if c["operation"] != "GetItem"]
    assert _start(client, key, sid, B, end_user_ip_address="203.0.113.7", session_id="s-1")[0] == 201
    named = [c for c in calls.take() if c["operation"] != "GetItem"]
    assert (len(plain), sequential_round_trips(plain)) == (5 + extra, 2)  # number, its SID's lookup, prefix, country, budget
    assert (len(named), sequential_round_trips(named)) == (7 + extra, 2)  # + one write per rate limit named
    assert len(waves(named)[1]) == 5 + extra


def test_the_same_name_and_key_in_two_services_count_apart(client, key):  # noqa: F811
    """One Service's starts never use up another's bucket (the counter's key is a keyed hash of
    the Service, the Rate Limit and the value): a stranger with their own Service cannot
    refuse your users by naming your keys."""
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    for sid in (first, second):
        _bucket(client, key, sid, _limit(client, key, sid)["sid"], 1, 60)
    assert _start(client, key, second, A, end_user_ip_address="203.0.113.7")[0] == 201
    assert _start(client, key, first, B, end_user_ip_address="203.0.113.7")[0] == 201
    assert _start(client, key, first, C, end_user_ip_address="203.0.113.7")[0] == 429


@pytest.mark.parametrize("previous, elapsed, admitted", [(0, 0.0, 7), (4, 0.5, 5), (7, 0.1, 0), (6, 0.9, 6)])
def test_concurrent_starts_admit_exactly_the_weighted_limit(previous, elapsed, admitted):
    """40 starts at once on one key of a bucket of Max=7: exactly floor(7 - previous x (1 -
    elapsed)) pass (the k-th admitted saw a count of at least k), the rest are given back."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.verify.counters import CounterFull, CounterStore
    from chalicelib.verify.rate_buckets import Bucket, BucketCount, RateLimitExceeded, count

    class Memory(CounterStore):  # DynamoDB's per-item serialisation: one lock
        def __init__(self):
            self.item: dict[str, int] = {}
            self.lock = threading.Lock()

        def increment_windows(self, key, windows, expires_at):
            with self.lock:
                if any(self.item.get(a, 0) >= limit for a, _, limit in windows):
                    raise CounterFull(dict(self.item))
                for a, old, _ in windows:
                    self.item[a] = self.item.get(a, 0) + 1
                    self.item.pop(old, None)
                return dict(self.item)

        def release_windows(self, key, attributes):
            with self.lock:
                for a in attributes:
                    self.item[a] -= 1

        def increment(self, *a, **k):  # pragma: no cover - not used here
            raise NotImplementedError

        add = suspend = release = increment

    bucket = Bucket("00000000", 7, 60)
    now = 60 * 1000 + 60 * elapsed
    store = Memory()
    store.item[bucket.attribute(1000 - 1)] = previous

    def one(_):
        try:
            count(store, BucketCount("rl#rk#x", (bucket,)), now)
            return True
        except RateLimitExceeded:
            return False

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(40)))
    assert sum(results) == admitted
    assert store.item[bucket.attribute(1000)] == admitted  # every refusal given back
