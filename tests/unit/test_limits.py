"""Abuse and cost limits: each limit, its window, its reset, and its Retry-After."""

from __future__ import annotations

from tests.conftest import reset_app

import json
import logging

import pytest

from tests.conftest import ROOT, last_code
from tests.unit.helpers import PhoneNumberType, check, error_code, example, get, start
from chalicelib import wiring

HOUR_START = 1_800_000_000 - 1_800_000_000 % 3600  # clock fixture starts 1,800,000,000 s


def number(i: int) -> str:
    """Distinct US numbers in distinct prefixes (so only the limit under test binds)."""
    return f"+1415{200 + i:03d}{i % 10}000"


def wrong(outbox) -> str:
    return f"{(int(last_code(outbox)) + 1) % 10**6:06d}"


def test_numbers_helper_gives_valid_distinct_prefixes(configured):
    client = configured()
    assert len({number(i)[:-3] for i in range(30)}) == 30
    assert start(client, to=number(7))[0] == 201


# -- per number ----------------------------------------------------------------------------


def test_verifications_per_number_per_day(configured, outbox, clock):
    client = configured(OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="3")
    for _ in range(3):
        assert start(client)[0] == 201
        assert check(client, last_code(outbox))[0] == 200
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "too_many_verifications"
    day_end = (int(clock.now) // 86400 + 1) * 86400
    assert headers["Retry-After"] == str(day_end - int(clock.now)) == str(body["error"]["retry_after"])
    clock.now = day_end
    assert start(client)[0] == 201


def test_a_failed_send_does_not_use_up_a_start(configured, service, outbox):
    from chalicelib.channels.providers import ProviderError

    class Failing:
        name = "console"

        def send_sms(self, to, message):
            raise ProviderError("console", permanent=False, detail="HTTP 503")

    client = configured(OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="1")
    console = wiring.get_service()._providers.get("console")
    wiring.get_service()._providers.replace("console", Failing())
    assert start(client)[0] == 502
    wiring.get_service()._providers.replace("console", console)
    assert start(client)[0] == 201


def test_failed_checks_per_number_survive_starting_over(configured, outbox, clock):
    client = configured(OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW="7", OTP_NUMBER_CHECK_WINDOW_SECONDS="86400")
    start(client)
    for _ in range(5):
        check(client, wrong(outbox))
    clock.advance(600)  # the locked verification expires; a new one starts
    assert start(client)[0] == 201
    assert check(client, wrong(outbox))[0] == 403
    assert check(client, wrong(outbox))[0] == 403
    status, body, headers = check(client, last_code(outbox))  # even the right code
    assert status == 429 and error_code(body) == "too_many_checks"
    assert int(headers["Retry-After"]) > 0


# -- per client IP -------------------------------------------------------------------------


def test_requests_per_ip_per_hour_and_the_next_window(configured, outbox, clock):
    client = configured()
    clock.now = HOUR_START + 100
    for i in range(20):
        assert start(client, to=number(i))[0] == 201, i
    status, body, headers = start(client, to=number(20))
    assert status == 429 and error_code(body) == "ip_rate_limited"
    assert headers["Retry-After"] == "3500" and body["error"]["retry_after"] == 3500
    assert len(outbox) == 20
    clock.now = HOUR_START + 3600
    assert start(client, to=number(20))[0] == 201


def test_forwarded_headers_change_nothing(configured, outbox):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="2")
    spoofed = ["1.2.3.4", "5.6.7.8", "9.9.9.9"]
    statuses = []
    for i, ip in enumerate(spoofed):
        response = client.http.post(
            "/v1/verifications",
            headers={"content-type": "application/json", "X-Forwarded-For": ip, "X-Real-IP": ip,
                     "Forwarded": f"for={ip}", "True-Client-IP": ip, "CF-Connecting-IP": ip},
            body=json.dumps({"to": number(i)}),
        )
        statuses.append(response.status_code)
    assert statuses == [201, 201, 429]


