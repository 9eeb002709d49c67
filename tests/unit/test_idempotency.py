"""The pieces the fault suite (tests/integration/test_faults.py) relies on, one by one: the
write token, the budget's arithmetic, and what counts as a request that left."""

from __future__ import annotations

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError


def test_the_token_joins_the_first_set_and_the_condition():
    from chalicelib.dynamodb import with_token

    params = with_token({"UpdateExpression": "ADD n :one SET expires_at = :e",
                         "ConditionExpression": "n < :l",
                         "ExpressionAttributeValues": {":one": {"N": "1"}}}, {"S": "t1"})
    assert params["UpdateExpression"] == "ADD n :one SET wid = :wid, expires_at = :e"
    assert params["ConditionExpression"] == "n < :l AND (attribute_not_exists(wid) OR wid <> :wid)"
    assert params["ExpressionAttributeValues"] == {":one": {"N": "1"}, ":wid": {"S": "t1"}}


@pytest.mark.parametrize(("condition", "expected"), [
    # DynamoDB refuses redundant parentheses ("((a OR b))"): a wrapped OR stays as it is...
    ("(attribute_not_exists(n) OR n < :limit)",
     "(attribute_not_exists(n) OR n < :limit) AND (attribute_not_exists(wid) OR wid <> :wid)"),
    # ...and a top-level OR is wrapped, so the token's clause binds to all of it.
    ("a = :a OR b = :b", "(a = :a OR b = :b) AND (attribute_not_exists(wid) OR wid <> :wid)"),
    (None, "(attribute_not_exists(wid) OR wid <> :wid)"),
])
def test_the_token_clause_binds_to_the_whole_condition(condition, expected):
    from chalicelib.dynamodb import with_token

    params = {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {}}
    if condition:
        params["ConditionExpression"] = condition
    made = with_token(params, {"S": "t"})
    assert made["ConditionExpression"] == expected
    assert made["UpdateExpression"] == "SET wid = :wid ADD n :one"


def test_a_trusted_numbers_counter_write_is_accepted_by_dynamodb(aws):
    """The trusted path's condition is one parenthesised OR: the token must not double it."""
    import boto3

    from chalicelib.verify.counters import DynamoDBCounterStore
    from tests.conftest import TABLE

    store = DynamoDBCounterStore(boto3.client("dynamodb"), TABLE)
    assert store.increment("rl#prefix#x#1", 5, 10, honour_suspension=False)["n"] == 1
    assert store.increment("rl#prefix#x#1", 5, 10, honour_suspension=True)["n"] == 2


def test_no_budget_outside_a_request_and_what_is_left_inside_one(monkeypatch):
    from chalicelib import budget

    assert budget.remaining() is None
    assert budget.provider_timeout(3.05, 5) == (3.05, 5)
    now = [100.0]
    monkeypatch.setattr(budget.time, "monotonic", lambda: now[0])
    budget.begin(8)
    try:
        assert budget.remaining() == 8
        connect, read = budget.provider_timeout(3.05, 5)  # 5 s left after the undo's 3
        assert connect + read <= 8 - budget.undo_seconds(8) == 5
        now[0] += 8 - budget.undo_seconds(8) - 0.5
        assert budget.provider_timeout(3.05, 5) is None  # too little left to try a provider
    finally:
        budget.end()
    assert budget.remaining() is None


def test_the_timeouts_are_fractions_of_the_budget():
    from chalicelib import budget

    config = budget.botocore_config(8)
    assert (config.connect_timeout, config.read_timeout, config.retries["total_max_attempts"]) == (1, 2, 3)
    send = budget.botocore_config(8, send=True)
    assert (send.connect_timeout, send.read_timeout, send.retries["total_max_attempts"]) == (1, 3, 1)
    # A send and its undo fit in what is left after the first wave of writes.
    assert send.connect_timeout + send.read_timeout + budget.undo_seconds(8) == 7


@pytest.mark.parametrize("value", ["1", "20", "eight"])
def test_the_budget_stays_below_the_functions_timeout(value):
    from chalicelib.config import Config, ConfigError

    with pytest.raises(ConfigError, match="OTP_REQUEST_BUDGET_SECONDS"):
        Config.from_env({"OTP_TABLE_NAME": "t-table", "OTP_SECRET": "s" * 32, "OTP_REQUEST_BUDGET_SECONDS": value})


@pytest.mark.parametrize(("error", "left"), [
    # What requests raises (requests/adapters.py HTTPAdapter.send) for each urllib3 failure.
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
     True),
    (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionError())), True),
    (requests.exceptions.ChunkedEncodingError("cut short"), True),
    (requests.ConnectionError(MaxRetryError(None, "/", NewConnectionError(None, "refused"))), False),  # type: ignore[arg-type]
    (requests.exceptions.SSLError("handshake"), False),
    (requests.exceptions.InvalidURL("bad"), False),
])
def test_a_request_left_only_when_the_connection_dropped_after_it_was_written(error, left):
    from chalicelib.channels.providers.http import request_left

    assert request_left(error) is left
