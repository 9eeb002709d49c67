"""A person's data (issue 31): `make export` and `make forget` (scripts/data/personal_data.py) on
moto. A number verified through v1 and two v2 Services, with earlier verifications, attempts
and TOTP factors, is exported whole, then erased: afterwards no item of the table names it
(read item by item), and another number's items are as they were."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stdout
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, TABLE, last_code
from tests.unit.helpers import check, post, start
from tests.unit.test_events import events  # noqa: F401  (a fixture)
from tests.unit.test_twilio_v2 import call, key, new_service  # noqa: F401  (key: a fixture)

A, B = "+14155552671", "+14155552672"
ADDRESS = "Ana.Silva+news@gmail.com"  # one Gmail mailbox: anasilva@gmail.com


@pytest.fixture
def client(configured):
    return configured(OTP_ATTEMPTS="true", OTP_RESEND_INTERVAL_SECONDS="0", OTP_EMAIL_PROVIDER="console",
                      OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1000")


def table_items() -> list[dict[str, Any]]:
    """Every item of the table (a test may Scan; the command never does)."""
    dynamodb, items, params = boto3.client("dynamodb"), [], {"TableName": TABLE}
    while True:
        page = dynamodb.scan(**params)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def naming(text: str) -> list[dict[str, Any]]:
    return [item for item in table_items() if text.lower() in json.dumps(item, default=repr).lower()]


def own_entries(text: str) -> list[dict[str, Any]]:
    """What names ``text``: each such item's key and the attributes that name it (an entity index
    item is shared by the identities whose hashes share its shard: a neighbour's entry and the
    item's count change when that neighbour is forgotten)."""
    named = (lambda value: text.lower() in json.dumps(value, default=repr).lower())
    return [{"pk": item["pk"], **{k: v for k, v in item.items() if k != "pk" and named(v)}}
            for item in naming(text)]


def run(*argv: str) -> tuple[int, Any]:
    from scripts.data import personal_data

    out = io.StringIO()
    with redirect_stdout(out):
        code = personal_data.main(list(argv))
    return code, json.loads(out.getvalue()) if out.getvalue() else None


def v2_start(client, key, sid: str, to: str, channel: str = "sms") -> dict:
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": to, "Channel": channel})
    assert status == 201, body
    return body


def number_keys(to_key: str, scopes: list[str]) -> set[str]:
    from chalicelib import wiring

    hasher = wiring.get_service()._hasher
    return {"v#" + hasher.number_key(to_key, scope) for scope in scopes}


def test_a_number_is_exported_whole_then_forgotten_everywhere(client, key, outbox):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    # v1 (the default Service), approved: its item carries the trust marker.
    assert start(client, A)[0] == 201
    assert check(client, last_code(outbox), A)[1]["status"] == "approved"
    # The first Service: an earlier verification (canceled), then the current one, resent.
    earlier = v2_start(client, key, first, A)
    assert call(client, key, "POST", f"/v2/Services/{first}/Verifications/{earlier['sid']}",
                {"Status": "canceled"})[0] == 200
    v2_start(client, key, first, A)
    v2_start(client, key, first, A)
    v2_start(client, key, second, A)
    # Another number, in both Services: left as it is.
    v2_start(client, key, first, B)
    v2_start(client, key, second, B)
    # TOTP factors of an identity that is this person's address (v1's and a Service's).
    assert post(client, "/v1/totp/factors", {"identity": "ana@example.com"})[0] == 201
    assert call(client, key, "POST", f"/v2/Services/{first}/Entities/ana@example.com/Factors",
                {"FactorType": "totp", "FriendlyName": "Ana's phone"})[0] == 201
    attempts = call(client, key, "GET", f"/v2/Attempts?ChannelData.To=%2B{A[1:]}&PageSize=100")[1]["attempts"]
    assert len(attempts) == 5  # v1's send, four v2 sends
    others_before = naming(B)
    assert others_before

    code, exported = run("export", "--stage", "test", "--to", A)
    assert code == 0
    assert exported["to"] == A and exported["kind"] == "phone number"
    services = sorted(v["service_sid"] for v in exported["verifications"])
    default_sid = call(client, key, "GET", "/v2/Services")[1]["services"]
    assert len(services) == 3 and first in services and second in services
    assert all(v["item"]["to"] == A for v in exported["verifications"])
    approved = [v for v in exported["verifications"] if v["item"].get("approved_at")]
    assert len(approved) == 1  # v1's trust marker
    assert sorted(a["sid"] for a in exported["attempts"]) == sorted(a["sid"] for a in attempts)
    assert earlier["sid"] in {a["verification_sid"] for a in exported["attempts"]}  # found by the index
    raw = json.dumps({k: v for k, v in exported.items() if k != "not_exported"})
    assert B not in raw
    for mac in ("code_mac", "guess_mac", "wid"):  # no code is stored; its MACs are not exported
        assert f'"{mac}"' not in raw
    assert exported["not_exported"]
    assert default_sid  # the listing answered

    code, erased = run("forget", "--stage", "test", "--to", A)
    assert code == 0
    assert erased["erased"] == {"verifications": 3, "attempts": 5}
    assert naming(A) == []
    assert not number_keys(A, ["", first, second]) & {i["pk"]["S"] for i in table_items()}
    assert naming(B) == others_before  # another number's items untouched
    assert call(client, key, "GET", f"/v2/Attempts?ChannelData.To=%2B{A[1:]}")[1]["attempts"] == []
    # Forgetting again finds nothing and says so.
    assert run("forget", "--stage", "test", "--to", A)[1]["erased"] == {"verifications": 0, "attempts": 0}
    # The number starts afresh (its per-number counters went with its items).
    assert start(client, A)[0] == 201


