"""34-character SIDs (issue 29): every SID a v2 answer carries matches the pattern Twilio's own
OpenAPI document gives its field (2 letters + 32 hex: apps keep SIDs in CHAR(34) columns and
validate them with that pattern), one id per object on v1 too, the table item still found
without a scan (chalicelib/factors/sid_links.py), and what existed before keeps working: 50-character
``VE``/``YF`` ids held by apps, the delivery references already sent, existing factors.
Through the routes, as an app (or an attacker holding another Service's SID) calls them."""

from __future__ import annotations

import json
import re
from typing import Any

import pyotp
import pytest

from chalicelib import wiring
from tests.conftest import ROOT, last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER, check, error_code, get, post, start
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")

DOCUMENT = json.loads((ROOT / "tests/data/twilio-oai/twilio_verify_v2.json").read_text())
SCHEMAS = DOCUMENT["components"]["schemas"]
IDENTITY = "user-0042"
SID34 = re.compile(r"[A-Z]{2}[0-9a-f]{32}")


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return SCHEMAS[ref.rsplit("/", 1)[-1]] if ref else schema


def sids_match(body: Any, schema_name: str) -> int:
    """Every ``sid`` and ``*_sid`` string of ``body`` (a resource as the document's schema
    ``schema_name`` describes it) matches that field's ``pattern`` in the document; returns how
    many were checked."""
    if isinstance(body, list):
        return sum(sids_match(item, schema_name) for item in body)
    checked = 0

    def walk(value: Any, schema: dict[str, Any], where: str) -> None:
        nonlocal checked
        schema = _resolve(schema)
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            for name, item in value.items():
                field = _resolve(properties.get(name, {}))
                if isinstance(item, str) and (name == "sid" or name.endswith("_sid")):
                    # Where the document gives none (send_code_attempts[].attempt_sid), Twilio's
                    # SID shape: 2 letters + 32 hex.
                    pattern = field.get("pattern") or SID34.pattern
                    assert re.fullmatch(pattern.strip("^$"), item), (f"{where}.{name}", item, pattern)
                    checked += 1
                else:
                    walk(item, field, f"{where}.{name}")
        elif isinstance(value, list):
            for item in value:
                walk(item, schema.get("items", {}), where + "[]")

    walk(body, {"$ref": schema_name}, schema_name)
    return checked


