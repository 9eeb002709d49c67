"""The per-country send counter is sharded as the budget is (chalicelib/verify/limits.py): one
item took every send of a country, and an item takes about 1,000 writes a second
(docs/scale.md). Its limit holds exactly over the shards, its breaker decides on the shards'
sum (never on one shard's own sample), a trip suspends every shard, and a refused send gives
back what it counted. On moto through the real DynamoDB counter store; the same under
concurrency on dynalite: tests/integration/test_limits_concurrency.py."""

from __future__ import annotations

import inspect
import itertools

import boto3
import pytest

from chalicelib import errors
from chalicelib.channels.phone import PhoneNumber
from chalicelib.config import Limits
from chalicelib.verify import limits as limits_module
from chalicelib.verify.counters import DynamoDBCounterStore
from chalicelib.verify.limits import Limiter
from tests.conftest import TABLE

NOW = 1_800_000_000 - 1_800_000_000 % 3600
WINDOW = NOW // 3600
BASE = f"rl#country#GB#{WINDOW}"


def gb(i: int) -> PhoneNumber:
    return PhoneNumber(e164=f"+44740{i:03d}{i:04d}", region="GB", number_type=1)  # one prefix each


def shard_key(shard: int) -> str:
    return BASE if shard == 0 else f"{BASE}#{shard}"


def item(key: str) -> dict[str, int]:
    raw = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": key}},
                                            ConsistentRead=True).get("Item", {})
    return {k: int(v["N"]) for k, v in raw.items() if "N" in v and k != "expires_at"}


def limiter(env: dict[str, str], shards: list[int] | None = None) -> Limiter:
    """A limiter on the moto table; ``shards``: the country shard each send picks, in turn
    (the budget, one shard, and the fallback draws take whatever comes)."""
    limits = Limits.from_env({"OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "1000", "OTP_MAX_SENDS_PER_HOUR": "99999",
                              "OTP_BREAKER_MIN_SENDS": "1000", **env})
    store = DynamoDBCounterStore(boto3.client("dynamodb"), TABLE)
    if shards is None:
        return Limiter(limits, store)
    picks = iter(shards)

    def choose(n: int) -> int:
        # The country's draws among its shards (a send's, an approval's) come from ``shards``;
        # any other (the budget's, a full shard's fallback, a prefix's single shard) is 0.
        caller = inspect.stack()[1].function
        return next(picks) if caller in ("_breaker_counter", "record_approval") and n > 1 else 0

    return Limiter(limits, store, choose_shard=choose)


def test_a_countrys_limit_holds_exactly_over_its_shards(aws, monkeypatch):
    monkeypatch.setattr(limits_module, "COUNTRY_SHARE", 2)  # 10 an hour over 4 shards: 3, 3, 2, 2
    country = limiter({"OTP_MAX_SENDS_PER_COUNTRY_PER_HOUR": "10", "OTP_BUDGET_SHARDS": "4"})
    outcomes = []
    for i in range(200):
        try:
            country.reserve_send(gb(i), NOW)
            outcomes.append("sent")
        except errors.CountryRateLimited:
            outcomes.append("refused")
    assert outcomes.count("sent") == 10 and outcomes[-50:] == ["refused"] * 50
    shards = [item(shard_key(s)).get("n", 0) for s in range(4)]
    assert shards == [3, 3, 2, 2]  # every shard full, none over its share: the sum is the limit
    # The budget counted the 10 that went out only: each refusal gave back what it counted.
    assert sum(item(f"rl#budget#{WINDOW}#{s}").get("n", 0) for s in range(10)) == 10


def test_a_low_country_limit_stays_one_exact_item(aws):
    """Under 2 x COUNTRY_SHARE an hour a country is never hot: one item, refused at exactly
    its limit (the shards' fallback could refuse a little early)."""
    country = limiter({"OTP_MAX_SENDS_PER_COUNTRY_PER_HOUR": "5", "OTP_BUDGET_SHARDS": "10"})
    for i in range(5):
        country.reserve_send(gb(i), NOW)
    with pytest.raises(errors.CountryRateLimited):
        country.reserve_send(gb(5), NOW)
    assert item(BASE)["n"] == 5