def test_an_identity_is_exported_then_forgotten_in_every_service(client, key):
    first = new_service(client, key)["sid"]
    assert post(client, "/v1/totp/factors", {"identity": "ana@example.com"})[0] == 201
    entities = f"/v2/Services/{first}/Entities"
    assert call(client, key, "POST", entities, {"Identity": "ana@example.com"})[0] == 201
    assert call(client, key, "POST", f"/v2/Services/{first}/Entities/ana@example.com/Factors",
                {"FactorType": "totp", "FriendlyName": "Ana's phone"})[0] == 201
    assert call(client, key, "POST", entities, {"Identity": "bob@example.com"})[0] == 201
    bob = own_entries("bob@example.com")

    code, exported = run("export", "--stage", "test", "--identity", "ana@example.com")
    assert code == 0 and len(exported["totp"]) == 2
    assert {t["service_sid"] for t in exported["totp"]} >= {first}
    factors = [f for t in exported["totp"] for f in t["factors"]]
    assert len(factors) == 2 and all("secret" not in f for f in factors)  # never the secret's ciphertext
    assert exported["entity_listed_in"] == [first]

    code, erased = run("forget", "--stage", "test", "--identity", "ana@example.com")
    assert code == 0 and erased["erased"] == {"totp_identities": 2, "entity_entries": 1}
    assert naming("ana@example.com") == []
    assert own_entries("bob@example.com") == bob
    assert call(client, key, "GET", f"/v2/Services/{first}/Entities/ana@example.com")[0] == 404
    listed = call(client, key, "GET", f"/v2/Services/{first}/Entities")[1]["entities"]
    assert [e["identity"] for e in listed] == ["bob@example.com"]


def test_an_email_address_is_forgotten_in_every_spelling_of_its_mailbox(client, key, outbox):
    sid = new_service(client, key)["sid"]
    assert start(client, ADDRESS, channel="email")[0] == 201
    v2_start(client, key, sid, "anasilva@gmail.com", "email")
    v2_start(client, key, sid, "bob@example.com", "email")
    code, exported = run("export", "--stage", "test", "--to", "ANASILVA@gmail.com")
    assert code == 0 and exported["kind"] == "email address"
    assert {v["item"]["to"] for v in exported["verifications"]} == {ADDRESS, "anasilva@gmail.com"}
    assert {a["to"] for a in exported["attempts"]} == {ADDRESS, "anasilva@gmail.com"}

    assert run("forget", "--stage", "test", "--to", "a.n.a.silva@gmail.com")[1]["erased"] == {
        "verifications": 2, "attempts": 2}
    assert naming("silva") == []
    assert naming("bob@example.com")


def test_a_delete_retried_after_a_lost_answer_ends_right(client, key, outbox):
    """botocore retries a DeleteItem whose answer was lost: the retry finds the item gone (its
    own delete), which is a success, counted once."""
    from scripts.data import personal_data
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    v2_start(client, key, sid, A)
    faults = Faults()
    dynamodb = faults.attach(boto3.client("dynamodb"))
    data = personal_data.open_stage("test", dynamodb=dynamodb)
    kept = data.find(to=A)
    faults.arm("DeleteItem", "lost")  # the number's item
    faults.arm("attempt", "lost")  # its attempt
    assert data.erase(kept) == {"verifications": 1, "attempts": 1}
    assert ("DeleteItem", "lost") in faults.hit and ("attempt", "lost") in faults.hit
    assert naming(A) == []


