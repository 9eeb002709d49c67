"""The conversion breaker per channel (chalicelib/verify/limits.py, chalicelib/verify/counters.py): one item
per prefix and hour, ``n`` (every channel) under the prefix limit, and each channel's own
sends, approvals and suspension beside it. One channel's conversion never suspends another's
sends; an approval counts on the channel of the send that converted."""

from __future__ import annotations

import logging
import re

import pytest

from chalicelib import wiring
from tests.unit.helpers import check, error_code, get, start

HOUR_START = 1_800_000_000 - 1_800_000_000 % 3600  # clock fixture starts 1,800,000,000 s
PREFIX = "+447400123"  # one GB mobile range: +4474001234NN
BREAKER = {"OTP_WHATSAPP_PROVIDER": "console", "OTP_BREAKER_MIN_SENDS": "4",
           "OTP_BREAKER_MIN_CONVERSION_PERCENT": "50", "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000"}


def last_code(outbox) -> str:
    """The newest message's code, whatever its channel (a call spells it "7, 2, 1, ...")."""
    return "".join(re.findall(r"[0-9]", outbox[0]["body"]))[:6]


def in_range(i: int) -> str:
    return f"{PREFIX}4{i:02d}"


def counter(kind: str = "prefix", name: str = PREFIX, window: int = HOUR_START // 3600) -> dict[str, int]:
    """The counter's item as DynamoDB holds it (numbers only). A country's counter is
    sharded (chalicelib/verify/limits.py): the sum of its shards, a suspension once."""
    client = wiring.get_service()._limiter._counters._client
    table = wiring.get_service()._config.table_name
    base = f"rl#{kind}#{name}#{window}"
    shards = wiring.get_service()._config.limits.budget_shards if kind == "country" else 1
    total: dict[str, int] = {}
    for key in [base] + [f"{base}#{s}" for s in range(1, shards)]:
        item = client.get_item(TableName=table, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item", {})
        for k, v in item.items():
            if "N" in v and k != "expires_at":
                value = int(v["N"])  # a suspension is on every shard: counted once
                total[k] = max(total.get(k, 0), value) if k.startswith("suspended") else total.get(k, 0) + value
    return total


@pytest.fixture
def breaker(configured, clock):
    clock.now = HOUR_START
    return configured(**BREAKER)


def pump(client, channel: str, first: int, count: int) -> list[int]:
    """A bot: ``count`` starts into the range, none of them ever checked."""
    return [start(client, to=in_range(first + i), channel=channel)[0] for i in range(count)]


@pytest.mark.parametrize("pumped, spared", [("whatsapp", "sms"), ("sms", "whatsapp"), ("sms", "voice"),
                                            ("voice", "sms")])
def test_pumping_one_channel_suspends_that_channel_only(breaker, outbox, caplog, pumped, spared):
    caplog.set_level(logging.WARNING)
    assert pump(breaker, pumped, 0, 4) == [201] * 4  # four sends, no approval: 0 %
    status, body, headers = start(breaker, to=in_range(10), channel=pumped)
    assert status == 429 and error_code(body) == "prefix_suspended" and headers["Retry-After"] == "3600"
    assert f"prefix suspended range=+4474001** channel={pumped} sends=4 approvals=0" in caplog.text
    # A real user of the same range, on another channel, still gets a code and verifies.
    status, body, _ = start(breaker, to=in_range(20), channel=spared)
    assert status == 201 and body["channel"] == spared
    assert check(breaker, last_code(outbox), to=in_range(20))[0] == 200
    assert start(breaker, to=in_range(21), channel=pumped)[0] == 429  # still suspended for the hour
    items = counter()
    assert items[f"suspended_{pumped}"] == 1 and f"suspended_{spared}" not in items
    # The send that tripped the breaker was refused: given back in the suspension's write.
    assert items["n"] == 5 and items[f"n_{pumped}"] == 4 and items[f"n_{spared}"] == 1


def test_whatsapp_users_that_never_convert_do_not_suspend_sms(breaker, outbox):
    """Many numbers are not on WhatsApp: their WhatsApp sends never convert, the same users
    then verify by SMS. WhatsApp's breaker trips; SMS, converting, stays open."""
    for i in range(6):
        start(breaker, to=in_range(i), channel="whatsapp")
    for i in range(6):
        assert start(breaker, to=in_range(30 + i), channel="sms")[0] == 201
        assert check(breaker, last_code(outbox), to=in_range(30 + i))[0] == 200
    items = counter()
    assert items["approvals_sms"] == 6 and "approvals_whatsapp" not in items
    assert "suspended_sms" not in items and items["suspended_whatsapp"] == 1


def test_the_prefix_limit_counts_every_channel(configured, outbox, clock):
    clock.now = HOUR_START
    client = configured(OTP_WHATSAPP_PROVIDER="console", OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="3",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    statuses = [start(client, to=in_range(i), channel=c)[0]
                for i, c in enumerate(("sms", "whatsapp", "voice", "whatsapp", "sms"))]
    assert statuses == [201, 201, 201, 429, 429]
    refused = start(client, to=in_range(9), channel="voice")[1]
    assert error_code(refused) == "prefix_rate_limited"
    assert counter()["n"] == 3  # the refusals counted nowhere
    assert len(outbox) == 3


def test_an_approval_counts_on_the_channel_of_the_send_that_converted(breaker, outbox, clock):
    start(breaker, to=in_range(1), channel="whatsapp")
    assert check(breaker, last_code(outbox), to=in_range(1))[0] == 200
    assert counter()["approvals_whatsapp"] == 1 and "approvals_sms" not in counter()
    # A WhatsApp send, then an SMS resend: the code entered is the SMS's, so SMS converted.
    start(breaker, to=in_range(2), channel="whatsapp")
    clock.advance(31)
    assert start(breaker, to=in_range(2), channel="sms")[0] == 200
    assert check(breaker, last_code(outbox), to=in_range(2))[0] == 200
    items = counter()
    assert (items["approvals_whatsapp"], items["approvals_sms"]) == (1, 1)
    assert (items["n_whatsapp"], items["n_sms"], items["n"]) == (2, 1, 3)


def test_whatsapp_approvals_keep_whatsapps_breaker_closed(breaker, outbox):
    for i in range(8):
        assert start(breaker, to=in_range(i), channel="whatsapp")[0] == 201, i
        assert check(breaker, last_code(outbox), to=in_range(i))[0] == 200


def test_a_trusted_number_passes_its_channels_suspension(breaker, outbox, clock):
    owner = in_range(50)
    clock.now = HOUR_START - 86_400 * 29  # approved by WhatsApp 29 days ago
    start(breaker, to=owner, channel="whatsapp")
    assert check(breaker, last_code(outbox), to=owner)[0] == 200
    clock.now = HOUR_START
    pump(breaker, "whatsapp", 0, 6)
    assert start(breaker, to=in_range(10), channel="whatsapp")[0] == 429
    status, body, _ = start(breaker, to=owner, channel="whatsapp")
    assert status == 201 and body["channel"] == "whatsapp"
    assert check(breaker, last_code(outbox), to=owner)[0] == 200


def test_the_country_wide_breaker_is_per_channel_too(configured, outbox, clock):
    clock.now = HOUR_START
    client = configured(OTP_WHATSAPP_PROVIDER="console", OTP_BREAKER_COUNTRY_WIDE="true",
                        OTP_BREAKER_COUNTRY_MIN_SENDS="4", OTP_BREAKER_MIN_SENDS="100",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="50", OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")
    for i in range(4):  # four ranges, one WhatsApp each: no prefix trips, the country's WhatsApp does
        assert start(client, to=f"+44740{i}123456", channel="whatsapp")[0] == 201
    status, body, _ = start(client, to="+447800123456", channel="whatsapp")
    assert status == 429 and error_code(body) == "country_suspended"
    assert start(client, to="+447800123456", channel="sms")[0] == 201
    assert check(client, last_code(outbox), to="+447800123456")[0] == 200
    assert counter("country", "GB")["approvals_sms"] == 1


def test_a_stranger_pumping_every_channel_leaves_room_under_the_limit(configured, outbox, clock):
    """The attacker's view: one bot pumps SMS, voice and WhatsApp into a range. Each channel
    counts at most its breaker's sample (min sends); refused sends count nowhere, the send
    that trips the breaker included. With the prefix limit above that sum, the bot cannot fill
    the limit."""
    clock.now = HOUR_START
    client = configured(**{**BREAKER, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "13"})  # 3 x 4 = 12
    for offset, channel in enumerate(("sms", "voice", "whatsapp")):
        statuses = pump(client, channel, offset * 20, 10)
        assert statuses == [201] * 4 + [429] * 6, channel
    assert counter()["n"] == 12
    for channel in ("sms", "voice", "whatsapp"):
        assert counter()[f"suspended_{channel}"] == 1


def test_a_stranger_filling_the_limit_through_the_breakers_samples_does_not_refuse_trusted_users(
    configured, outbox, clock,
):
    """The attacker's view, with a limit below the samples' sum: SMS and voice pumping count
    2 x 4 = 8 on ``n``, the whole limit, so the range refuses strangers (and WhatsApp's
    pumping) for the hour. A number approved lately is not refused: its limit is raised by what
    the breakers' samples can count (chalicelib/verify/limits.py), which no stranger can spend."""
    clock.now = HOUR_START - 86_400
    client = configured(**{**BREAKER, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "8"})
    owner = in_range(50)
    start(client, to=owner)
    assert check(client, last_code(outbox), to=owner)[0] == 200
    clock.now = HOUR_START
    assert pump(client, "sms", 0, 8) == [201] * 4 + [429] * 4
    assert pump(client, "voice", 20, 8) == [201] * 4 + [429] * 4
    assert counter()["n"] == 8
    status, body, _ = start(client, to=in_range(40), channel="whatsapp")  # a stranger: the limit
    assert status == 429 and error_code(body) == "prefix_rate_limited"
    for channel in ("whatsapp", "sms"):  # the trusted owner, on a suspended channel too
        clock.advance(3600 / 8)
        status, body, _ = start(client, to=owner, channel=channel)
        assert status == 201 and body["channel"] == channel, body
        assert check(client, last_code(outbox), to=owner)[0] == 200


def test_old_attributes_of_the_window_are_not_read(breaker, outbox):
    """Before the per-channel breaker, the item held ``approvals`` and ``suspended`` for every
    channel. A window written by that version is not suspended for any channel now (windows
    last an hour: the old attributes expire with their item)."""
    client = wiring.get_service()._limiter._counters._client
    table = wiring.get_service()._config.table_name
    client.put_item(TableName=table, Item={"pk": {"S": f"rl#prefix#{PREFIX}#{HOUR_START // 3600}"},
                                           "n": {"N": "5"}, "suspended": {"N": "1"}})
    assert start(breaker, to=in_range(1), channel="sms")[0] == 201
    assert counter()["n"] == 6 and counter()["n_sms"] == 1


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_increment_and_approval_count_once(breaker, outbox, kind):
    """botocore retries a counter write whose answer was lost (tests/faults.py): the write
    token makes the retry find its own write, so the send and its channel count once, and the
    approval once on its channel."""
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._limiter._counters._client)
    faults.arm("prefix", kind)
    assert start(breaker, to=in_range(1), channel="whatsapp")[0] == 201
    assert ("prefix", kind) in faults.hit and faults.seen.count("prefix") == 2  # the retry happened
    faults.arm("approvals_prefix", kind)
    assert check(breaker, last_code(outbox), to=in_range(1))[0] == 200
    assert ("approvals_prefix", kind) in faults.hit and faults.seen.count("approvals_prefix") == 2
    items = counter()
    assert (items["n"], items["n_whatsapp"], items["approvals_whatsapp"]) == (1, 1, 1)


# -- channel auto past a suspended channel ----------------------------------------------------

AUTO = {**BREAKER, "OTP_CHANNEL_ORDER": '{"*": "whatsapp,sms"}'}


def raw_item(verification_id: str) -> dict:
    service = wiring.get_service()
    key = service._number_key_of(verification_id)
    return service._store._get("v#" + key) or {}


def test_auto_takes_the_next_channel_when_its_channel_is_suspended(configured, outbox, clock):
    clock.now = HOUR_START
    client = configured(**AUTO, OTP_ATTEMPTS="true")
    pump(client, "whatsapp", 0, 5)  # the fifth trips WhatsApp's breaker
    assert start(client, to=in_range(6), channel="whatsapp")[0] == 429
    status, body, _ = start(client, to=in_range(20), channel="auto")
    assert status == 201 and body["channel"] == "sms" and body["provider"] == "console"
    assert outbox[0]["channel"] == "sms" and outbox[0]["to"] == in_range(20)
    item = raw_item(body["id"])
    assert item["channel"]["S"] == "sms" and item["sends"]["L"][0]["M"]["channel"]["S"] == "sms"
    details = get(client, f"/v1/verifications/{body['id']}")[1]
    assert [(a["channel"], a["provider"]) for a in details["send_attempts"]] == [("sms", "console")]
    assert check(client, last_code(outbox), to=in_range(20))[0] == 200
    items = counter()  # the refused WhatsApp send counted nowhere; the SMS and its approval did
    assert (items["n_whatsapp"], items["n_sms"], items["approvals_sms"], items["n"]) == (4, 1, 1, 5)
    attempts = wiring.get_service()._attempts
    assert attempts is not None
    assert attempts.counts(range(HOUR_START // 86_400, HOUR_START // 86_400 + 1),
                           lambda scope, cc, ch: ch == "sms").total == 1  # its attempt is an SMS one


def test_an_auto_resend_takes_the_next_channel_when_its_channel_is_suspended(configured, outbox, clock):
    from tests.unit.test_auto_channel import mark

    clock.now = HOUR_START
    client = configured(**AUTO)
    user = in_range(20)
    first = start(client, to=user, channel="auto")[1]
    assert first["channel"] == "whatsapp"
    mark(first["id"], 0, "read", None, False)  # read: auto would stay on WhatsApp
    pump(client, "whatsapp", 0, 5)
    clock.advance(31)
    status, body, _ = start(client, to=user, channel="auto")
    assert status == 200 and body["id"] == first["id"] and body["channel"] == "sms"
    assert body["send_count"] == 2
    item = raw_item(first["id"])
    assert item["channel"]["S"] == "sms"
    assert [s["M"]["channel"]["S"] for s in item["sends"]["L"]] == ["whatsapp", "sms"]
    assert check(client, last_code(outbox), to=user)[0] == 200


def test_auto_answers_the_suspension_when_every_channel_of_the_order_is_suspended(configured, outbox, clock):
    clock.now = HOUR_START
    client = configured(**AUTO)
    pump(client, "whatsapp", 0, 5)
    pump(client, "sms", 10, 5)
    before = counter()
    status, body, _ = start(client, to=in_range(20), channel="auto")
    assert status == 429 and error_code(body) == "prefix_suspended"
    assert counter() == before  # nothing counted on either channel
    assert raw_item_for(in_range(20)).get("vid") is None  # the number's write was undone
    assert all(m["to"] != in_range(20) for m in outbox)


def test_a_named_channel_does_not_move_on(configured, outbox, clock):
    clock.now = HOUR_START
    client = configured(**AUTO)
    pump(client, "whatsapp", 0, 5)
    status, body, _ = start(client, to=in_range(20), channel="whatsapp")
    assert status == 429 and error_code(body) == "prefix_suspended"


def test_auto_does_not_move_on_at_the_limit(configured, outbox, clock):
    """The prefix limit counts every channel: another channel would be refused too."""
    clock.now = HOUR_START
    client = configured(**{**AUTO, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "2",
                           "OTP_BREAKER_MIN_CONVERSION_PERCENT": "0"})
    pump(client, "whatsapp", 0, 2)
    status, body, _ = start(client, to=in_range(20), channel="auto")
    assert status == 429 and error_code(body) == "prefix_rate_limited"


def raw_item_for(number: str) -> dict:
    service = wiring.get_service()
    return service._store._get("v#" + service._hasher.number_key(number)) or {}


def test_a_lost_answer_on_the_moved_channels_write_is_harmless(configured, outbox, clock):
    """The write that names the moved send's channel sets values (no count): botocore's retry
    after a lost answer sets them again and the send goes on."""
    from tests.faults import Faults

    clock.now = HOUR_START
    client = configured(**AUTO)
    pump(client, "whatsapp", 0, 5)
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("record_provider", "lost")
    status, body, _ = start(client, to=in_range(20), channel="auto")
    assert status == 201 and body["channel"] == "sms"
    assert ("record_provider", "lost") in faults.hit
    assert raw_item(body["id"])["channel"]["S"] == "sms"
    assert check(client, last_code(outbox), to=in_range(20))[0] == 200


def test_a_whatsapp_send_and_its_approval_cost_the_writes_an_sms_does(breaker, outbox):
    """Per channel on the same item: still one conditional write per counter per send, and one
    per breaker per approval (tests/unit/test_security.py counts the SMS path)."""
    from tests.unit.test_security import REQUEST_WRITES, CallCounter

    def take() -> list[str]:  # the v2 Attempts' writes aside (tests/unit/test_twilio_v2_attempts.py)
        return [c for c in counter_calls.take() if c not in ("UpdateItem ac", "UpdateItem at")]

    counter_calls = CallCounter(wiring.get_service()._store._client)
    assert start(breaker, to=in_range(1), channel="whatsapp")[0] == 201
    assert sorted(take()) == sorted(REQUEST_WRITES)
    assert check(breaker, last_code(outbox), to=in_range(1))[0] == 200
    calls = take()
    assert calls[:2] == ["UpdateItem rl#ipcheck", "UpdateItem v"]
    assert sorted(calls[2:]) == ["UpdateItem rl#prefix", "UpdateItem v"]


# -- a refused send gives back every count it made (issue 28, item 4) -------------------------

COUNTRY_WIDE = {"OTP_BREAKER_COUNTRY_WIDE": "true", "OTP_BREAKER_COUNTRY_MIN_SENDS": "40",
                "OTP_BREAKER_MIN_SENDS": "4", "OTP_BREAKER_MIN_CONVERSION_PERCENT": "20",
                "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000",
                # One shard: the breaker's exact point (sharded, it trips at a check point after
                # it: tests/unit/test_country_shards.py).
                "OTP_BUDGET_SHARDS": "1"}


def real_user(client, outbox, to: str) -> None:
    assert start(client, to=to)[0] == 201
    assert check(client, last_code(outbox), to=to)[0] == 200


def test_refused_requests_do_not_suspend_a_country_whose_users_convert(configured, outbox, clock):
    """The issue's numbers: the country-wide breaker on for GB, 6 real users who convert 6 of 6,
    then a bot floods one range: 4 SMS go out, its 36 other requests are refused (the prefix's
    breaker). Each refused request had counted on the country's SMS sends and got back ``n``
    only, so SMS to all of GB converted 6 of 46 and was suspended for the hour. Now a refused
    request counts nowhere: GB's SMS stays open; real pumping (sends that go out and never
    convert) still trips it."""
    clock.now = HOUR_START
    client = configured(**COUNTRY_WIDE)
    for k in range(6):  # six real users in six ranges, each enters the code
        real_user(client, outbox, f"+4478{k}0123456")
    flood = [start(client, to=f"+447400123{i:03d}") for i in range(40)]
    assert [s for s, _, _ in flood] == [201] * 4 + [429] * 36
    assert {error_code(b) for s, b, _ in flood if s == 429} == {"prefix_suspended"}
    gb = counter("country", "GB")
    assert (gb["n"], gb["n_sms"], gb["approvals_sms"]) == (10, 10, 6), gb  # the 36 counted nowhere
    assert "suspended_sms" not in gb
    real_user(client, outbox, "+447860123456")  # the next real user of GB gets a code
    # Real pumping: sends that go out and never convert, 4 per range so no prefix trips.
    sent = 0
    for p in range(10):
        for i in range(4):
            status, body, _ = start(client, to=f"+4475{p}0123{i:03d}")
            if status == 429:
                assert error_code(body) == "country_suspended", body
                break
            sent += 1
        else:
            continue
        break
    # GB's SMS: 11 sends, 7 approvals; it trips at 40 sends under 20 %: 29 more pumped sends.
    assert sent == 29
    status, body, _ = start(client, to="+447870123456", channel="sms")
    assert status == 429 and error_code(body) == "country_suspended"
    gb = counter("country", "GB")
    assert (gb["n_sms"], gb["suspended_sms"]) == (40, 1), gb  # the tripping send given back too


def test_a_send_refused_by_another_counter_gives_back_its_channel_count(configured, outbox, clock):
    """The budget refuses: the prefix's and the country's counts of the send (``n`` and the
    channel's) are given back, whichever channel."""
    clock.now = HOUR_START
    client = configured(**{**BREAKER, "OTP_MAX_SENDS_PER_HOUR": "2", "OTP_BUDGET_SHARDS": "1",
                           "OTP_BREAKER_COUNTRY_WIDE": "true"})
    assert start(client, to=in_range(1), channel="whatsapp")[0] == 201
    assert start(client, to=in_range(2), channel="voice")[0] == 201
    for i, channel in enumerate(("sms", "whatsapp", "voice")):
        status, body, _ = start(client, to=in_range(10 + i), channel=channel)
        assert status == 429 and error_code(body) == "send_budget_exhausted"
    for kind, name in (("prefix", PREFIX), ("country", "GB")):
        items = counter(kind, name)
        counts = (items["n"], items["n_whatsapp"], items["n_voice"], items.get("n_sms", 0))
        assert counts == (2, 1, 1, 0), items


def test_a_give_back_whose_answer_is_lost_gives_back_once(configured, outbox, clock):
    """A give-back's answer is lost after it landed, and another request's count lands on the
    counter before a retry could (the usual case on a busy counter). A retry with a write token
    does not see its token any more and gives back a second time: the other request's count
    is gone and one more send passes the limit. A give-back is never retried
    (chalicelib/verify/counters.py): given back once."""
    import json

    from botocore.exceptions import ReadTimeoutError

    from tests.faults import Faults, name_of, perform

    clock.now = HOUR_START
    client = configured(**{**BREAKER, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "1",
                           "OTP_BREAKER_COUNTRY_WIDE": "true", "OTP_BREAKER_COUNTRY_MIN_SENDS": "100"})
    assert start(client, to=in_range(1))[0] == 201
    counters = wiring.get_service()._limiter._counters
    table = wiring.get_service()._config.table_name
    country = f"rl#country#GB#{HOUR_START // 3600}"
    attempts = []

    class LostThenConcurrent(Faults):
        def _before_send(self, request, **_):
            body = json.loads(request.body or b"{}")
            if name_of("DynamoDB_20120810.UpdateItem", body) != "release_country":
                return super()._before_send(request)
            attempts.append(1)
            if len(attempts) > 1:
                return super()._before_send(request)  # a retry: performed as it comes
            perform(request)  # the give-back lands...
            counters._client.update_item(  # ...another request's send counts (its own token)...
                TableName=table, Key={"pk": {"S": country}},
                UpdateExpression="ADD n :one, n_sms :one SET wid = :w",
                ExpressionAttributeValues={":one": {"N": "1"}, ":w": {"S": "another-request"}})
            raise ReadTimeoutError(endpoint_url=request.url)  # ...and the answer is lost

    give_backs = counters.give_backs() if hasattr(counters, "give_backs") else counters
    LostThenConcurrent().attach(give_backs._client)
    status, body, _ = start(client, to=in_range(2))  # the prefix limit refuses
    assert status == 429 and error_code(body) == "prefix_rate_limited"
    assert len(attempts) == 1  # one attempt, no retry
    gb = counter("country", "GB")
    assert (gb["n"], gb["n_sms"]) == (2, 2), gb  # the first send and the other request's


def test_a_throttled_give_back_leaves_the_request_counted(configured, outbox, clock):
    """The other side of at-most-once: a give-back that did not land is not tried again; the
    refused request stays counted on that counter (the conservative side, as before)."""
    from tests.faults import Faults

    clock.now = HOUR_START
    client = configured(**{**BREAKER, "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "1"})
    assert start(client, to=in_range(1))[0] == 201
    faults = Faults()
    faults.attach(wiring.get_service()._limiter._counters.give_backs()._client)
    faults.arm("release_budget", "throttle")
    status, body, _ = start(client, to=in_range(2))
    assert status == 429 and error_code(body) == "prefix_rate_limited"  # the refusal, not a 503
    budget = sum(counter("budget", f"{HOUR_START // 3600}", window=s).get("n", 0) for s in range(10))
    assert budget == 2
