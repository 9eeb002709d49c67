"""Receipts past KMS's Sign quota (issue 35, OTP_RECEIPT_SIGNING=minute_key): one P-256 key per
stage and minute, certified by one KMS Sign, wrapped by KMS Encrypt, shared through one item.

On moto's KMS (real ECDSA signatures, real Encrypt/Decrypt with the encryption context checked),
every KMS call counted. The receipts are checked as consumers check them: PyJWT against the
JWKS, examples/receipt_check.py unchanged, chalicelib/factors/receipt_check.py (passkeys), and
the strict check of docs/receipts.md (pinned KMS key, certification), run from the page itself.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any

import boto3
import jwt
import pytest
from botocore.exceptions import ClientError

from chalicelib import wiring
from chalicelib.errors import ConfigError
from chalicelib.factors.minute_keys import MINUTE, MinuteKeys, minute_pk
from chalicelib.factors.receipt_check import check_receipt
from chalicelib.factors.receipts import b64url
from examples.receipt_check import accept_receipt
from tests.conftest import ROOT, TABLE
from tests.docs_snippets import snippets
from tests.unit.helpers import NUMBER, check, get, start

ISSUER = "http://localhost:8000"
TTL = 300


class CountingKms:
    """The container's KMS client, each call counted; ``failing`` operations answer KMS's
    KMSInternalException (documented for Sign, Encrypt and Decrypt)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()
        self.failing: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("_") or name == "meta":
            return attribute

        def call(**params: Any) -> Any:
            self.calls[name] += 1
            if name in self.failing:
                raise ClientError({"Error": {"Code": "KMSInternalException", "Message": "down"}}, name)
            return attribute(**params)

        return call


@pytest.fixture
def kms(aws, monkeypatch) -> CountingKms:
    counting = CountingKms(boto3.client("kms"))
    monkeypatch.setattr(wiring, "_kms_client", functools.cache(lambda: counting))
    return counting


@pytest.fixture
def minute_start() -> float:
    """Three whole minutes in the recent past: every receipt of them is unexpired now (TTL 300)."""
    return (time.time() // MINUTE) * MINUTE - 3 * MINUTE


@pytest.fixture
def app_client(configured, kms, clock, minute_start, monkeypatch):
    clock.now = minute_start
    made = configured(OTP_RECEIPT_SIGNING="minute_key")
    signer = wiring.get_receipts()
    monkeypatch.setattr(signer._minute_keys, "_clock", clock)
    monkeypatch.setattr(signer._minute_keys, "_prefetch_at", 40)
    with made as client:
        yield client


def published(client) -> dict:
    status, body, headers = get(client, "/.well-known/jwks.json")
    assert status == 200, body
    assert headers["Cache-Control"] == "public, max-age=60"
    return body


def verify(token: str, jwks: dict) -> dict:
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    return jwt.decode(token, key, algorithms=["ES256"], audience=ISSUER, issuer=ISSUER,
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


def approve(client, outbox, to: str = NUMBER) -> dict:
    outbox.clear()
    status, started, _ = start(client, to=to)
    assert status == 201, started
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]
    status, body, _ = check(client, code, to=to)
    assert status == 200, body
    return body


def minute_items() -> list[dict]:
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]  # the test's own look, not the code's
    return [item for item in items if item["pk"]["S"].startswith("rk#")]


def receipt_for(signer, n: int, now: float) -> str:
    verification = SimpleNamespace(id=f"VE{n:048d}", to=NUMBER, channel="sms", binding=None)
    token = signer.for_verification(verification, now)
    assert token is not None
    return token


def strict_check() -> Any:
    """docs/receipts.md's strict check, exec'd from the page (the snippet readers copy)."""
    (snippet,) = [s for s in snippets([ROOT / "docs" / "receipts.md"]) if "def accept_receipt_strict" in s.code]
    namespace: dict[str, Any] = {}
    exec(compile(snippet.code, snippet.id, "exec"), namespace)  # noqa: S102  (the docs' own snippet)
    return namespace["accept_receipt_strict"]


def kms_jwk(jwks: dict) -> dict:
    (key,) = [k for k in jwks["keys"] if "certification" not in k]
    return key


# -- many approvals, few KMS calls ---------------------------------------------------------------


