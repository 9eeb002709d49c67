"""The Attempts log at volume (issue 29): a day of 1,000 attempts lists completely through
Twilio's ``PageToken`` paging as twilio-python follows it, its summary counts them, every item
stays small and the same size as the day grows, and nothing scans (chalicelib/verify/attempts.py).

Item size as DynamoDB bills it (docs: "Item sizes and formats", Developer Guide): the UTF-8
bytes of each attribute's name and value, a number ~1 byte per 2 significant digits + 1; one
WCU per KB or part of it, an UpdateItem billed by the larger of the item before and after."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

import pytest

from chalicelib import wiring
from chalicelib.verify.attempts import SHARDS, attempt_sid
from chalicelib.verify.models import SendAttempt, Verification
from tests.conftest import TABLE
from tests.unit.test_twilio_v2 import basic, call, key, new_service  # noqa: F401  (key: a fixture)

DAY_COUNT = 1000  # four pages of 250; moto's Query reads the whole table, so more only costs time


def item_bytes(item: dict) -> int:
    """DynamoDB's size of an item in its wire form (see the module's docstring)."""
    def value(v: dict) -> int:
        kind, raw = next(iter(v.items()))
        if kind == "S":
            return len(raw.encode())
        if kind == "N":
            return math.ceil(len(raw.strip("-").lstrip("0").replace(".", "")) / 2) + 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + value(x) + 1 for k, x in raw.items())
        if kind == "L":
            return 3 + sum(value(x) + 1 for x in raw)
        return 1
    return sum(len(name.encode()) + value(v) for name, v in item.items())


def wcu(item: dict) -> int:
    return max(1, math.ceil(item_bytes(item) / 1024))


@pytest.fixture
def client(configured):
    # Attempts on by default. The request budget at its most: moto answers a Query by reading
    # every item of the table in Python (0.1 s a call with 1,000 attempts), DynamoDB in ms.
    return configured(OTP_REQUEST_BUDGET_SECONDS="19")


class SpyClient:
    """The table's client with every operation recorded: a Scan anywhere fails the test."""

    def __init__(self, real) -> None:
        self._real, self.operations = real, []

    def __getattr__(self, name):
        if name == "scan":
            raise AssertionError("the Attempts log scanned the table")
        method = getattr(self._real, name)
        if not callable(method) or name.startswith("_") or name == "meta":
            return method

        def spied(*args, **kwargs):
            self.operations.append(name)
            return method(*args, **kwargs)
        return spied


def _verification(n: int, at_ms: int, scope: str) -> Verification:
    return Verification(f"VE{n:048x}", f"+1415555{n:04d}", "sms", "mac", at_ms // 1000, at_ms // 1000 + 600,
                        at_ms, 1, 0, 5, sends=(SendAttempt("sms", "console", at_ms),), scope=scope)


def fill_day(log, clock, count: int, scope: str, converted_every: int = 5, start: int = 0) -> list[Verification]:
    """``count`` sends of one day (one verification each) recorded as the start's wave records
    them, every ``converted_every``-th approved as the approval's wave converts it."""
    made = []
    base_ms = int(clock.now * 1000) - 3_600_000
    for n in range(start, start + count):
        verification = _verification(n, base_ms + n * 1000, scope)
        log.record(verification, "US", scope).settle()
        if n % converted_every == 0:
            for write in log.conversions(verification, "US", scope):
                write()
        made.append(verification)
    return made