BREAKER = {"OTP_BREAKER_COUNTRY_WIDE": "true", "OTP_BREAKER_COUNTRY_MIN_SENDS": "4",
           "OTP_BREAKER_MIN_CONVERSION_PERCENT": "50", "OTP_BUDGET_SHARDS": "2"}


def test_the_breaker_trips_on_the_sum_where_no_shard_alone_would(aws):
    """Two shards, alternate sends, none approved: no shard ever holds the 4 sends of a sample
    of its own before the trip, the sum does. A check point is a shard's count reaching a
    multiple of its share of the sample (2): the sum is read at sends 3, 4 (hold: 2 and 3 sends
    before them) and 7 (6 before: trips), within the bound of min sends + shards x share."""
    country = limiter(BREAKER, shards=[0, 1] * 10)
    for i in range(6):
        country.reserve_send(gb(i), NOW)
    assert [item(shard_key(s))["n_sms"] for s in (0, 1)] == [3, 3]  # 3 each: under 4 on its own
    with pytest.raises(errors.CountrySuspended):
        country.reserve_send(gb(6), NOW)  # shard 0's 4th: a check point; 6 sends, 0 approvals
    # Every shard suspended for SMS (the other in the refusal's give-back wave), and the
    # tripping send given back: 6 counted.
    assert [item(shard_key(s)).get("suspended_sms") for s in (0, 1)] == [1, 1]
    assert [item(shard_key(s))["n"] for s in (0, 1)] == [3, 3]
    for i in (7, 8):  # whichever shard the next sends pick: refused
        with pytest.raises(errors.CountrySuspended):
            country.reserve_send(gb(i), NOW)
    country.reserve_send(gb(9), NOW, channel="whatsapp")  # another channel: open


def test_the_breaker_holds_where_one_shards_own_sample_would_trip(aws):
    """Shard 1 alone: 8 sends, none approved (its own sample would trip at its check points 6
    and 8: 5 and 7 sends before, 0 %). The sum: 16 sends, 8 approved (all on shard 0): above
    the 50 % threshold at every check point. It holds."""
    country = limiter(BREAKER, shards=[0] * 16 + [1] * 8)
    for i in range(8):  # real users on shard 0, each approved
        country.reserve_send(gb(i), NOW)
        for write in country.record_approval(gb(i), "sms", NOW):
            write()
    for i in range(8, 16):
        country.reserve_send(gb(i), NOW)  # shard 1's check points at 2, 4, 6, 8: the sum holds
    assert item(shard_key(1)) == {"n": 8, "n_sms": 8}
    assert item(shard_key(0)) == {"n": 8, "n_sms": 8, "approvals_sms": 8}


def test_a_send_refused_by_the_budget_gives_back_its_country_shard(aws):
    country = limiter({"OTP_MAX_SENDS_PER_HOUR": "1", "OTP_BUDGET_SHARDS": "2"}, shards=[1, 1])
    country.reserve_send(gb(1), NOW)
    with pytest.raises(errors.SendBudgetExhausted):
        country.reserve_send(gb(2), NOW)
    assert item(shard_key(1)) == {"n": 1, "n_sms": 1} and item(shard_key(0)) == {}


def test_the_breakers_sum_read_is_one_batch_at_check_points_only(aws):
    """The sum costs no round trip on a send that is not a check point: one BatchGetItem of
    the shards on about one send in (min sends / shards), none with the breaker off."""
    calls = []

    def count(model, params, **_):
        calls.append(model.name)

    on = limiter({**BREAKER, "OTP_BREAKER_COUNTRY_MIN_SENDS": "40", "OTP_BUDGET_SHARDS": "4"},
                 shards=list(itertools.islice(itertools.cycle(range(4)), 40)))
    on._counters._client.meta.events.register("provide-client-params.dynamodb", count)
    for i in range(40):
        on.reserve_send(gb(i), NOW)
    assert calls.count("BatchGetItem") == 4  # a shard's 10th SMS, each of the four shards
    calls.clear()
    off = limiter({"OTP_BUDGET_SHARDS": "4"})
    off._counters._client.meta.events.register("provide-client-params.dynamodb", count)
    for i in range(40, 60):
        off.reserve_send(gb(i), NOW)
    assert "BatchGetItem" not in calls and calls.count("UpdateItem") == 60  # prefix, country, budget