@pytest.fixture
def step_clock(clock):
    clock.now = (int(clock.now) // 30) * 30 + 15  # mid TOTP step
    return clock


def _ok(result: tuple[int, Any, Any], status: int = 200) -> Any:
    assert result[0] == status, result[1]
    return result[1]


def test_every_sid_of_every_v2_answer_matches_the_documents_pattern(client, key, outbox, step_clock):
    """Service, Verification, VerificationCheck, Attempts, Entities, Factors, Challenges: the
    patterns are read from Twilio's document (tests/data/twilio-oai), not written here."""
    service = _ok(call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme"}), 201)
    sid = service["sid"]
    counted = sids_match(service, "verify.v2.service")
    counted += sids_match(_ok(call(client, key, "GET", f"/v2/Services/{sid}")), "verify.v2.service")
    listed = _ok(call(client, key, "GET", "/v2/Services"))
    counted += sids_match(listed["services"], "verify.v2.service")
    base = f"/v2/Services/{sid}"
    v = _ok(call(client, key, "POST", f"{base}/Verifications", {"To": NUMBER, "Channel": "sms"}), 201)
    counted += sids_match(v, "verify.v2.service.verification")
    counted += sids_match(_ok(call(client, key, "GET", f"{base}/Verifications/{v['sid']}")),
                          "verify.v2.service.verification")
    checked = _ok(call(client, key, "POST", f"{base}/VerificationCheck",
                       {"VerificationSid": v["sid"], "Code": last_code(outbox)}))
    assert checked["status"] == "approved"
    counted += sids_match(checked, "verify.v2.service.verification_check")
    other = _ok(call(client, key, "POST", f"{base}/Verifications", {"To": OTHER_NUMBER, "Channel": "sms"}),
                201)
    counted += sids_match(_ok(call(client, key, "POST", f"{base}/Verifications/{other['sid']}",
                                   {"Status": "approved"})), "verify.v2.service.verification")
    attempts = _ok(call(client, key, "GET", f"/v2/Attempts?VerifyServiceSid={sid}"))["attempts"]
    assert attempts
    counted += sids_match(attempts, "verify.v2.verification_attempt")
    counted += sids_match(_ok(call(client, key, "GET", f"/v2/Attempts/{attempts[0]['sid']}")),
                          "verify.v2.verification_attempt")

    entity = _ok(call(client, key, "POST", f"{base}/Entities", {"Identity": IDENTITY}), 201)
    counted += sids_match(entity, "verify.v2.service.entity")
    entities = f"{base}/Entities/{IDENTITY}"
    counted += sids_match(_ok(call(client, key, "GET", entities)), "verify.v2.service.entity")
    listed = _ok(call(client, key, "GET", f"{base}/Entities"))["entities"]
    counted += sids_match(listed, "verify.v2.service.entity")
    form = {"FactorType": "totp", "FriendlyName": "phone"}
    created = _ok(call(client, key, "POST", f"{entities}/Factors", form), 201)
    counted += sids_match(created, "verify.v2.service.entity.new_factor")
    totp = pyotp.TOTP(created["binding"]["secret"])
    factor = f"{entities}/Factors/{created['sid']}"
    verified = _ok(call(client, key, "POST", factor, {"AuthPayload": totp.at(step_clock.now)}))
    assert verified["status"] == "verified"
    counted += sids_match(verified, "verify.v2.service.entity.factor")
    counted += sids_match(_ok(call(client, key, "GET", factor)), "verify.v2.service.entity.factor")
    counted += sids_match(_ok(call(client, key, "GET", f"{entities}/Factors"))["factors"],
                          "verify.v2.service.entity.factor")
    step_clock.advance(30)
    challenge = _ok(call(client, key, "POST", f"{entities}/Challenges", {"FactorSid": created["sid"]}), 201)
    counted += sids_match(challenge, "verify.v2.service.entity.challenge")
    challenged = f"{entities}/Challenges/{challenge['sid']}"
    answered = _ok(call(client, key, "POST", challenged, {"AuthPayload": totp.at(step_clock.now)}))
    assert answered["status"] == "approved"
    counted += sids_match(answered, "verify.v2.service.entity.challenge")
    counted += sids_match(_ok(call(client, key, "GET", challenged)), "verify.v2.service.entity.challenge")
    counted += sids_match(_ok(call(client, key, "GET", f"{entities}/Challenges"))["challenges"],
                          "verify.v2.service.entity.challenge")
    assert counted >= 60


def test_v1_gives_the_same_34_character_id_and_takes_it_everywhere(client, outbox):
    """One id per object: v1's ``id`` is the SID v2 shows, and every v1 path takes it."""
    body = _ok(start(client), 201)
    assert SID34.fullmatch(body["id"]) and body["id"].startswith("VE")
    assert _ok(get(client, f"/v1/verifications/{body['id']}"))["status"] == "pending"
    approved = _ok(check(client, last_code(outbox), id=body["id"]))
    assert approved["status"] == "approved" and approved["id"] == body["id"]


# -- what existed before: 50-character ids ------------------------------------------------------

# Made by chalicelib/codes.py as it was before 34-character SIDs (git show e4af304:chalicelib/codes.py),
# with CodeHasher(b"s" * 32, b"i" * 32), the number key of NUMBER and the nonce 0123456789abcdef.
OLD_KEY = "3a078ec725dff96f6fcc53e4ca1876d5"
OLD_ID = "VE0897c953c43c2e30c360508019a8683a0123456789abcdef"
OLD_REFERENCE = "0168b1fc9fb8acd0a4d569fdaaedaa1e810a272d1e939ab51b4fdce1f06c4a6278"


def test_a_50_character_id_and_its_references_read_as_they_always_did():
    from chalicelib.codes import CodeHasher

    hasher = CodeHasher(b"s" * 32, b"i" * 32)
    assert hasher.number_key(NUMBER) == OLD_KEY
    assert hasher.legacy_verification_id(OLD_KEY, OLD_ID[34:]) == OLD_ID
    assert hasher.number_key_of(OLD_ID) == OLD_KEY
    assert hasher.send_reference(OLD_ID, 1) == OLD_REFERENCE  # an in-flight receipt's reference
    assert hasher.read_send_reference(OLD_REFERENCE) == (OLD_KEY, OLD_ID, 1)


def test_a_new_sids_reference_gives_the_sid_back_and_nothing_of_it_shows():
    from chalicelib.codes import CodeHasher

    hasher = CodeHasher(b"s" * 32, b"i" * 32)
    for n in range(30):
        number_key = hasher.number_key(f"+1415555{n:04d}")
        sid = hasher.verification_id(number_key)
        assert SID34.fullmatch(sid) and sid.startswith("VE")
        for index in (0, 4, 19):
            reference = hasher.send_reference(sid, index, number_key)
            assert len(reference) == 66 and hasher.read_send_reference(reference) == (number_key, sid, index)
            for part in (sid[2:], number_key):
                assert not any(part[i:i + 8] in reference for i in range(len(part) - 7))
        with pytest.raises(ValueError):  # another number's key is not this SID's
            hasher.send_reference(sid, 0, hasher.number_key("+14155550000" if n else "+14155550001"))
    assert len({hasher.verification_id(OLD_KEY) for _ in range(200)}) == 200


def _as_before(verification_id: str) -> str:
    """The item of ``verification_id`` as the code before 34-character SIDs made it: its id a
    50-character one (number key masked, nonce), and no lookup item."""
    service = wiring.get_service()
    number_key = service._number_key_of(verification_id)
    old = service._hasher.legacy_verification_id(number_key, "0123456789abcdef")
    service._store._client.update_item(
        TableName=service._store._table, Key={"pk": {"S": "v#" + number_key}},
        UpdateExpression="SET vid = :old", ExpressionAttributeValues={":old": {"S": old}})
    service._store._client.delete_item(TableName=service._store._table,
                                       Key={"pk": {"S": "sid#" + verification_id}})
    return old


def test_a_50_character_id_held_by_an_app_still_fetches_checks_and_approves(client, key, outbox):
    v1 = _as_before(_ok(start(client), 201)["id"])
    assert len(v1) == 50
    assert _ok(get(client, f"/v1/verifications/{v1}"))["id"] == v1
    default = _ok(call(client, key, "GET", "/v2/Services"))["services"][0]["sid"]
    fetched = _ok(call(client, key, "GET", f"/v2/Services/{default}/Verifications/{v1}"))
    assert (fetched["sid"], fetched["status"]) == (v1, "pending")
    wrong = f"{(int(last_code(outbox)) + 1) % 10**6:06d}"
    assert _ok(call(client, key, "POST", f"/v2/Services/{default}/VerificationCheck",
                    {"VerificationSid": v1, "Code": wrong}))["status"] == "pending"
    assert _ok(check(client, last_code(outbox), id=v1))["status"] == "approved"

    v2 = _as_before(_ok(start(client, to=OTHER_NUMBER), 201)["id"])
    path = f"/v2/Services/{default}/Verifications/{v2}"
    approved = _ok(call(client, key, "POST", path, {"Status": "approved"}))
    assert (approved["sid"], approved["status"]) == (v2, "approved")


def test_a_delivery_receipt_sent_for_a_50_character_id_still_lands(client, outbox):
    service = wiring.get_service()
    old = _as_before(_ok(start(client), 201)["id"])
    number_key, verification_id, index = service._hasher.read_send_reference(
        service._hasher.send_reference(old, 0))
    assert verification_id == old
    updated = service._store.record_delivery(number_key, old, index, "console", "delivered", None, False)
    assert updated is not None and updated.sends[0].status == "delivered"


# -- another Service's SID ------------------------------------------------------------------------


def test_another_services_34_character_sid_is_20404_and_counts_nothing(client, key, outbox):
    a, b = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    form = {"To": NUMBER, "Channel": "sms"}
    victim = _ok(call(client, key, "POST", f"/v2/Services/{a}/Verifications", form), 201)
    code = last_code(outbox)
    for method, path, form in [
        ("POST", f"/v2/Services/{b}/VerificationCheck", {"VerificationSid": victim["sid"], "Code": code}),
        ("GET", f"/v2/Services/{b}/Verifications/{victim['sid']}", None),
        ("POST", f"/v2/Services/{b}/Verifications/{victim['sid']}", {"Status": "approved"}),
        ("POST", f"/v2/Services/{b}/Verifications/{victim['sid']}", {"Status": "canceled"}),
    ]:
        status, body, _ = call(client, key, method, path, form)
        assert (status, twilio_error(body)) == (404, 20404), path
    # v1 (the stage's own app) neither
    assert error_code(check(client, code, id=victim["sid"])[1]) == "verification_not_found"
    still = _ok(call(client, key, "POST", f"/v2/Services/{a}/VerificationCheck",
                     {"VerificationSid": victim["sid"], "Code": code}))
    assert still["status"] == "approved"


def test_an_unknown_sid_is_counted_on_the_checking_ip_as_any_check(configured, outbox):
    """An attacker walking SIDs from one address gets the per-IP check limit, as with a real
    one: the lookup goes out beside the IP's count, never instead of it."""
    client = configured(OTP_MAX_CHECKS_PER_IP_PER_HOUR="3")
    for n in range(3):
        status, body, _ = check(client, "123456", id=f"VE{n:032x}")
        assert status == 404 and error_code(body) == "verification_not_found"
    status, body, _ = check(client, "123456", id="VE" + "f" * 32)
    assert status == 429, body


def test_a_sid_with_no_lookup_is_simply_not_found(client, key):
    default = _ok(call(client, key, "GET", "/v2/Services"))["services"][0]["sid"]
    for sid in ("VE" + "0" * 32, "VE" + "f" * 32):
        status, body, _ = call(client, key, "GET", f"/v2/Services/{default}/Verifications/{sid}")
        assert (status, twilio_error(body)) == (404, 20404)
        assert error_code(get(client, f"/v1/verifications/{sid}")[1]) == "verification_not_found"
    for sid in ("VE" + "0" * 31, "VE" + "0" * 33, "VE" + "A" * 32, "VE" + "0" * 49):
        assert get(client, f"/v1/verifications/{sid}")[0] == 404


# -- TOTP factors ---------------------------------------------------------------------------------


def _default(client, key) -> str:
    return _ok(call(client, key, "GET", "/v2/Services"))["services"][0]["sid"]


def test_a_v2_factor_is_verified_and_challenged_by_its_34_character_sid_on_v2_and_v1(client, key, step_clock):
    entities = f"/v2/Services/{_default(client, key)}/Entities/{IDENTITY}"
    first, second = (_ok(call(client, key, "POST", f"{entities}/Factors",
                              {"FactorType": "totp", "FriendlyName": n}), 201) for n in "ab")
    for created in (first, second):
        assert SID34.fullmatch(created["sid"]) and created["sid"].startswith("YF")
    one, two = (pyotp.TOTP(f["binding"]["secret"]) for f in (first, second))
    # the first by v2, the second by v1 (which names a factor by its id alone)
    assert _ok(call(client, key, "POST", f"{entities}/Factors/{first['sid']}",
                    {"AuthPayload": one.at(step_clock.now)}))["status"] == "verified"
    assert _ok(post(client, f"/v1/totp/factors/{second['sid']}/verify",
                    {"code": two.at(step_clock.now)}))["status"] == "verified"
    step_clock.advance(30)
    approved = _ok(post(client, "/v1/totp/challenges",
                        {"factor_id": first["sid"], "code": one.at(step_clock.now)}))
    assert approved["factor_id"] == first["sid"] and approved["receipt"]
    challenge = _ok(call(client, key, "POST", f"{entities}/Challenges",
                         {"FactorSid": second["sid"], "AuthPayload": two.at(step_clock.now)}), 201)
    assert challenge["status"] == "approved" and challenge["factor_sid"] == second["sid"]
    assert _ok(post(client, f"/v1/totp/factors/{second['sid']}/enable", {}))["id"] == second["sid"]
    assert client.http.delete(f"/v1/totp/factors/{first['sid']}").status_code == 204
    status, body, _ = call(client, key, "GET", f"{entities}/Factors/{first['sid']}")
    assert (status, twilio_error(body)) == (404, 20404)
    # a factor SID of another identity, on this identity's path: not found
    elsewhere = f"/v2/Services/{_default(client, key)}/Entities/someone-else/Factors"
    other = _ok(call(client, key, "POST", elsewhere,
                     {"FactorType": "totp", "FriendlyName": "c"}), 201)
    status, body, _ = call(client, key, "GET", f"{entities}/Factors/{other['sid']}")
    assert (status, twilio_error(body)) == (404, 20404)
    assert error_code(post(client, f"/v1/totp/factors/{'YF' + '0' * 32}/verify", {"code": "123456"})[1]) \
        == "factor_not_found"


def test_a_factor_made_before_34_character_sids_still_verifies_and_challenges(client, key, step_clock):
    """Factors live for ever: one with a 50-character id (the identity key inside, no lookup
    item: as the code before made it) keeps working on v1 and v2."""
    import chalicelib.totp.service as totp_module

    identity_key = wiring.get_totp().identity_key(IDENTITY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(totp_module, "new_factor_sid", lambda: "YF" + identity_key + "0123456789abcdef")
        patch.setattr(type(wiring.get_totp()._store), "link_sid", lambda *args: None)
        enrolled = _ok(post(client, "/v1/totp/factors", {"identity": IDENTITY}), 201)
    store_key = [identity_key]
    old = enrolled["id"]
    assert len(old) == 50 and old[2:34] == store_key[0]
    totp = pyotp.TOTP(enrolled["secret"])
    verified = _ok(post(client, f"/v1/totp/factors/{old}/verify", {"code": totp.at(step_clock.now)}))
    assert verified["status"] == "verified"
    step_clock.advance(30)
    challenged = _ok(post(client, "/v1/totp/challenges", {"factor_id": old, "code": totp.at(step_clock.now)}))
    assert challenged["receipt"]
    entities = f"/v2/Services/{_default(client, key)}/Entities/{IDENTITY}"
    fetched = _ok(call(client, key, "GET", f"{entities}/Factors/{old}"))
    assert fetched["sid"] == old and fetched["entity_sid"] == "YE" + store_key[0]
    step_clock.advance(30)
    challenge = _ok(call(client, key, "POST", f"{entities}/Challenges",
                         {"FactorSid": old, "AuthPayload": totp.at(step_clock.now)}), 201)
    assert challenge["status"] == "approved"
    # ... and an old id on another identity's path is not found (its key is inside it)
    bobs = f"/v2/Services/{_default(client, key)}/Entities/bob/Factors/{old}"
    status, body, _ = call(client, key, "GET", bobs)
    assert (status, twilio_error(body)) == (404, 20404)


# -- faults and cost ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lost", "reset", "throttle"])
def test_a_retried_lookup_write_ends_right(client, key, outbox, kind):
    """botocore retries the lookup's write (its answer lost after it landed, a reset, a
    throttle): the start answers 201 once, and its SID finds the verification."""
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("sid", kind)
    body = _ok(start(client), 201)
    assert ("sid", kind) in faults.hit
    assert len([m for m in outbox if m["to"] == NUMBER]) == 1
    assert _ok(get(client, f"/v1/verifications/{body['id']}"))["status"] == "pending"
    assert _ok(check(client, last_code(outbox), id=body["id"]))["status"] == "approved"


def test_a_lookup_write_that_keeps_failing_keeps_nothing_and_sends_nothing(client, outbox):
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("sid", "fail", times=None)
    status, body, _ = start(client)
    assert status == 503 and not outbox
    faults.clear()
    service = wiring.get_service()
    assert service._store.get(service._hasher.number_key(NUMBER)) is None  # the undo removed it
    assert _ok(start(client), 201)


@pytest.mark.parametrize("kind", ["lost", "throttle"])
def test_a_retried_factor_lookup_write_ends_right(client, step_clock, kind):
    from tests.faults import Faults

    faults = Faults()
    faults.attach(wiring.get_totp()._store._client)
    faults.arm("sid", kind)
    enrolled = _ok(post(client, "/v1/totp/factors", {"identity": IDENTITY}), 201)
    assert ("sid", kind) in faults.hit
    code = pyotp.TOTP(enrolled["secret"]).at(step_clock.now)
    verified = _ok(post(client, f"/v1/totp/factors/{enrolled['id']}/verify", {"code": code}))
    assert verified["status"] == "verified"


def test_dynamodb_calls_per_start_and_check(client, service, outbox, clock):
    """A start: its writes as before and the SID's lookup, all in the first wave's round trip
    (tests/unit/test_security.py counts the rest); a check by number: as before; a check by
    SID: one read more (the lookup, strongly consistent), no write more."""
    from tests.unit.test_security import REQUEST_WRITES, CallCounter

    counter = CallCounter(service._store._client)
    body = _ok(start(client), 201)
    attempt = ["UpdateItem at", "UpdateItem ac"]
    assert sorted(counter.take()) == sorted([*REQUEST_WRITES, *attempt])
    assert "UpdateItem sid" in REQUEST_WRITES  # one write more than before, in the same wave
    wrong = "000000" if last_code(outbox) != "000000" else "000001"
    check(client, wrong)
    assert counter.take() == ["UpdateItem rl#ipcheck", "UpdateItem v"]  # by number: unchanged
    check(client, wrong, id=body["id"])
    calls = counter.take()  # by SID: one read more, beside the IP's count (one wave), then the write
    assert sorted(calls[:2]) == ["GetItem sid", "UpdateItem rl#ipcheck"] and calls[2:] == ["UpdateItem v"]
    get(client, f"/v1/verifications/{body['id']}")
    assert counter.take() == ["GetItem sid", "GetItem v"]
