"""Receipts: an approved check answers a compact JWS (ES256) signed by KMS, which a consumer
verifies with PyJWT against GET /.well-known/jwks.json alone.

moto's KMS (moto/kms/utils.py, ECDSAPrivateKey.sign) signs with real ECDSA over SHA-256 of
the message and answers the DER signature, as AWS documents for Sign with MessageType RAW
(https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html: "ECDSA ... DER-encoded
object as defined by ANSI X9.62-2005 and RFC 3279 Section 2.2.3"). So these receipts are real
signatures, checked by PyJWT's `cryptography` backend, not by this project's code.
"""

from __future__ import annotations

import base64
import json
import time

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from chalicelib.factors.receipts import DerError, ReceiptSigner, ecdsa_der_to_raw, p256_point_from_spki
from tests.unit.helpers import NUMBER, check, get, start
from chalicelib import wiring

ISSUER = "http://localhost:8000"  # the test stage's default OTP_PUBLIC_URL


@pytest.fixture
def real_time(clock):
    """Receipts carry iat/exp that PyJWT checks against the wall clock."""
    clock.now = time.time()
    return clock


def jwks(client) -> dict:
    status, body, headers = get(client, "/.well-known/jwks.json")
    assert status == 200
    assert headers["Cache-Control"] == "public, max-age=3600"
    return body


def verify(token: str, published: dict, audience: str = ISSUER) -> dict:
    """What a consumer does: pick the key by kid from the JWKS, verify ES256, iss, aud, exp."""
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWKSet.from_dict(published)[kid]  # KeyError: unknown kid
    return jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=ISSUER,
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


def approve(client, outbox, to: str = NUMBER, **extra) -> dict:
    outbox.clear()
    status, started, _ = start(client, to=to, **extra)
    assert status == 201, started
    code = "".join(c for c in outbox[0]["body"] if c.isdigit())[:6]  # spoken digits too
    status, body, _ = check(client, code, to=to)
    assert status == 200, body
    return body


# -- the check's receipt, verified as a consumer would -----------------------------------------


def test_an_approval_answers_a_receipt_that_verifies_against_the_jwks(client, outbox, real_time):
    body = approve(client, outbox)
    assert set(body) == {"id", "to", "status", "valid", "receipt"}
    claims = verify(body["receipt"], jwks(client))
    assert claims == {
        "iss": ISSUER, "aud": ISSUER, "sub": NUMBER, "phone_number": NUMBER,
        "phone_number_verified": True, "amr": ["sms"], "jti": body["id"],
        "iat": int(real_time.now), "exp": int(real_time.now) + 300,
    }
    assert jwt.get_unverified_header(body["receipt"])["typ"] == "JWT"


def test_a_voice_approval_says_tel(client, outbox, real_time):
    body = approve(client, outbox, channel="voice")
    assert verify(body["receipt"], jwks(client))["amr"] == ["tel"]


def test_the_jwks_publishes_a_p256_signing_key_only(client, real_time):
    (key,) = jwks(client)["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
    assert "d" not in key


def test_a_tampered_receipt_fails(client, outbox, real_time):
    token = approve(client, outbox)["receipt"]
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["phone_number"] = claims["sub"] = "+14155550000"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(f"{header}.{forged}.{signature}", jwks(client))


def test_an_expired_receipt_fails(client, outbox, real_time):
    real_time.now = time.time() - 301  # approved 301 s ago: exp is a second past
    token = approve(client, outbox)["receipt"]
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(token, jwks(client))


def test_a_receipt_for_another_audience_fails(client, outbox, real_time):
    token = approve(client, outbox)["receipt"]
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, jwks(client), audience="https://another-app.example")


def test_a_receipt_signed_by_an_unpublished_key_fails(client, outbox, real_time):
    kms = boto3.client("kms")
    stray = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    token = ReceiptSigner(lambda: kms, [stray], ISSUER, ISSUER, 300).sign(
        subject=NUMBER, phone_number=NUMBER, amr=["sms"], jti="VE" + "0" * 48, now=time.time())
    with pytest.raises(KeyError):
        verify(token, jwks(client))


def test_the_audience_and_lifetime_are_configurable(client, outbox, real_time, monkeypatch):
    monkeypatch.setenv("OTP_RECEIPT_AUDIENCE", "https://app.example")
    monkeypatch.setenv("OTP_RECEIPT_TTL_SECONDS", "60")
    wiring.get_config.cache_clear()
    wiring.get_receipts.cache_clear()
    claims = verify(approve(client, outbox)["receipt"], jwks(client), audience="https://app.example")
    assert claims["exp"] - claims["iat"] == 60