def test_500_approval_receipts_across_3_minutes_make_3_kms_signs_and_every_receipt_verifies(
        app_client, kms, clock, minute_start, monkeypatch):
    """The receipts of 500 approvals (ReceiptSigner.for_verification, the call an approved check
    makes: the HTTP path is the next test's) over 2 min 30 s."""
    signer = wiring.get_receipts()
    moments = [minute_start + i * 150 / 500 for i in range(500)]  # 0 s to 2 min 30 s
    receipts = [receipt_for(signer, n, at) for n, at in enumerate(moments)]
    # One Sign per minute's key (its certification, the first at first use, the next two made
    # ahead at 40 s into the minute before), one Encrypt each, no Decrypt: one container.
    assert kms.calls["sign"] == 3 and kms.calls["encrypt"] == 3 and kms.calls["decrypt"] == 0, kms.calls
    assert len(minute_items()) == 3
    clock.now = minute_start + 150
    jwks = published(app_client)
    assert len(jwks["keys"]) == 4  # the KMS key and the three minutes'
    kids = Counter(jwt.get_unverified_header(token)["kid"] for token in receipts)
    assert len(kids) == 3 and set(kids) <= {k["kid"] for k in jwks["keys"]}
    strict, pinned = strict_check(), kms_jwk(jwks)
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
    for n, token in enumerate(receipts):
        claims = verify(token, jwks)
        assert (claims["sub"], claims["jti"]) == (NUMBER, f"VE{n:048d}")
        assert check_receipt(signer, token, time.time())["phone_number"] == NUMBER
        assert strict(token, "https://verify.example/.well-known/jwks.json", pinned, ISSUER, ISSUER)["jti"] == claims["jti"]


def test_approvals_over_http_carry_minute_key_receipts_that_the_example_backend_accepts(
        app_client, outbox, kms, clock, minute_start, monkeypatch):
    receipts = []
    for minute in range(3):
        clock.now = minute_start + minute * MINUTE + 5
        receipts.append(approve(app_client, outbox)["receipt"])
    jwks = published(app_client)
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
    for token in receipts:
        # examples/receipt_check.py unchanged: PyJWKClient picks the minute key by kid.
        with pytest.raises(jwt.MissingRequiredClaimError):  # no nonce was given at start
            accept_receipt(token, "https://verify.example/.well-known/jwks.json", ISSUER, ISSUER, "n", None)
        assert jwt.PyJWKClient("https://verify.example/.well-known/jwks.json").get_signing_key_from_jwt(token)
        assert verify(token, jwks)["phone_number"] == NUMBER
    assert kms.calls["sign"] == 3  # each minute's key made at its first approval: 5 s into the minute


def test_the_example_backend_accepts_a_bound_minute_key_receipt(app_client, outbox, clock, minute_start,
                                                                monkeypatch):
    outbox.clear()
    assert start(app_client, nonce="session-A", purpose="login")[0] == 201
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]
    token = check(app_client, code)[1]["receipt"]
    jwks = published(app_client)
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
    claims = accept_receipt(token, "https://verify.example/.well-known/jwks.json", ISSUER, ISSUER,
                            "session-A", "login")
    assert claims["phone_number"] == NUMBER