def test_another_source_ip_has_its_own_count(configured):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1")
    configured.from_ip("198.51.100.1")
    assert start(client, to=number(1))[0] == 201
    assert start(client, to=number(2))[0] == 429
    configured.from_ip("198.51.100.2")
    assert start(client, to=number(2))[0] == 201


def test_checks_per_ip_per_hour(configured, outbox):
    client = configured(OTP_MAX_CHECKS_PER_IP_PER_HOUR="3")
    _, started, _ = start(client)
    for _ in range(3):
        assert check(client, wrong(outbox))[0] == 403
    status, body, headers = check(client, last_code(outbox))
    assert status == 429 and error_code(body) == "ip_check_rate_limited" and "Retry-After" in headers
    # the refused check never reached the verification: 5 - 3 attempts left, still pending
    _, state, _ = get(client, f"/v1/verifications/{started['id']}")
    assert state["attempts_remaining"] == 2 and state["status"] == "pending"


# -- per prefix, country, budget -----------------------------------------------------------


def test_prefix_limit_stops_a_walk_through_adjacent_numbers(configured, outbox, clock):
    client = configured(OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="5")
    clock.now = HOUR_START
    for i in range(5):
        configured.from_ip(f"203.0.113.{i}")
        assert start(client, to=f"+14155552{i:03d}")[0] == 201
    configured.from_ip("203.0.113.99")
    status, body, headers = start(client, to="+14155552999")
    assert status == 429 and error_code(body) == "prefix_rate_limited" and headers["Retry-After"] == "3600"
    assert start(client, to="+14155553000")[0] == 201  # the next block is another prefix
    clock.now = HOUR_START + 3600
    assert start(client, to="+14155552999")[0] == 201  # the refusal left nothing behind


def test_country_allow_list(configured, outbox):
    client = configured(OTP_ALLOWED_COUNTRIES="US,CA")
    status, body, _ = start(client, to=example("GB", PhoneNumberType.MOBILE))
    assert status == 403 and error_code(body) == "country_not_allowed"
    assert start(client)[0] == 201
    assert len(outbox) == 1


def test_sends_per_country_per_hour(configured, outbox):
    client = configured(OTP_MAX_SENDS_PER_COUNTRY_PER_HOUR="2")
    assert [start(client, to=number(i))[0] for i in range(3)] == [201, 201, 429]
    assert error_code(start(client, to=number(4))[1]) == "country_rate_limited"
    assert start(client, to=example("GB", PhoneNumberType.MOBILE))[0] == 201


