"""Services (issue 28, items 9 and 10): the brand that reaches a message is printable,
bounded and never empty, on every parameter that sets it; each Service is its own item, read
through the per-container cache, listed through a small index item of the live SIDs, and
a deleted Service leaves nothing behind.

Twilio's rules for a Service's name are the reference: the Service resource's
``friendly_name`` ("letters, numbers, spaces, dashes, underscores. Phone numbers, special
characters or links are NOT allowed", https://www.twilio.com/docs/verify/api/service) and
error 60200 naming the parameter (https://www.twilio.com/docs/api/errors/60200)."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib import wiring
from tests.conftest import TABLE
from tests.unit.helpers import NUMBER
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401 (key: a fixture)

# -- item 9: the brand --------------------------------------------------------------------------

BAD_BRANDS = {
    "newline": "Acme\nBank",
    "carriage return": "Acme\rBank",
    "a WebOTP line": "A\n@evil.example #1",
    "NUL": "Acme\x00",
    "tab": "Acme\tBank",
    "bidi override": "Acme \u202eknaB",
    "bidi isolate": "\u2067Acme\u2069",
    "zero-width space": "Ac\u200bme",
    "line separator": "Acme\u2028Bank",
    "paragraph separator": "Acme\u2029",
    "private use": "Acme\ue000",
    "URL": "https://evil.io",
    "domain": "evil.com",
    "domain in a name": "Pay at evil.co",
    "domain, ideographic dot": "evil\u3002com",
    "www": "www.evil",
    "phone number": "Call 4155552671",
    "spaced phone number": "+1 415 555 2671",
    "empty": "",
    "spaces only": "   ",
    "ideographic space only": "\u3000",
}
HONEST_BRANDS = ["Acme", "Café Zürich", "Shop 24", "アクメ銀行", "Acme Inc.", "St. Louis Bank", "Ali-Baba_Co",
                 "Banque Crédit 2024"]


def _sid(client, key):  # noqa: F811
    return new_service(client, key)["sid"]


def _set_brand(client, key, parameter: str, brand: str):  # noqa: F811
    """The brand through one of the three parameters that set it; (status, body)."""
    if parameter == "create":
        status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": brand})
    elif parameter == "update":
        status, body, _ = call(client, key, "POST", f"/v2/Services/{_sid(client, key)}", {"FriendlyName": brand})
    else:
        status, body, _ = call(client, key, "POST", f"/v2/Services/{_sid(client, key)}/Verifications",
                               {"To": NUMBER, "Channel": "sms", "CustomFriendlyName": brand})
    return status, body


PARAMETERS = {"create": "FriendlyName", "update": "FriendlyName", "start": "CustomFriendlyName"}


@pytest.mark.parametrize("case", sorted(BAD_BRANDS))
@pytest.mark.parametrize("where", sorted(PARAMETERS))
def test_a_brand_that_is_not_printable_text_is_60200_naming_its_parameter(client, key, outbox, where, case):  # noqa: F811
    outbox.clear()
    status, body = _set_brand(client, key, where, BAD_BRANDS[case])
    assert status == 400 and twilio_error(body) == 60200, body
    assert f"`{PARAMETERS[where]}`" in body["message"]
    assert not outbox  # nothing was sent with it


@pytest.mark.parametrize("brand", HONEST_BRANDS)
@pytest.mark.parametrize("where", sorted(PARAMETERS))
def test_honest_brands_pass_and_reach_the_sms(client, key, outbox, where, brand):  # noqa: F811
    outbox.clear()
    status, body = _set_brand(client, key, where, brand)
    assert status in (200, 201), body
    if where != "start":
        assert body["friendly_name"] == brand
        status, body, _ = call(client, key, "POST", f"/v2/Services/{body['sid']}/Verifications",
                               {"To": NUMBER, "Channel": "sms"})
        assert status == 201, body
    assert brand in outbox[0]["body"]


def test_an_update_cannot_empty_the_brand_and_the_service_keeps_its_name(client, key):  # noqa: F811
    sid = new_service(client, key, FriendlyName="Acme")["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"FriendlyName": ""})
    assert status == 400 and twilio_error(body) == 60200 and "`FriendlyName`" in body["message"]
    assert call(client, key, "GET", f"/v2/Services/{sid}")[1]["friendly_name"] == "Acme"


def test_a_custom_brand_too_long_for_one_segment_names_custom_friendly_name(client, key):  # noqa: F811
    sid = new_service(client, key, CodeLength="10")["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": NUMBER, "Channel": "sms", "CustomFriendlyName": "x" * 21})
    assert status == 400 and twilio_error(body) == 60200 and "`CustomFriendlyName`" in body["message"]


@pytest.mark.parametrize("case", ["newline", "bidi override", "zero-width space", "domain", "phone number"])
def test_the_stages_brand_follows_the_same_rules(case):
    from chalicelib.config import Config, ConfigError
    from tests.unit.test_config import BASE

    with pytest.raises(ConfigError, match="OTP_BRAND_NAME"):
        Config.from_env({**BASE, "OTP_BRAND_NAME": BAD_BRANDS[case]})
    for brand in HONEST_BRANDS:
        assert Config.from_env({**BASE, "OTP_BRAND_NAME": brand}).brand_name == brand


# -- item 10: each Service its own item ---------------------------------------------------------


def _items() -> dict[str, dict]:
    """Every item of the table (a test may scan: the code never does), by pk."""
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=TABLE)
    return {item["pk"]["S"]: item for page in pages for item in page["Items"]}


def _size(item: dict) -> int:
    """An item's size as DynamoDB counts it, near enough: names plus values, in UTF-8
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html)."""
    return len(json.dumps(item, sort_keys=True).encode())


def _services_storage() -> tuple[int, int]:
    items = [i for pk, i in _items().items() if pk.startswith("v2#service")]
    return len(items), sum(_size(i) for i in items)


def test_600_create_delete_cycles_leave_the_storage_as_it_was(client, key):  # noqa: F811
    kept = new_service(client, key, FriendlyName="Kept")["sid"]
    sid = new_service(client, key, FriendlyName="Cycle")["sid"]
    assert call(client, key, "DELETE", f"/v2/Services/{sid}")[0] == 204
    before = _services_storage()
    for i in range(600):
        sid = new_service(client, key, FriendlyName="Cycle")["sid"]
        assert call(client, key, "DELETE", f"/v2/Services/{sid}")[0] == 204
    assert _services_storage() == before
    assert [s["sid"] for s in call(client, key, "GET", "/v2/Services")[1]["services"]][1:] == [kept]


def test_each_service_is_its_own_item_and_the_index_holds_only_live_sids(client, key):  # noqa: F811
    first = new_service(client, key, FriendlyName="First")["sid"]
    second = new_service(client, key, FriendlyName="Second")["sid"]
    assert call(client, key, "DELETE", f"/v2/Services/{first}")[0] == 204
    items = _items()
    assert f"v2#service#{first}" not in items
    own = items[f"v2#service#{second}"]
    assert json.loads(own["settings"]["S"])["friendly_name"] == "Second"
    index = items["v2#services"]
    assert first not in json.dumps(index) and second in json.dumps(index)
    assert "Second" not in json.dumps(index)  # only the SID: the settings are the Service's own


def test_a_delete_is_20404_for_a_sid_never_created_and_for_a_second_delete(client, key):  # noqa: F811
    assert twilio_error(call(client, key, "DELETE", "/v2/Services/VA" + "1" * 32)[1]) == 20404
    sid = new_service(client, key)["sid"]
    assert call(client, key, "DELETE", f"/v2/Services/{sid}")[0] == 204
    status, body, _ = call(client, key, "DELETE", f"/v2/Services/{sid}")
    assert status == 404 and twilio_error(body) == 20404  # as Twilio answers a second DELETE


def _faults():
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    return faults


@pytest.mark.parametrize("kind", ["lost", "reset"])
@pytest.mark.parametrize("write", ["service_index", "service_item"])
def test_a_retried_create_recognises_its_own_writes(client, key, kind, write):  # noqa: F811
    faults = _faults()
    faults.arm(write, kind)
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Retried"})
    assert (write, kind) in faults.hit and status == 201, body
    listed = call(client, key, "GET", "/v2/Services")[1]["services"]
    assert [s["sid"] for s in listed][1:] == [body["sid"]]
    assert _items()["v2#services"]["service_count"]["N"] == "1"  # counted once


@pytest.mark.parametrize("kind", ["lost", "reset"])
@pytest.mark.parametrize("write", ["service_delete", "service_index"])
def test_a_retried_delete_answers_204_and_leaves_nothing(client, key, kind, write):  # noqa: F811
    sid = new_service(client, key)["sid"]
    before = _items()["v2#services"]
    faults = _faults()
    faults.arm(write, kind)
    status, body, _ = call(client, key, "DELETE", f"/v2/Services/{sid}")
    assert (write, kind) in faults.hit and faults.seen.count(write) == 2  # botocore retried
    assert status == 204, body
    items = _items()
    assert f"v2#service#{sid}" not in items and sid not in json.dumps(items["v2#services"])
    assert items["v2#services"]["service_count"]["N"] == "0" and before["service_count"]["N"] == "1"


def test_a_retried_update_recognises_its_own_write(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    faults = _faults()
    faults.arm("service_item", "lost")
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"FriendlyName": "Renamed"})
    assert ("service_item", "lost") in faults.hit and status == 200 and body["friendly_name"] == "Renamed"


def test_the_bound_counts_live_services_only(client, key, monkeypatch):  # noqa: F811
    from chalicelib.twilio_v2 import services

    monkeypatch.setattr(services, "MAX_SERVICES", 2)
    sids = [new_service(client, key)["sid"] for _ in range(2)]
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Third"})
    assert status == 400 and twilio_error(body) == 60200
    assert call(client, key, "DELETE", f"/v2/Services/{sids[0]}")[0] == 204
    new_service(client, key, FriendlyName="Third")


def test_an_index_entry_left_by_a_crash_is_repaired_by_the_listing(client, key, clock):  # noqa: F811
    """A function stopped between the index's write and the Service's (a timeout) leaves a
    SID with no item: the listing drops it once it is older than any create in progress."""
    from chalicelib.twilio_v2 import services

    sid = new_service(client, key)["sid"]
    boto3.client("dynamodb").delete_item(TableName=TABLE, Key={"pk": {"S": f"v2#service#{sid}"}})
    wiring.get_twilio().catalog.expire()
    assert [s["sid"] for s in call(client, key, "GET", "/v2/Services")[1]["services"]][1:] == []
    assert sid in json.dumps(_items()["v2#services"])  # young: perhaps a create in progress
    clock.advance(services.REPAIR_SECONDS + 1)
    wiring.get_twilio().catalog.expire()
    call(client, key, "GET", "/v2/Services")
    index = _items()["v2#services"]
    assert sid not in json.dumps(index) and index["service_count"]["N"] == "0"


# -- the cache: a start or check makes no extra round trip ---------------------------------------


@pytest.fixture
def reads(service):
    seen: list[str] = []
    service._store._client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: seen.append(params["Key"]["pk"]["S"]))
    service._store._client.meta.events.register(
        "provide-client-params.dynamodb.BatchGetItem", lambda params, **_: seen.append("batch"))
    return seen


def _catalog(monotonic):
    """A second container's catalog, on the same table."""
    from chalicelib.twilio_v2.services import ServiceCatalog, ServiceStore

    api = wiring.get_twilio()
    return ServiceCatalog(ServiceStore(wiring.get_service()._store._client, TABLE), api.catalog.default,
                          monotonic=monotonic, wall=lambda: 1_800_000_000.0)