# -- rotation ----------------------------------------------------------------------------------


def test_rotation_first_key_signs_and_every_key_is_published(client, outbox, real_time, monkeypatch):
    kms = boto3.client("kms")
    old = wiring.get_config().receipt_key_ids[0]
    new = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    # A receipt signed by the old key just before the rotation...
    in_flight = approve(client, outbox)["receipt"]

    monkeypatch.setenv("OTP_RECEIPT_KEY_IDS", f"{new},{old}")
    wiring.get_config.cache_clear()
    wiring.get_receipts.cache_clear()
    published = jwks(client)
    assert len(published["keys"]) == 2
    fresh = approve(client, outbox, to="+14155552672")["receipt"]
    kids = [k["kid"] for k in published["keys"]]
    assert jwt.get_unverified_header(fresh)["kid"] == kids[0]  # the first key signs
    assert jwt.get_unverified_header(in_flight)["kid"] == kids[1]
    verify(fresh, published)
    verify(in_flight, published)  # ...still verifies after it


def test_the_documented_rotation_end_to_end_without_a_restart(client, outbox, real_time):
    """Issue 22 item 5, docs/security.md "Rotating the receipts' key", on moto's KMS (Sign
    answers the ARN of the key that signed, as AWS documents: docs.aws.amazon.com/kms/latest/
    APIReference/API_Sign.html#API_Sign_ResponseSyntax). The container read the alias before
    the rotation and is not restarted."""
    from scripts.keys.kms import retire_previous_receipt_key, rotate_receipt_key

    before = approve(client, outbox)["receipt"]
    published_before = jwks(client)

    old, new = rotate_receipt_key(boto3.client("kms"), "test")
    after = approve(client, outbox, to="+14155552672")["receipt"]  # the cached alias moved
    published = jwks(client)
    kid_before, kid_after = (jwt.get_unverified_header(t)["kid"] for t in (before, after))
    assert kid_before != kid_after
    assert [k["kid"] for k in published_before["keys"]] == [kid_before]
    assert [k["kid"] for k in published["keys"]] == [kid_after, kid_before]
    verify(after, published)
    verify(before, published)  # in flight across the rotation

    # Another container that read the alias before the rotation publishes the new key within
    # a minute; then, once retired, the previous key is gone from the set.
    moments = [0.0]
    other = ReceiptSigner(wiring._kms_client, ["alias/phone-verify-test-receipts"], ISSUER, ISSUER, 300,
                          clock=lambda: moments[0])
    assert retire_previous_receipt_key(boto3.client("kms"), "test")
    assert [k["kid"] for k in other.jwks()["keys"]] == [kid_after]
    assert old != new


def test_a_container_that_read_the_alias_before_a_rotation_catches_up_within_a_minute(aws):
    from scripts.keys.kms import ensure_receipt_key, rotate_receipt_key

    kms = boto3.client("kms")
    alias = ensure_receipt_key(kms, "test")
    moments = [0.0]
    signer = ReceiptSigner(lambda: kms, [alias], ISSUER, ISSUER, 300, clock=lambda: moments[0])
    (first,) = signer.jwks()["keys"]
    rotate_receipt_key(kms, "test")
    assert [k["kid"] for k in signer.jwks()["keys"]] == [first["kid"]]  # cached, under a minute
    moments[0] += 60
    kids = [k["kid"] for k in signer.jwks()["keys"]]
    assert len(kids) == 2 and kids[1] == first["kid"]


# -- KMS failures ------------------------------------------------------------------------------
# moto does not refuse a disabled key, so these stub the documented errors instead: Sign and
# GetPublicKey answer DisabledException (400) or KMSInternalException (500)
# (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html#API_Sign_Errors).


@pytest.fixture
def kms_stub():
    from botocore.stub import Stubber

    with Stubber(wiring._kms_client()) as stubber:
        yield stubber