def test_global_budget_is_never_exceeded(configured, outbox, clock):
    client = configured(OTP_MAX_SENDS_PER_HOUR="5", OTP_BUDGET_SHARDS="2",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    statuses = [start(client, to=number(i))[0] for i in range(12)]
    assert statuses.count(201) <= 5 and len(outbox) == statuses.count(201)
    refused = start(client, to=number(99))
    assert refused[0] == 429 and error_code(refused[1]) == "send_budget_exhausted"
    assert refused[2]["Retry-After"] == "3600"


def test_budget_shards_add_up_to_the_budget_exactly():
    from chalicelib.config import Limits
    from chalicelib.verify.limits import Limiter
    from chalicelib.verify.counters import CounterFull, CounterStore

    class Memory(CounterStore):
        def __init__(self):
            self.counts = {}

        def increment(self, key, limit, expires_at):
            if self.counts.get(key, 0) >= limit:
                raise CounterFull({"n": self.counts[key]})
            self.counts[key] = self.counts.get(key, 0) + 1
            return {"n": self.counts[key]}

        def add(self, key, attribute, expires_at): ...

        def suspend(self, key, expires_at): ...

        def release(self, key):
            self.counts[key] -= 1

    limits = Limits.from_env({"OTP_MAX_SENDS_PER_HOUR": "103", "OTP_BUDGET_SHARDS": "10"})
    memory = Memory()
    limiter = Limiter(limits, memory)
    sent = 0
    for _ in range(2000):
        try:
            limiter._budget(0)
            sent += 1
        except Exception:
            pass
    assert sent == 103 and sum(memory.counts.values()) == 103


def test_conversion_breaker_suspends_a_prefix_until_the_window_ends(configured, outbox, clock, caplog):
    caplog.set_level(logging.WARNING)
    client = configured(OTP_BREAKER_MIN_SENDS="4", OTP_BREAKER_MIN_CONVERSION_PERCENT="50",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    gb = [f"+4474001234{i:02d}" for i in range(10)]  # one prefix: +447400123
    for n in gb[:4]:  # four sends, no approvals: conversion 0 %
        assert start(client, to=n)[0] == 201
    status, body, headers = start(client, to=gb[4])
    assert status == 429 and error_code(body) == "prefix_suspended" and headers["Retry-After"] == "3600"
    assert "prefix suspended range=+4474001** channel=sms sends=4 approvals=0" in caplog.text
    assert start(client, to=gb[5])[0] == 429  # stays suspended for the window
    clock.now = HOUR_START + 3600
    assert start(client, to=gb[5])[0] == 201


def test_a_pumped_range_does_not_refuse_its_country(configured, outbox, clock):
    # 51 starts to one country from a few IPs tripped the old per-country breaker and refused
    # every real user of that country for the rest of the hour.
    client = configured(OTP_BREAKER_MIN_SENDS="4", OTP_BREAKER_MIN_CONVERSION_PERCENT="50",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    for i in range(6):
        start(client, to=f"+4474001234{i:02d}")
    assert start(client, to="+447400123499")[0] == 429
    status, _, _ = start(client, to="+447800123456")  # another GB range: a real user
    assert status == 201
    assert check(client, last_code(outbox), to="+447800123456")[0] == 200


def test_a_number_approved_lately_passes_a_suspended_breaker(configured, outbox, clock):
    client = configured(OTP_BREAKER_MIN_SENDS="4", OTP_BREAKER_MIN_CONVERSION_PERCENT="50",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START - 86_400 * 29  # approved 29 days ago
    owner = "+447400123450"
    start(client, to=owner)
    assert check(client, last_code(outbox), to=owner)[0] == 200
    clock.now = HOUR_START
    for i in range(6):  # the bot pumps the owner's range; the breaker trips
        start(client, to=f"+4474001234{i:02d}")
    assert start(client, to="+447400123460")[0] == 429
    status, _, _ = start(client, to=owner)  # the owner still gets in
    assert status == 201
    assert check(client, last_code(outbox), to=owner)[0] == 200
    clock.now = HOUR_START + 86_400 * 31  # 31 days after the last approval: no longer trusted
    for i in range(6):
        start(client, to=f"+4474001234{i:02d}")
    status, body, _ = start(client, to=owner)
    assert status == 429 and error_code(body) == "prefix_suspended"


def test_a_country_wide_breaker_is_opt_in(configured, outbox, clock):
    client = configured(OTP_BREAKER_COUNTRY_WIDE="true", OTP_BREAKER_COUNTRY_MIN_SENDS="4",
                        OTP_BREAKER_MIN_SENDS="100", OTP_BREAKER_MIN_CONVERSION_PERCENT="50",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    for i in range(4):  # four ranges, one send each: no prefix trips, the country does
        assert start(client, to=f"+44740{i}123456")[0] == 201
    status, body, _ = start(client, to="+447800123456")
    assert status == 429 and error_code(body) == "country_suspended"
    assert start(client, to=number(1))[0] == 201  # other countries are unaffected


def test_approvals_keep_the_breaker_closed(configured, outbox, clock):
    client = configured(OTP_BREAKER_MIN_SENDS="4", OTP_BREAKER_MIN_CONVERSION_PERCENT="50",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    for i in range(8):
        to = f"+4474001234{i:02d}"
        assert start(client, to=to)[0] == 201
        assert check(client, last_code(outbox), to=to)[0] == 200


def test_an_exhausted_budget_is_an_alarm(configured, outbox, clock, capsys):
    from scripts.deploy.package_template import resources

    client = configured(OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1")
    assert start(client, to=number(1))[0] == 201
    capsys.readouterr()
    status, body, _ = start(client, to=number(2))
    assert status == 429 and error_code(body) == "send_budget_exhausted"
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    emitted = [d for d in documents if d.get("kind") == "send_budget_exhausted" and d.get("LimitsHit") == 1]
    assert emitted, documents  # the EMF metric the alarm watches...
    alarm = resources("prod")["Resources"]["SendBudgetExhaustedAlarm"]["Properties"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    metric = emitted[0]["_aws"]["CloudWatchMetrics"][0]
    assert alarm["MetricName"] == "LimitsHit" and alarm["Namespace"] == metric["Namespace"]
    assert dimensions == {"service": emitted[0]["service"], "kind": "send_budget_exhausted"}
    assert sorted(dimensions) in metric["Dimensions"]  # ...published under the alarm's dimensions


# -- test numbers --------------------------------------------------------------------------


def test_test_numbers_send_nothing_and_take_the_fixed_code(configured, outbox, clock, caplog):
    caplog.set_level(logging.INFO)
    client = configured(OTP_TEST_NUMBERS=json.dumps({"+15005550006": "123456", r"^\+1555010[0-9]{4}": "000000"}))
    assert start(client, to="+15005550006")[0] == 201
    assert check(client, "123456", to="+15005550006")[0] == 200
    assert start(client, to="+15550101234")[0] == 201
    assert check(client, "000000", to="+15550101234")[0] == 200
    assert len(outbox) == 0
    assert "test number" in caplog.text


def test_test_numbers_skip_only_the_sms_and_the_send_counters(configured, outbox, clock):
    # The attack: start, 5 wrong checks, cancel, repeat, found a test number's fixed code in
    # 314 guesses. The IP, attempt and per-number check limits apply to test numbers too.
    client = configured(OTP_TEST_NUMBERS=json.dumps({"+15005550006": "123456"}),
                        OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="1", OTP_MAX_SENDS_PER_HOUR="1")
    assert start(client, to="+15005550006")[0] == 201
    assert start(client, to="+15005550006")[0] == 429  # the resend interval applies
    for guess in range(5):
        assert check(client, f"{guess:06d}", to="+15005550006")[0] == 403
    status, body, _ = check(client, "123456", to="+15005550006")  # locked, even the fixed code
    assert status == 429 and error_code(body) == "max_attempts_reached"
    assert start(client, to=number(1))[0] == 201  # the budget of 1 was not spent by the test number
    assert len(outbox) == 1


def test_test_numbers_meet_the_ip_limits(configured):
    client = configured(OTP_TEST_NUMBERS=json.dumps({r"^\+1555010[0-9]{4}": "000000"}),
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="2", OTP_MAX_CHECKS_PER_IP_PER_HOUR="2")
    assert [start(client, to=f"+155501000{i:02d}")[0] for i in range(3)] == [201, 201, 429]
    assert [check(client, "111111", to=f"+155501000{i:02d}")[0] for i in range(3)] == [403, 403, 429]


def test_nothing_in_a_response_tells_a_test_number(configured, outbox):
    client = configured(OTP_TEST_NUMBERS=json.dumps({"+15005550006": "123456"}))
    test_body = start(client, to="+15005550006")[1]
    real_body = start(client, to=number(1))[1]
    assert set(test_body) == set(real_body)
    for body in (test_body, real_body):
        details = get(client, f"/v1/verifications/{body['id']}")[1]
        assert [a["provider"] for a in details["send_attempts"]] == ["console"]
    assert "test" not in json.dumps(test_body).lower()


def test_test_numbers_are_refused_in_prod_unless_allowed():
    from chalicelib.config import Config, ConfigError

    env = {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns", "OTP_ALLOWED_COUNTRIES": "US",
           "OTP_SECRET_PARAMETER": "/p", "OTP_TEST_NUMBERS": '{"+15005550006": "123456"}'}
    with pytest.raises(ConfigError, match="OTP_ALLOW_TEST_NUMBERS_IN_PROD"):
        Config.from_env(env)
    assert Config.from_env({**env, "OTP_ALLOW_TEST_NUMBERS_IN_PROD": "true"}).test_numbers.code_for("+15005550006")


@pytest.mark.parametrize("value", ['{"+1500": "123456"}', '{"+15005550006": "12"}', '{"^(": "123456"}', "[]"])
def test_bad_test_numbers_name_the_variable(value):
    from chalicelib.config import Config, ConfigError

    with pytest.raises(ConfigError, match="OTP_TEST_NUMBERS"):
        Config.from_env({"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "OTP_TEST_NUMBERS": value})


# -- the budget per pool: email apart from the paid phone channels (issue 28, item 7) -------


def test_emails_to_made_up_addresses_do_not_refuse_the_next_sms(configured, outbox, clock):
    """20 emails to made-up addresses used up the one hourly budget and the next real SMS was
    refused send_budget_exhausted. Email has its own budget: using it up leaves SMS going."""
    client = configured(OTP_EMAIL_PROVIDER="console", OTP_WHATSAPP_PROVIDER="console",
                        OTP_MAX_SENDS_PER_HOUR="20", OTP_MAX_EMAILS_PER_HOUR="20", OTP_BUDGET_SHARDS="1",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    statuses = [start(client, to=f"made-up-{i}@example.com", channel="email")[0] for i in range(21)]
    assert statuses == [201] * 20 + [429], statuses
    refused = start(client, to="made-up-99@example.com", channel="email")
    assert error_code(refused[1]) == "send_budget_exhausted" and refused[2]["Retry-After"] == "3600"
    channels = ("sms", "whatsapp", "voice", "sms")
    assert [start(client, to=number(i), channel=c)[0] for i, c in enumerate(channels)] == [201] * 4
    # SMS, voice and WhatsApp share their pool: past it they are refused (and email is not).
    assert [start(client, to=number(10 + i))[0] for i in range(17)] == [201] * 16 + [429]
    refused = start(client, to=number(40), channel="whatsapp")
    assert refused[0] == 429 and error_code(refused[1]) == "send_budget_exhausted"
    clock.advance(3600)
    assert start(client, to="made-up-100@example.com", channel="email")[0] == 201  # a new hour


def test_sms_pumping_does_not_refuse_email(configured, outbox, clock):
    client = configured(OTP_EMAIL_PROVIDER="console", OTP_MAX_SENDS_PER_HOUR="3", OTP_BUDGET_SHARDS="1",
                        OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    clock.now = HOUR_START
    assert [start(client, to=number(i))[0] for i in range(4)] == [201, 201, 201, 429]
    assert start(client, to="alice@example.com", channel="email")[0] == 201


def test_the_email_budget_is_sharded_and_exact():
    """Its shards add up to it, as the phone pool's do, and they are items of their own."""
    from chalicelib.config import Limits
    from chalicelib.verify.counters import CounterFull, CounterStore
    from chalicelib.verify.limits import Limiter

    class Memory(CounterStore):
        def __init__(self):
            self.counts = {}

        def increment(self, key, limit, expires_at, honour_suspension=True, channel=None):
            if self.counts.get(key, 0) >= limit:
                raise CounterFull({"n": self.counts[key]})
            self.counts[key] = self.counts.get(key, 0) + 1
            return {"n": self.counts[key]}

        def add(self, key, attribute, expires_at): ...

        def suspend(self, key, expires_at, channel=None): ...

        def release(self, key, channel=None): ...

    limits = Limits.from_env({"OTP_MAX_EMAILS_PER_HOUR": "53", "OTP_MAX_SENDS_PER_HOUR": "7",
                              "OTP_BUDGET_SHARDS": "10"})
    memory = Memory()
    limiter = Limiter(limits, memory)
    sent = {"email": 0, "sms": 0}
    for channel in sent:
        for _ in range(1000):
            try:
                limiter._budget(0, channel)
                sent[channel] += 1
            except Exception:
                pass
    assert sent == {"email": 53, "sms": 7}
    email_keys = [k for k in memory.counts if k.startswith("rl#budget#email#")]
    assert len(email_keys) == 10 and sum(memory.counts[k] for k in email_keys) == 53
    assert len(memory.counts) == 10 + 7  # the phone pool: min(shards, budget) items