def seed_day(log, clock, count: int, scope: str) -> list[Verification]:
    """As ``fill_day`` (which writes one at a time: 60 ms each in moto), faster: the first
    attempts through the real writes, the rest as copies of the items those writes made, in
    BatchWriteItem calls, and their counters added per counter item."""
    from chalicelib.verify import attempts

    made = fill_day(log, clock, 10, scope)
    dynamodb = log._client
    template = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "at#" + attempt_sid(made[0].id, 0)}})["Item"]
    items, counters = [], {}
    for n in range(10, count):
        verification = _verification(n, made[0].sends[0].at_ms + n * 1000, scope)
        sid, at_ms = attempt_sid(verification.id, 0), verification.sends[0].at_ms
        item = {**template, "pk": {"S": "at#" + sid}, "ve": {"S": verification.id}, "to": {"S": verification.to},
                "at": {"N": str(at_ms // 1000)}, "ak": {"S": f"at#{attempts._shard(verification.id)}"},
                "as": {"S": attempts.position(at_ms, sid)}}
        if n % 5:
            item.pop("cv", None)
        items.append(item)
        counter = counters.setdefault(attempts._counter_pk(at_ms // 1000 // 86400, verification.id), {})
        for kind in ("t", "c") if n % 5 == 0 else ("t",):
            name = attempts._counter(kind, scope, "US", "sms")
            counter[name] = counter.get(name, 0) + 1
        made.append(verification)
    for at in range(0, len(items), 25):
        dynamodb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": i}} for i in items[at:at + 25]]})
    for pk, adds in counters.items():
        log._count(pk, adds, "seed", None)
    return made


class ChaliceHttp:
    """twilio-python's HttpClient interface (twilio/http/http_client.py ``request``) over
    chalice's test client: the SDK's own paging (``next_page_url`` followed as given)."""

    def __init__(self, client, key) -> None:
        from twilio.http import HttpClient

        self._client, self._key, self.urls = client, key, []
        self.__class__ = type("ChaliceHttpClient", (ChaliceHttp, HttpClient), {})
        HttpClient.__init__(self, logger=None, is_async=False)

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        from urllib.parse import urlencode

        from twilio.http.response import Response

        parts = urlsplit(url)
        query = "&".join(q for q in (parts.query, urlencode(params or {})) if q)
        self.urls.append(parts.path + ("?" + query if query else ""))
        response = self._client.http.request(method, self.urls[-1], body=urlencode(data or {}).encode(),
                                             headers=basic(self._key["api_key_sid"], self._key["api_key_secret"]))
        return Response(response.status_code, response.body.decode(), headers=response.headers)


def test_a_days_attempts_list_completely_through_the_sdks_paging(client, key, clock):
    from twilio.rest import Client

    service = wiring.get_service()
    sid = new_service(client, key)["sid"]
    made = seed_day(service._attempts, clock, DAY_COUNT, sid)
    spy = SpyClient(service._attempts._client)
    service._attempts._client = spy  # the list's reads (the Services' own are not the log's)
    http = ChaliceHttp(client, key)
    sdk = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"], http_client=http)
    sdk.verify.base_url = "https://verify.example.test"

    # Pages of 250 (moto's Query reads the whole table in Python: about 0.1 s a call here); the
    # SDK follows each next_page_url as given. Pages of 50 are followed in the filtered test.
    listed = sdk.verify.v2.verification_attempts.list(page_size=250)
    assert len(listed) == DAY_COUNT
    expected = {attempt_sid(v.id, 0) for v in made}
    assert {a.sid for a in listed} == expected  # every one, none twice
    assert [a.date_created for a in listed] == sorted((a.date_created for a in listed), reverse=True)
    pages = [u for u in http.urls if u.startswith("/v2/Attempts")]
    assert len(pages) == DAY_COUNT // 250 and all("PageToken=PT" in u for u in pages[1:])
    spy.operations.clear()
    converted = sdk.verify.v2.verification_attempts.list(status="converted", page_size=250)
    assert len(converted) == DAY_COUNT // 5 and {a.conversion_status for a in converted} == {"converted"}
    assert set(spy.operations) == {"query"}

    summary = sdk.verify.v2.verification_attempts_summary().fetch(verify_service_sid=sid)
    assert (summary.total_attempts, summary.total_converted, summary.total_unconverted) == (
        DAY_COUNT, DAY_COUNT // 5, DAY_COUNT - DAY_COUNT // 5)
    assert summary.conversion_rate_percentage == "20.00"
    assert set(spy.operations) == {"query", "batch_get_item"}  # the counters by key; the spy refuses a Scan
    assert spy.operations.count("batch_get_item") == 1


def test_items_stay_small_and_the_same_size_as_the_day_grows(client, key, clock):
    """Measured in moto: the attempt items and each write's item stay at 1 KB whatever the day
    holds; the counter item only grows with the distinct Service, country and channel."""
    service = wiring.get_service()
    sid = new_service(client, key)["sid"]
    log, dynamodb = service._attempts, service._store._client
    made = fill_day(log, clock, 10, sid)
    first = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "at#" + attempt_sid(made[1].id, 0)}})["Item"]
    counters = [dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"ac#{int(clock.now) // 86400}#{s}"}})
                .get("Item", {}) for s in range(SHARDS)]
    small = max(item_bytes(c) for c in counters)
    made += fill_day(log, clock, 200, sid, start=10)
    last = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "at#" + attempt_sid(made[-1].id, 0)}})["Item"]
    counters = [dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"ac#{int(clock.now) // 86400}#{s}"}})["Item"]
                for s in range(SHARDS)]
    assert item_bytes(first) < 400 and abs(item_bytes(last) - item_bytes(first)) <= 2  # ~230 bytes each
    assert wcu(first) == wcu(last) == 1
    # Once each counter of the day's one (Service, country, channel) exists, only digits grow.
    assert small <= max(item_bytes(c) for c in counters) < 256 and max(wcu(c) for c in counters) == 1
    # A send's cost: the attempt (1 WCU, and 1 for its index entry) and its counter (1 WCU).


def test_a_filtered_page_reads_a_bounded_part_of_the_index(client, key, clock, monkeypatch):
    """A filter that matches little still answers each page after at most SHARDS x
    READ_BUDGET entries, with a next_page_url where it stopped; following it finds the rest."""
    from chalicelib.verify import attempts

    monkeypatch.setattr(attempts, "READ_BUDGET", 5)  # under the ~9 of 300 attempts each of 32 shards holds
    service = wiring.get_service()
    sid = new_service(client, key)["sid"]
    made = seed_day(service._attempts, clock, 300, sid)
    wanted = made[7].to
    found, path, pages = [], f"/v2/Attempts?ChannelData.To={wanted.replace('+', '%2B')}", 0
    while path:
        status, body, _ = call(client, key, "GET", path)
        assert status == 200 and len(body["attempts"]) <= 1
        found += body["attempts"]
        pages += 1
        url = body["meta"]["next_page_url"]
        path = urlsplit(url).path + "?" + urlsplit(url).query if url else None
    assert [a["channel_data"]["to"] for a in found] == [wanted] and pages > 1