def test_kms_failing_at_signing_keeps_the_approval_and_answers_no_receipt(client, outbox, real_time, caplog):
    jwks(client)  # the public key is cached; the failure hits Sign
    from botocore.stub import Stubber

    with Stubber(wiring._kms_client()) as stub:
        stub.add_client_error("sign", service_error_code="KMSInternalException", http_status_code=500)
        body = approve(client, outbox)
        stub.assert_no_pending_responses()
    assert body["status"] == "approved" and body["receipt"] is None
    assert "receipt not signed" in caplog.text
    status, lookup, _ = get(client, f"/v1/verifications/{body['id']}")
    assert status == 200 and lookup["status"] == "approved"
    # The code is used up: a second check finds nothing.
    assert check(client, "000000")[0] == 404


def test_kms_failing_makes_the_jwks_a_503_in_the_contracts_shape(client, real_time, kms_stub):
    kms_stub.add_client_error("get_public_key", service_error_code="DisabledException", http_status_code=400)
    status, body, _ = get(client, "/.well-known/jwks.json")
    assert status == 503 and body["error"]["code"] == "service_unavailable"
    assert set(body) == {"error"}


def test_public_keys_are_fetched_once_per_container(client, outbox, real_time):
    """An alias is read once a minute at most: its key once, and the -previous alias (absent
    here) once, by the JWKS."""
    calls = []
    wiring._kms_client().meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    approve(client, outbox)
    approve(client, outbox, to="+14155552672")
    jwks(client)
    jwks(client)
    assert calls == ["GetPublicKey", "Sign", "Sign", "GetPublicKey"]


# -- the DER readers ---------------------------------------------------------------------------


def test_der_signatures_become_raw_r_and_s():
    key = ec.generate_private_key(ec.SECP256R1())
    for i in range(300):  # about 1 in 128 has an r or s shorter than 32 bytes
        der = key.sign(b"message %d" % i, ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        assert ecdsa_der_to_raw(der) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize("r,s", [(1, 1), (2**255, 2**256 - 1), (0x7F, 2**248)])
def test_der_edge_integers(r, s):
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    assert ecdsa_der_to_raw(encode_dss_signature(r, s)) == r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize("der", [
    b"",
    b"\x31\x06\x02\x01\x01\x02\x01\x01",  # SET, not SEQUENCE
    b"\x30\x06\x02\x01\x01\x02\x01\x01\x00",  # trailing byte
    b"\x30\x07\x02\x01\x01\x02\x01\x01\x00",  # trailing byte inside
    b"\x30\x06\x02\x01\x81\x02\x01\x01",  # negative r
    b"\x30\x07\x02\x02\x00\x01\x02\x01\x01",  # r not minimal
    b"\x30\x26\x02\x21" + b"\x01" * 33 + b"\x02\x01\x01",  # r of 33 bytes
    b"\x30\x08\x02\x01\x01\x02\x05\x01",  # s runs past the end
    b"\x30\x81\x06\x02\x01\x01\x02\x01\x01",  # long length form for a short length
])
def test_malformed_der_signatures_are_refused(der):
    with pytest.raises(DerError):
        ecdsa_der_to_raw(der)


def test_spki_gives_the_points_coordinates():
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    x, y = p256_point_from_spki(der)
    numbers = public.public_numbers()
    assert (x, y) == (numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))


@pytest.mark.parametrize("variant", ["p384", "compressed", "trailing", "truncated"])
def test_spki_other_than_an_uncompressed_p256_point_is_refused(variant):
    curve = ec.SECP384R1() if variant == "p384" else ec.SECP256R1()
    public = ec.generate_private_key(curve).public_key()
    point = (serialization.PublicFormat.CompressedPoint if variant == "compressed"
             else serialization.PublicFormat.UncompressedPoint)
    if variant == "compressed":  # SPKI with a compressed point, built by hand
        bits = b"\x00" + public.public_bytes(serialization.Encoding.X962, point)
        algorithm = bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107")
        der = b"\x30" + bytes([len(algorithm) + 2 + len(bits)]) + algorithm + b"\x03" + bytes([len(bits)]) + bits
    else:
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = {"trailing": der + b"\x00", "truncated": der[:-1]}.get(variant, der)
    with pytest.raises(DerError):
        p256_point_from_spki(der)


def test_kid_is_the_rfc_7638_thumbprint():
    """Checked against joserfc's thumbprint (an independent JOSE implementation)."""
    from joserfc.jwk import ECKey

    from chalicelib.factors.receipts import PublicKey

    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key = PublicKey("alias/x", *p256_point_from_spki(der))
    assert key.kid == ECKey.import_key(public).thumbprint()