def test_a_warm_container_reads_nothing_for_a_start_or_a_check(client, key, reads, outbox):  # noqa: F811
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": NUMBER, "Channel": "sms"})
    reads.clear()
    call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": NUMBER, "Channel": "sms"})
    call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": "000000"})
    assert not [r for r in reads if r.startswith("v2#service")], reads


def test_the_cache_rules_hold_across_containers(aws, reads):
    from chalicelib.twilio_v2.services import CACHE_SECONDS, MISS_REFRESH_SECONDS, ServiceSettings

    clock = [1000.0]
    writer, reader = _catalog(lambda: clock[0]), _catalog(lambda: clock[0])
    assert reader.get("VA" + "0" * 32) is None  # the reader has read the (empty) index
    created = ServiceSettings("VA" + "a" * 32, "Acme", 6, 1, 1)
    writer.create(created)
    assert writer.get(created.sid) == created  # the writer sees its write at once
    reads.clear()
    assert reader.get(created.sid) is None  # within the miss bound: no read
    clock[0] += MISS_REFRESH_SECONDS + 1
    assert reader.get(created.sid) == created  # created moments ago elsewhere: found
    reads.clear()
    for i in range(50):  # a flood of unknown SIDs: one index read per MISS_REFRESH_SECONDS at most
        assert reader.get("VA" + f"{i:032x}") is None
    assert reads == [] and reader.get(created.sid) == created  # cached: no read
    writer.update(created.sid, 2, friendly_name="Renamed")
    assert reader.get(created.sid).friendly_name == "Acme"  # within CACHE_SECONDS
    clock[0] += CACHE_SECONDS
    assert reader.get(created.sid).friendly_name == "Renamed"
    assert reads == [f"v2#service#{created.sid}"]  # one read of the Service's own item
    writer.delete(created.sid)
    clock[0] += CACHE_SECONDS
    assert reader.get(created.sid) is None and [s.sid for s in reader.all()] == [reader.default.sid]