def test_bad_input_is_one_line_and_no_traceback(client, capsys):
    from scripts.data import personal_data

    assert personal_data.main(["export", "--stage", "test", "--to", "12"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "E.164" in err
    with pytest.raises(SystemExit):
        personal_data.main(["forget", "--stage", "test"])  # neither --to nor --identity


@pytest.mark.parametrize("missing", ["credentials", "region"])
def test_without_aws_credentials_or_region_one_clear_line(missing, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
               AWS_EC2_METADATA_DISABLED="true", PATH=os.environ["PATH"])
    if missing == "region":
        env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="y")
    else:
        env.update(AWS_DEFAULT_REGION="eu-west-1")
    done = subprocess.run([sys.executable, "scripts/data/personal_data.py", "forget", "--stage", "dev", "--to", A],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert ("credentials" if missing == "credentials" else "region") in done.stderr
    assert done.stdout == ""


def test_the_make_targets_call_the_script():
    for target, args in (("forget", "TO=+14155552671"), ("export", "TO=ana@example.com"),
                         ("forget", "IDENTITY=alice")):
        dry = subprocess.run(["make", "-n", target, args, "STAGE=prod"], cwd=ROOT, capture_output=True,
                             text=True, timeout=30)
        assert dry.returncode == 0, dry.stderr
        assert f"scripts/data/personal_data.py {target} --stage prod" in dry.stdout
    bare = subprocess.run(["make", "-s", "forget"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bare.returncode != 0 and "TO=" in bare.stderr + bare.stdout


def test_a_refused_sends_attempt_keeps_no_number(configured, key):
    """A send refused after its attempt was written (here: the hour's budget) takes the attempt
    back; it used to stay until its TTL, out of the index and naming the number, where no
    command could find it once the number's item no longer held its verification."""
    client = configured(OTP_ATTEMPTS="true", OTP_MAX_SENDS_PER_HOUR="1", OTP_BUDGET_SHARDS="1",
                        OTP_BREAKER_MIN_CONVERSION_PERCENT="0")
    sid = new_service(client, key)["sid"]
    v2_start(client, key, sid, A)
    status, _, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": B, "Channel": "sms"})
    assert status == 429
    assert not [i for i in naming(B) if i["pk"]["S"].startswith("at#")]
    assert run("forget", "--stage", "test", "--to", B)[0] == 0
    assert naming(B) == []


def test_events_not_yet_delivered_about_a_forgotten_number_are_not_delivered(events, outbox):
    """The stream keeps its records 24 hours and cannot be edited: a receiver that was down
    would still get the forgotten number's events when it comes back. ``forget`` leaves a
    tombstone of the number's item key that the consumer honours; another number's events
    still go."""
    from tests.unit.test_events import Receiver

    receiver = Receiver(down=True)
    client, poller = events(receiver, max_retries=50)
    assert start(client, A)[0] == 201
    assert check(client, last_code(outbox), A)[0] == 200
    assert start(client, B)[0] == 201
    poller.run(rounds=3)  # down: nothing taken, the first record is retried
    assert {json.loads(body)["data"]["to"][:5] for _, body in receiver.received} == {"+1415"}
    assert run("forget", "--stage", "test", "--to", A)[0] == 0
    receiver.down = False
    before = len(receiver.received)
    poller.run(rounds=5)
    delivered = [body for _, body in receiver.taken()[before:]]
    assert [b["type"] for b in delivered] == ["verification.started"]
    assert delivered[0]["data"]["to"].endswith(B[-2:])
    assert poller.discarded == []
    import time

    tombstones = [i for i in table_items() if i["pk"]["S"].startswith("fg#")]
    assert tombstones and all(int(i["expires_at"]["N"]) <= time.time() + 25 * 3600 for i in tombstones)
    assert all(set(i) == {"pk", "expires_at"} for i in tombstones)  # nothing but the item's key


def test_totp_events_not_yet_delivered_about_a_forgotten_identity_are_not_delivered(events, clock):
    from tests.unit.test_events import Receiver
    from tests.unit.test_totp import code_at, confirm, enroll

    receiver = Receiver(down=True)
    client, poller = events(receiver, max_retries=50)
    clock.now = (int(clock.now) // 30) * 30 + 15  # mid-step
    factor = enroll(client, "ana@example.com")
    assert confirm(client, factor["id"], code_at(factor["secret"], clock.now))[0] == 200
    assert start(client, B)[0] == 201
    poller.run(rounds=3)
    assert receiver.types()[0] == "totp.factor_verified"  # refused: retried
    assert run("forget", "--stage", "test", "--identity", "ana@example.com")[0] == 0
    receiver.down = False
    before = len(receiver.received)
    poller.run(rounds=5)
    assert [b["type"] for _, b in receiver.taken()[before:]] == ["verification.started"]


def test_a_safe_listed_number_is_exported_and_forgotten_off_the_list(client, key):  # noqa: F811
    assert call(client, key, "POST", "/v2/SafeList/Numbers", {"PhoneNumber": A})[0] == 201
    code, exported = run("export", "--stage", "test", "--to", A)
    assert code == 0 and isinstance(exported["safe_list"]["added_at"], int)
    assert run("export", "--stage", "test", "--to", B)[1]["safe_list"] is None
    code, erased = run("forget", "--stage", "test", "--to", A)
    assert code == 0 and erased["erased"]["safe_list"] == 1
    status, body, _ = call(client, key, "GET", f"/v2/SafeList/Numbers/{A}")
    assert status == 404