def test_the_jwks_minute_keys_carry_a_certification_that_pyjwt_ignores(app_client, outbox):
    approve(app_client, outbox)
    jwks = published(app_client)
    (minute_jwk,) = [k for k in jwks["keys"] if "certification" in k]
    assert set(minute_jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use", "certification"}
    assert "d" not in minute_jwk
    assert len(json.dumps(minute_jwk)) < 800  # docs/scale.md's JWKS size
    assert jwt.PyJWK(minute_jwk).key_id == minute_jwk["kid"]  # an unknown member is accepted
    header = jwt.get_unverified_header(minute_jwk["certification"])
    assert header["typ"] == "receipt-key+jwt" and header["kid"] == kms_jwk(jwks)["kid"]


def test_the_jwks_with_minute_keys_is_what_the_openapi_document_says(app_client, outbox):
    import jsonschema

    approve(app_client, outbox)
    _, document, _ = get(app_client, "/openapi.json")
    jsonschema.validate(published(app_client), document["components"]["schemas"]["JwkSet"])


# -- containers sharing one key a minute -------------------------------------------------------


def other_container(clock) -> MinuteKeys:
    """A second container's minute keys: its own signer, clients and cache, the same table and KMS."""
    from chalicelib.factors.receipts import signer_from_config

    signer = signer_from_config(wiring.get_config(), wiring._kms_client)
    keys = wiring._minute_keys(wiring.get_config(), signer)
    keys._clock = clock
    signer.use_minute_keys(keys)
    return keys


def test_two_containers_racing_for_one_minute_end_with_one_key(app_client, kms, clock, minute_start):
    first, second = wiring.get_receipts()._minute_keys, other_container(clock)
    barrier, first_wrote = threading.Barrier(2), threading.Event()
    for keys in (first, second):  # both read the minute's item before either writes it
        read = keys._store.read
        keys._store.read = lambda minute, read=read: (read(minute), barrier.wait(5))[0]
    # DynamoDB applies one conditional write at a time; moto's table does not lock, so the
    # second write is held until the first has landed, as DynamoDB would order them.
    create_first, create_second = first._store.create, second._store.create
    first._store.create = lambda *args: (create_first(*args), first_wrote.set())[0]
    second._store.create = lambda *args: (first_wrote.wait(5), create_second(*args))[1]
    found: dict[str, Any] = {}
    threads = [threading.Thread(target=lambda name=name, keys=keys: found.update(
        {name: keys.signing_key(minute_start + 1)})) for name, keys in (("a", first), ("b", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert found["a"].public.kid == found["b"].public.kid
    assert len(minute_items()) == 1
    # The loser's certification and wrap were spent (2 Signs, 2 Encrypts); it opened the winner's
    # item from its failed write (1 Decrypt, no read after the write).
    assert (kms.calls["sign"], kms.calls["encrypt"], kms.calls["decrypt"]) == (2, 2, 1)


def test_another_container_reads_and_decrypts_the_key_once_a_minute(app_client, kms, clock, minute_start):
    wiring.get_receipts()._minute_keys.signing_key(minute_start + 1)
    other = other_container(clock)
    for second in range(1, 30):  # before either makes the next minute's ahead (30 s at the earliest)
        assert other.signing_key(minute_start + second).public.kid == \
            wiring.get_receipts()._minute_keys.signing_key(minute_start + second).public.kid
    assert (kms.calls["sign"], kms.calls["decrypt"]) == (1, 1)


def test_a_retried_write_that_had_landed_is_recognised_as_its_own(app_client, kms, minute_start, monkeypatch):
    keys = wiring.get_receipts()._minute_keys
    client = keys._store._client
    real = client.update_item

    def landed_then_lost(**params):  # the first attempt lands, its answer is lost; botocore retries
        real(**params)
        return real(**params)

    monkeypatch.setattr(client, "update_item", landed_then_lost)
    key = keys.signing_key(minute_start + 1)
    assert key.private is not None and kms.calls["decrypt"] == 0  # ours: no winner to open
    assert len(minute_items()) == 1


# -- what the strict check refuses -------------------------------------------------------------


def forge(minute: int, certification: str | None) -> Any:
    """An item written into the table by someone who can write it but holds no receipt key."""
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP256R1())
    numbers = private.public_key().public_numbers()
    x, y = numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big")
    item = {"pk": {"S": minute_pk(minute)}, "kx": {"S": b64url(x)}, "ky": {"S": b64url(y)},
            "blob": {"S": b64url(b"not ours")}}
    if certification is not None:
        item["cert"] = {"S": certification}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)
    from chalicelib.factors.minute_keys import MinuteKey
    from chalicelib.factors.receipts import PublicKey

    return MinuteKey(minute, PublicKey("forged", x, y), certification or "", private)


def forged_receipt(key: Any, now: float) -> str:
    from chalicelib.factors.receipts import _signing_input

    claims = {"iss": ISSUER, "aud": ISSUER, "sub": NUMBER, "phone_number": NUMBER, "phone_number_verified": True,
              "amr": ["sms"], "jti": "VE" + "9" * 48, "iat": int(now), "exp": int(now) + TTL}
    signing_input = _signing_input({"alg": "ES256", "typ": "JWT", "kid": key.public.kid}, claims)
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


@pytest.mark.parametrize("certification", ["none", "another key's", "self-signed"])
def test_a_forged_key_in_the_table_is_refused_by_the_strict_check_and_never_published(
        app_client, outbox, clock, minute_start, monkeypatch, certification):
    genuine = approve(app_client, outbox)["receipt"]  # minute 0: the genuine key
    jwks = published(app_client)
    pinned = kms_jwk(jwks)
    genuine_cert = next(k["certification"] for k in jwks["keys"] if "certification" in k)
    minute = int(minute_start // MINUTE) + 1
    cert = {"none": None, "another key's": genuine_cert,
            "self-signed": genuine_cert.rsplit(".", 1)[0] + "." + b64url(b"\x01" * 64)}[certification]
    key = forge(minute, cert)
    clock.now = minute_start + MINUTE + 1
    token = forged_receipt(key, clock.now)
    # A lax consumer would take a JWK that the JWKS listed; the service lists none it cannot
    # check against its KMS key...
    served = published(app_client)
    assert key.public.kid not in {k["kid"] for k in served["keys"]}
    # ...and the strict check refuses the key even from a JWKS that lists it (a hostile cache).
    listed = {"keys": [*served["keys"], {**key.public.jwk(), **({"certification": cert} if cert else {})}]}
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: listed)
    strict = strict_check()
    with pytest.raises(jwt.InvalidTokenError):
        strict(token, "https://verify.example/.well-known/jwks.json", pinned, ISSUER, ISSUER)
    assert strict(genuine, "https://verify.example/.well-known/jwks.json", pinned, ISSUER, ISSUER)
    # The service itself cannot open the forged item (its wrap is not the stage's KMS key's):
    # that minute's approvals answer without a receipt, never with the forged key.
    assert approve(app_client, outbox)["receipt"] is None


def test_a_kms_signed_receipt_passes_the_strict_check_too(app_client, configured, outbox, monkeypatch):
    with configured(OTP_RECEIPT_SIGNING="kms") as client:
        token = approve(client, outbox)["receipt"]
        _, jwks, _ = get(client, "/.well-known/jwks.json")
    monkeypatch.setattr(jwt.PyJWKClient, "fetch_data", lambda self: jwks)
    strict = strict_check()
    assert strict(token, "https://verify.example/.well-known/jwks.json", kms_jwk(jwks), ISSUER, ISSUER)


# -- lifetime, failures, SnapStart, configuration ----------------------------------------------


def test_a_minute_key_is_gone_from_the_jwks_after_its_receipts_expire(app_client, outbox, clock, minute_start):
    approve(app_client, outbox)
    (minute_jwk,) = [k for k in published(app_client)["keys"] if "certification" in k]
    clock.now = minute_start + MINUTE + TTL - 1  # its last receipt (signed at 59 s) is still valid
    assert minute_jwk["kid"] in {k["kid"] for k in published(app_client)["keys"]}
    clock.now = minute_start + MINUTE + TTL
    assert [k for k in published(app_client)["keys"] if "certification" in k] == []


def test_kms_down_answers_the_documented_approval_without_a_receipt_never_an_unsigned_one(
        app_client, outbox, kms, minute_start, clock):
    kms.failing = {"sign"}
    status, started, _ = start(app_client)
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]
    status, body, _ = check(app_client, code)
    assert (status, body["status"], body["receipt"]) == (200, "approved", None)  # docs/receipts.md
    assert minute_items() == []  # no uncertified key was written
    kms.failing = {"get_public_key", "sign"}
    wiring.get_receipts.cache_clear()
    status, body, _ = get(app_client, "/.well-known/jwks.json")
    assert status == 503 and set(body) == {"error"}, body


def test_kms_encrypt_down_writes_no_key(app_client, outbox, kms):
    kms.failing = {"encrypt"}
    assert approve(app_client, outbox)["receipt"] is None
    assert minute_items() == []


def test_no_key_is_made_before_a_request_and_a_snapstart_restore_forgets_them(
        app_client, outbox, kms, clock, minute_start):
    assert kms.calls["sign"] == 0 and minute_items() == []  # the app built, no key made
    approve(app_client, outbox)
    keys = wiring.get_receipts()._minute_keys
    assert keys._keys
    wiring._forget_after_restore()  # what chalicelib/snapstart.py's hook calls
    assert keys._keys == {}
    assert wiring.get_receipts()._minute_keys is not keys


@pytest.mark.parametrize("env, message", [
    ({"OTP_RECEIPT_SIGNING": "hsm"}, "OTP_RECEIPT_SIGNING must be one of kms, minute_key"),
    ({"OTP_RECEIPT_SIGNING": "minute_key", "OTP_RECEIPT_KEY_IDS": ""}, "needs OTP_RECEIPT_KEY_IDS"),
    ({"OTP_RECEIPT_SIGNING": "minute_key", "OTP_TOTP_KEY_ID": ""}, "needs OTP_TOTP_KEY_ID"),
])
def test_the_setting_is_validated(aws, monkeypatch, env, message):
    from chalicelib.config import Config

    import os

    values = {**os.environ, **env}
    with pytest.raises(ConfigError, match=message):
        Config.from_env({k: v for k, v in values.items() if v != ""})


def test_the_default_stays_one_kms_sign_per_receipt(aws):
    assert wiring.get_config().receipt_signing == "kms"
    assert wiring.get_receipts()._minute_keys is None


def test_the_jwks_reads_the_table_at_most_every_5_seconds_and_lists_a_key_made_ahead_within_them(
        app_client, outbox, clock, minute_start, monkeypatch):
    keys = wiring.get_receipts()._minute_keys
    monotonic = [0.0]
    monkeypatch.setattr(keys, "_monotonic", lambda: monotonic[0])
    client = keys._store._client
    reads = []
    real = client.batch_get_item
    monkeypatch.setattr(client, "batch_get_item", lambda **params: (reads.append(1), real(**params))[1])
    clock.now = minute_start + 5
    for _ in range(3):  # no key of this minute yet: the table is read once a second at most
        assert [k for k in published(app_client)["keys"] if "certification" in k] == []
    assert len(reads) == 1
    monotonic[0] = 0.5
    approve(app_client, outbox)  # this container makes the minute's key: its JWKS lists it at once
    reads.clear()
    for _ in range(3):
        assert len([k for k in published(app_client)["keys"] if "certification" in k]) == 1
    assert len(reads) == 1
    clock.now = minute_start + 45
    other = other_container(clock)
    other._prefetch_at = 40
    other.signing_key(clock.now)  # another container, past 40 s: the next minute's key made ahead
    monotonic[0] = 5.4
    assert len(published(app_client)["keys"]) == 2 and len(reads) == 1  # within the 5 s
    monotonic[0] = 5.5
    assert len(published(app_client)["keys"]) == 3 and len(reads) == 2  # the next minute's listed
    monotonic[0] = 50.0
    published(app_client)
    assert len(reads) == 2  # both listed: nothing new this minute
    clock.now = minute_start + MINUTE
    published(app_client)
    assert len(reads) == 3  # a new minute


def test_the_table_down_answers_the_approval_without_a_receipt_and_the_jwks_503(app_client, outbox, monkeypatch):
    from chalicelib.dynamodb import StoreUnavailable

    store = wiring.get_receipts()._minute_keys._store

    def down(*args, **kwargs):
        raise StoreUnavailable("DynamoDB get_item failed: ProvisionedThroughputExceededException")

    monkeypatch.setattr(store, "read", down)
    monkeypatch.setattr(store, "read_range", down)
    assert approve(app_client, outbox)["receipt"] is None
    status, body, _ = get(app_client, "/.well-known/jwks.json")
    assert status == 503 and set(body) == {"error"}, body


def test_a_next_minute_key_that_cannot_be_made_ahead_is_tried_again_after_5_seconds_not_per_receipt(
        app_client, kms, clock, minute_start, monkeypatch):
    keys = wiring.get_receipts()._minute_keys
    monotonic = [0.0]
    monkeypatch.setattr(keys, "_monotonic", lambda: monotonic[0])
    signer = wiring.get_receipts()
    receipt_for(signer, 0, minute_start + 1)
    kms.failing = {"encrypt"}
    for n in range(1, 20):  # past 40 s: the next minute's key is tried ahead, and fails
        receipt_for(signer, n, minute_start + 41)
    assert kms.calls["encrypt"] == 2  # this minute's, then one try ahead
    monotonic[0] = 5.0
    kms.failing = set()
    receipt_for(signer, 20, minute_start + 46)
    assert kms.calls["encrypt"] == 3 and len(minute_items()) == 2


def test_a_minute_key_certified_by_a_rotated_in_receipt_key_is_published_by_a_container_that_had_not_seen_the_rotation(
        app_client, outbox, clock, minute_start):
    """scripts/keys/kms.py rotate-receipts repoints the alias: the container that signs next
    certifies with the new key; another container, which read the alias before, reads it again
    when it meets that certification, instead of leaving the key out for up to a minute."""
    from chalicelib.factors.receipts import signer_from_config
    from scripts.keys.kms import rotate_receipt_key

    before = approve(app_client, outbox)["receipt"]  # minute 0, certified by the old key
    stale = signer_from_config(wiring.get_config(), wiring._kms_client)
    stale.use_minute_keys(other_container(clock))
    assert len(stale.jwks()["keys"]) == 2  # the old KMS key and minute 0's: the alias read now
    rotate_receipt_key(boto3.client("kms"), "test")
    clock.now = minute_start + MINUTE + 1
    after = approve(app_client, outbox)["receipt"]  # minute 1, certified by the new key
    jwks = stale.jwks()  # within the minute its reading of the alias holds, yet:
    assert len(jwks["keys"]) == 4  # the new KMS key, the old, and both minutes' keys
    for token in (before, after):
        verify(token, jwks)