# -- the one-item layout of earlier versions ------------------------------------------------------


def test_services_in_the_one_item_layout_keep_working_and_are_moved(client, key, outbox):  # noqa: F811
    from chalicelib.twilio_v2.services import ServiceSettings

    legacy = ServiceSettings("VA" + "b" * 32, "Legacy", 8, 1_700_000_000, 1_700_000_000)
    gone = "VA" + "c" * 32
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={
        "pk": {"S": "v2#services"}, "s_" + legacy.sid: {"S": legacy.to_json()},
        "s_" + gone: {"S": "deleted"}, "service_count": {"N": "1"}})
    wiring.get_twilio().catalog.expire()
    status, body, _ = call(client, key, "POST", f"/v2/Services/{legacy.sid}/Verifications",
                           {"To": NUMBER, "Channel": "sms"})
    assert status == 201 and "Legacy" in outbox[0]["body"]
    items = _items()
    assert json.loads(items[f"v2#service#{legacy.sid}"]["settings"]["S"])["code_length"] == 8
    assert not [name for name in items["v2#services"] if name.startswith("s_")]  # tombstones too
    assert items["v2#services"]["service_count"]["N"] == "1"
    assert [s["sid"] for s in call(client, key, "GET", "/v2/Services")[1]["services"]][1:] == [legacy.sid]
    assert call(client, key, "POST", f"/v2/Services/{legacy.sid}", {"FriendlyName": "Moved"})[0] == 200
    assert call(client, key, "DELETE", f"/v2/Services/{legacy.sid}")[0] == 204
    assert twilio_error(call(client, key, "DELETE", f"/v2/Services/{gone}")[1]) == 20404
    assert _services_storage()[0] == 1  # the index alone
