"""The security bar (../shared/docs/security.md) as tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import boto3

from tests.conftest import TABLE, last_code
from tests.unit.helpers import check, get, start


def _code_shapes(code: str) -> list[str]:
    """The code and every unkeyed hash of it an attacker would try on a table dump."""
    shapes = [code]
    for name in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(name, code.encode()).digest()
        shapes += [digest.hex(), base64.b64encode(digest).decode()]
    return shapes


def _dump() -> str:
    return json.dumps(boto3.client("dynamodb").scan(TableName=TABLE)["Items"])


def test_table_never_holds_a_recoverable_code(client, outbox, clock):
    seen_codes = []
    start(client)
    seen_codes.append(last_code(outbox))
    dumps = [_dump()]
    clock.advance(30)
    start(client)  # resend
    seen_codes.append(last_code(outbox))
    dumps.append(_dump())
    check(client, seen_codes[-1])
    dumps.append(_dump())
    for dump in dumps:
        for code in seen_codes:
            for shape in _code_shapes(code):
                assert shape not in dump


def test_no_response_ever_contains_the_code(client, outbox, clock):
    bodies = [start(client)[1]]
    code = last_code(outbox)
    clock.advance(30)
    bodies.append(start(client)[1])
    code2 = last_code(outbox)
    bodies.append(check(client, f"{(int(code2) + 1) % 10**6:06d}")[1])
    bodies.append(get(client, f"/v1/verifications/{bodies[0]['id']}")[1])
    bodies.append(check(client, code2)[1])
    text = json.dumps(bodies)
    assert code not in text and code2 not in text


def test_no_log_record_contains_a_code_or_the_secret(client, outbox, clock, caplog):
    caplog.set_level(logging.INFO)  # what a deployment logs; botocore DEBUG dumps bodies
    start(client)
    codes = [last_code(outbox)]
    clock.advance(30)
    start(client)
    codes.append(last_code(outbox))
    check(client, f"{(int(codes[-1]) + 1) % 10**6:06d}")
    check(client, codes[-1])
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "sent ref=" in text and "approved ref=" in text  # the log does say what happened
    for code in codes:
        assert code not in text
    assert "test-only-secret" not in text
    assert "+14155552671" not in text  # numbers are masked
    assert "+1415*****71" in text


def test_comparison_is_constant_time(client, outbox, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), type(b), len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr("chalicelib.codes.hmac.compare_digest", spy)
    start(client)
    assert check(client, last_code(outbox))[0] == 200
    assert calls and all(ta is bytes and tb is bytes and la == lb for ta, tb, la, lb in calls)


def test_codes_are_uniform_over_all_digits():
    from chalicelib.codes import new_code

    codes = [new_code(6) for _ in range(3000)]
    assert all(len(c) == 6 and c.isascii() and c.isdigit() for c in codes)
    first_digits = {c[0] for c in codes}
    assert first_digits == set("0123456789")  # leading zeros happen and are kept
    assert len(set(codes)) > 2900


class CallCounter:
    """Counts DynamoDB API calls with botocore's event hooks, naming the item kind:
    "UpdateItem v" is the number's verification item, "UpdateItem rl#ip" a counter."""

    def __init__(self, client) -> None:
        self.calls: list[str] = []
        client.meta.events.register("provide-client-params.dynamodb", self._record)

    def _record(self, params, model, **_):
        pk = params.get("Key", {}).get("pk", {}).get("S", "")
        kind = "v" if pk.startswith("v#") else "#".join(pk.split("#")[:2])
        if pk.startswith(("at#VL", "ac#")):  # the v2 Attempts log's (chalicelib/verify/attempts.py)
            kind = pk[:2]
        if pk.startswith("sid#"):  # a 34-character SID's lookup (chalicelib/factors/sid_links.py)
            kind = "sid"
        self.calls.append(f"{model.name} {kind}")

    def take(self) -> list[str]:
        calls, self.calls = self.calls, []
        return calls


# "UpdateItem sid": the new SID's lookup (chalicelib/factors/sid_links.py), in the number's write's wave;
# written by a resend too (an orphan: the start cannot know it is a resend before its write).
REQUEST_WRITES = ["UpdateItem rl#ip", "UpdateItem v", "UpdateItem rl#prefix", "UpdateItem rl#country",
                  "UpdateItem rl#budget", "UpdateItem sid"]


def test_dynamodb_calls_per_operation(client, service, outbox, clock):
    counter = CallCounter(service._store._client)
    start(client)
    # a new verification: the IP's count, the number's item (with its day's starts), then
    # the send counters with the send's attempt and its counter (on by default); no read
    attempt = ["UpdateItem at", "UpdateItem ac"]
    assert sorted(counter.take()) == sorted(REQUEST_WRITES + attempt)  # writes of one wave go out at once
    clock.advance(30)
    start(client)
    # a resend: the create attempt fails its condition and returns the live item, then the
    # resend write
    assert sorted(counter.take()) == sorted(["UpdateItem rl#ip", "UpdateItem v", "UpdateItem v", *REQUEST_WRITES[2:],
                                             *attempt])
    check(client, "000000" if last_code(outbox) != "000000" else "000001")
    assert counter.take() == ["UpdateItem rl#ipcheck", "UpdateItem v"]  # wrong: no read
    check(client, last_code(outbox))
    # right: the same two writes, then, together, the number's approval marker (the breaker
    # trusts it), the prefix's approval count (the breaker's conversion) and the conversion of
    # the verification's two attempts and its counter
    calls = counter.take()
    assert calls[:2] == ["UpdateItem rl#ipcheck", "UpdateItem v"]
    assert sorted(calls[2:]) == sorted(["UpdateItem rl#prefix", "UpdateItem v", "UpdateItem at", "UpdateItem at",
                                        "UpdateItem ac"])
    check(client, last_code(outbox))
    assert counter.take() == ["UpdateItem rl#ipcheck", "UpdateItem v"]  # approved: the failed write says why
