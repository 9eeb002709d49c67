"""Signed receipts: a compact JWS (ES256) saying "this phone number was verified just now",
signed by an AWS KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY), so any backend checks it
offline against GET /.well-known/jwks.json and the private key never leaves KMS.

KMS answers in DER (ECDSA signatures as X9.62 ``SEQUENCE {r, s}``, public keys as
SubjectPublicKeyInfo); JOSE wants raw bytes. The two small DER readers below do that
conversion without the ``cryptography`` package, which stays out of the Lambda zip.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from chalicelib import errors
from chalicelib.codes import log_ref

log = logging.getLogger("verify")

# RFC 8176 authentication method references, by how the code reached the user.
# RFC 8176 has no value for a code sent by WhatsApp or email: "otp", a one-time password.
AMR_BY_CHANNEL = {"sms": ("sms",), "voice": ("tel",), "whatsapp": ("otp",), "email": ("otp",)}
AMR_TOTP = ("otp",)

_EC_PUBLIC_KEY_OID = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1 id-ecPublicKey
_P256_OID = bytes.fromhex("2a8648ce3d030107")  # 1.2.840.10045.3.1.7 prime256v1 (P-256)
_P256_BYTES = 32
# How long a container trusts its reading of an alias for the JWKS. Signing notices a repointed
# alias at once (KMS Sign answers the KeyId that signed); the JWKS within this delay.
ALIAS_REFRESH_SECONDS = 60
# The alias `scripts/keys/kms.py rotate_receipt_key` leaves on the key it replaced, so that receipts
# signed just before a rotation still verify (published while the alias exists).
PREVIOUS_SUFFIX = "-previous"


class DerError(ValueError):
    """The bytes are not the DER structure expected."""


class ReceiptUnavailable(errors.ServiceUnavailable):
    """KMS could not be reached, refused the call, or answered something unexpected."""


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


# -- DER ------------------------------------------------------------------------------------


def _read_tlv(data: bytes, offset: int, tag: int) -> tuple[bytes, int]:
    """One DER element with ``tag`` at ``offset``: (its value, the offset after it).
    Only definite, minimally encoded lengths (DER), at most 0xFFFF."""
    if offset + 2 > len(data) or data[offset] != tag:
        raise DerError(f"expected tag 0x{tag:02x} at {offset}")
    length = data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count not in (1, 2) or start + count > len(data):
            raise DerError("unsupported length form")
        length = int.from_bytes(data[start : start + count], "big")
        if length < 0x80 or (count == 2 and length < 0x100):
            raise DerError("length is not minimally encoded")
        start += count
    end = start + length
    if end > len(data):
        raise DerError("element runs past the end")
    return data[start:end], end


def _unsigned(integer: bytes, size: int) -> bytes:
    """A DER INTEGER's value as a positive big-endian number of exactly ``size`` bytes."""
    if not integer or integer[0] & 0x80:
        raise DerError("INTEGER is empty or negative")
    if len(integer) > 1 and integer[0] == 0 and not integer[1] & 0x80:
        raise DerError("INTEGER is not minimally encoded")
    value = integer.lstrip(b"\x00")
    if len(value) > size:
        raise DerError("INTEGER is too large")
    return value.rjust(size, b"\x00")


def ecdsa_der_to_raw(der: bytes, size: int = _P256_BYTES) -> bytes:
    """KMS's ECDSA signature (DER ``SEQUENCE {INTEGER r, INTEGER s}``, RFC 3279 2.2.3) as
    JOSE's ``R || S``, each left-padded to ``size`` bytes (RFC 7518 3.4)."""
    body, end = _read_tlv(der, 0, 0x30)
    if end != len(der):
        raise DerError("trailing bytes after the signature")
    r, offset = _read_tlv(body, 0, 0x02)
    s, offset = _read_tlv(body, offset, 0x02)
    if offset != len(body):
        raise DerError("trailing bytes inside the signature")
    return _unsigned(r, size) + _unsigned(s, size)


def p256_point_from_spki(der: bytes) -> tuple[bytes, bytes]:
    """(x, y) of a P-256 public key in DER SubjectPublicKeyInfo (RFC 5480), as KMS's
    GetPublicKey returns it; only the uncompressed point form (0x04 || X || Y)."""
    spki, end = _read_tlv(der, 0, 0x30)
    if end != len(der):
        raise DerError("trailing bytes after the key")
    algorithm, offset = _read_tlv(spki, 0, 0x30)
    key_type, inner = _read_tlv(algorithm, 0, 0x06)
    curve, inner = _read_tlv(algorithm, inner, 0x06)
    if key_type != _EC_PUBLIC_KEY_OID or curve != _P256_OID or inner != len(algorithm):
        raise DerError("not an EC key on P-256")
    bits, offset = _read_tlv(spki, offset, 0x03)
    if offset != len(spki):
        raise DerError("trailing bytes in the key")
    if len(bits) != 2 + 2 * _P256_BYTES or bits[0] != 0 or bits[1] != 0x04:
        raise DerError("not an uncompressed P-256 point")
    point = bits[2:]
    return point[:_P256_BYTES], point[_P256_BYTES:]


# -- keys and receipts ----------------------------------------------------------------------


def kms_key_id(key_id_or_arn: str) -> str:
    """The key's id (the UUID) from a key ARN or id: Sign answers the ARN, GetPublicKey the ARN
    (AWS) or the id (moto)."""
    return key_id_or_arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class PublicKey:
    key_id: str  # the KMS key's own id (not an alias): what signs under this kid
    x: bytes
    y: bytes

    @property
    def kid(self) -> str:
        """RFC 7638 JWK thumbprint: derived from the key itself, so it is stable across
        aliases and ARNs of one key, and publishes no account id or key ARN."""
        members = {"crv": "P-256", "kty": "EC", "x": b64url(self.x), "y": b64url(self.y)}
        canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
        return b64url(hashlib.sha256(canonical.encode("ascii")).digest())

    def jwk(self) -> dict[str, str]:
        return {"kty": "EC", "crv": "P-256", "x": b64url(self.x), "y": b64url(self.y),
                "kid": self.kid, "alg": "ES256", "use": "sig"}


class ReceiptSigner:
    """Signs receipts with the first of ``key_ids``, publishes all of them (rotation).

    ``kms`` is a zero-argument factory for a boto3 KMS client: nothing is built until the
    first receipt or JWKS request. A key's public half is fetched once per container; what an
    alias points to is read again when Sign shows it moved, and at least every minute for the
    JWKS (so repointing an alias needs no restart).
    """

    def __init__(
        self,
        kms: Callable[[], Any],
        key_ids: Sequence[str],
        issuer: str,
        audience: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kms = kms
        self._key_ids = tuple(key_ids)
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl_seconds
        self._clock = clock
        self._resolved: dict[str, tuple[PublicKey | None, float]] = {}  # configured name -> key, read at
        # Keys this container saw an alias move away from, and when: published for a receipt's
        # lifetime after (its own receipts signed just before may still be in flight).
        self._replaced: dict[str, tuple[PublicKey, float]] = {}
        self._lock = threading.Lock()
        self._minute_keys: Any = None  # factors/minute_keys.py's MinuteKeys, when they sign

    def use_minute_keys(self, minute_keys: Any) -> None:
        """Sign with the stage's minute keys (OTP_RECEIPT_SIGNING=minute_key) and publish them."""
        self._minute_keys = minute_keys

    def forget_minute_keys(self) -> None:
        """SnapStart's after-restore hook: no key of the snapshot's signs after it."""
        if self._minute_keys is not None:
            self._minute_keys.forget()

    @property
    def cache_control(self) -> str:
        """The JWKS's Cache-Control: an hour for KMS keys, which change on rotation only; a
        minute with minute keys, a new one of which is published every minute."""
        return "public, max-age=60" if self._minute_keys is not None else "public, max-age=3600"

    @property
    def enabled(self) -> bool:
        return bool(self._key_ids)

    @property
    def issuer(self) -> str:
        return self._issuer

    def public_key(self, name: str, *, fresh: bool = False, missing_ok: bool = False) -> PublicKey | None:
        """The key ``name`` (key id, ARN or alias) names; an alias is read again after
        ALIAS_REFRESH_SECONDS or when ``fresh``. None only if ``missing_ok`` and KMS has no such key."""
        now = self._clock()
        with self._lock:
            cached = self._resolved.get(name)
        is_alias = name.startswith("alias/")
        if cached is not None and not fresh and not (is_alias and now - cached[1] >= ALIAS_REFRESH_SECONDS):
            return cached[0]
        answer = self._call("get_public_key", missing_ok=missing_ok, KeyId=name)
        key = None if answer is None else self._key_from(name, answer)
        with self._lock:
            self._resolved[name] = (key, now)
            if cached is not None and cached[0] is not None and (key is None or key.kid != cached[0].kid):
                self._replaced[cached[0].kid] = (cached[0], now)
        return key

    def _key_from(self, name: str, answer: dict[str, Any]) -> PublicKey:
        # KeySpec; CustomerMasterKeySpec is its deprecated twin, the only one moto returns.
        spec = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec")
        if spec != "ECC_NIST_P256" or "ECDSA_SHA_256" not in answer.get("SigningAlgorithms", ()):
            log.error("KMS key %s is %s, not an ECC_NIST_P256 signing key", name, spec)
            raise ReceiptUnavailable()
        try:
            x, y = p256_point_from_spki(answer["PublicKey"])
        except DerError as exc:
            log.error("KMS key %s: unexpected public key: %s", name, exc)
            raise ReceiptUnavailable() from None
        return PublicKey(kms_key_id(answer.get("KeyId") or name), x, y)

    def kms_keys(self, fresh: bool = False) -> list[PublicKey]:
        """Every key a configured name points to now, and for each alias the key its
        ``-previous`` alias names (the one a rotation replaced), and those this container saw
        replaced less than a receipt's lifetime ago; each once. ``fresh``: aliases read again."""
        keys: dict[str, PublicKey] = {}
        for name in self._key_ids:
            names = [name] + ([name + PREVIOUS_SUFFIX] if name.startswith("alias/") else [])
            for candidate in names:
                key = self.public_key(candidate, fresh=fresh and candidate.startswith("alias/"),
                                      missing_ok=candidate != name)
                if key is not None:
                    keys.setdefault(key.kid, key)
        now = self._clock()
        with self._lock:
            recent = [key for key, at in self._replaced.values() if now - at < self._ttl]
        for key in recent:
            keys.setdefault(key.kid, key)
        return list(keys.values())

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The KMS keys (``kms_keys``) and, with OTP_RECEIPT_SIGNING=minute_key, the minute keys
        whose receipts may still be unexpired, each certified by one of those KMS keys."""
        # The minute keys first: a certification by a key read since refreshes the KMS keys.
        minute_keys = [] if self._minute_keys is None else self._minute_keys.published(self.kms_keys)
        return {"keys": [key.jwk() for key in self.kms_keys()] + minute_keys}

    def sign(self, *, subject: str, phone_number: str | None, amr: Sequence[str], jti: str,
             now: float, extra_claims: dict[str, Any] | None = None, audience: str | None = None) -> str:
        """A receipt for ``subject``. Raises ReceiptUnavailable when KMS fails. ``audience``
        overrides the deployment's (an app's own, later a Service's)."""
        if not self._key_ids:
            raise ReceiptUnavailable()
        iat = int(now)
        claims: dict[str, Any] = {"iss": self._issuer, "aud": audience or self._audience, "sub": subject}
        if phone_number is not None:
            claims.update(phone_number=phone_number, phone_number_verified=True)
        claims.update(amr=list(amr), jti=jti, iat=iat, exp=iat + self._ttl, **(extra_claims or {}))
        if self._minute_keys is not None:
            # OTP_RECEIPT_SIGNING=minute_key: the minute's own key signs, here (factors/minute_keys.py).
            minute_key = self._minute_keys.signing_key(now)
            header = {"alg": "ES256", "typ": "JWT", "kid": minute_key.public.kid}
            signing_input = _signing_input(header, claims)
            return f"{signing_input}.{b64url(minute_key.sign(signing_input.encode('ascii')))}"
        return self.kms_signed(claims)

    def kms_signed(self, claims: dict[str, Any], typ: str = "JWT") -> str:
        """``claims`` as a compact JWS signed by the receipt key in KMS (a receipt, or a minute
        key's certification: ``typ`` receipt-key+jwt). Raises ReceiptUnavailable."""
        name = self._key_ids[0]
        key = self.public_key(name)
        assert key is not None  # missing_ok is False: a missing key raised
        token, signer = self._signed(name, key, claims, typ)
        if signer != key.key_id:
            # The alias was repointed since this container read it: the header named the old
            # key. Read the alias again and sign with the key it names now, by id, so that the
            # kid is the signer's (KMS Sign answers the KeyId that signed).
            log.warning("receipt key %s now names another key: signing again with it", name)
            key = self.public_key(name, fresh=True)
            assert key is not None
            token, signer = self._signed(key.key_id, key, claims, typ)
            if signer != key.key_id:
                log.error("KMS signed with %s, asked for %s", signer, key.key_id)
                raise ReceiptUnavailable()
        return token

    def _signed(self, key_name: str, key: PublicKey, claims: dict[str, Any], typ: str) -> tuple[str, str]:
        """(the compact JWS, the id of the key that signed it)."""
        signing_input = _signing_input({"alg": "ES256", "typ": typ, "kid": key.kid}, claims)
        answer = self._call(
            "sign", KeyId=key_name, Message=signing_input.encode("ascii"), MessageType="RAW",
            SigningAlgorithm="ECDSA_SHA_256",
        )
        assert answer is not None
        try:
            signature = ecdsa_der_to_raw(answer["Signature"])
        except (DerError, KeyError) as exc:
            log.error("KMS key %s: unexpected signature: %s", key_name, exc)
            raise ReceiptUnavailable() from None
        return f"{signing_input}.{b64url(signature)}", kms_key_id(answer.get("KeyId") or key.key_id)

    def for_verification(self, verification: Any, now: float, audience: str | None = None,
                         test_number: bool = False) -> str | None:
        """The check's receipt, or None when KMS fails: the approval is already written
        (the code is used up), so the check still answers 200 and the app's backend can
        confirm through GET /v1/verifications/{id}; a missing receipt fails closed. A test
        number's receipt says so (``test_number: true``): a backend in production refuses it."""
        if not self.enabled:
            return None
        # An email verification proves an address (OpenID's email and email_verified), never a number.
        email = verification.channel == "email"
        try:
            return self.sign(
                subject=verification.to, phone_number=None if email else verification.to,
                amr=AMR_BY_CHANNEL.get(verification.channel, ("sms",)), jti=verification.id, now=now,
                extra_claims={**(verification.binding.claims() if verification.binding else {}),
                              **({"email": verification.to, "email_verified": True} if email else {}),
                              **({"test_number": True} if test_number else {})},
                audience=audience,
            )
        except ReceiptUnavailable:
            from chalicelib import telemetry

            log.error("receipt not signed for ref=%s: KMS unavailable", log_ref(verification.id))
            telemetry.metric("ReceiptFailures")
            return None

    def _call(self, operation: str, missing_ok: bool = False, **params: Any) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._kms(), operation)(**params)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if missing_ok and code == "NotFoundException":
                return None
            log.error("KMS %s on %s failed: %s", operation, params.get("KeyId"), code)
            raise ReceiptUnavailable() from None
        except BotoCoreError as exc:
            log.error("KMS %s on %s failed: %s", operation, params.get("KeyId"), type(exc).__name__)
            raise ReceiptUnavailable() from None


def _signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return ".".join(b64url(json.dumps(part, separators=(",", ":")).encode("utf-8"))
                    for part in (header, claims))


def signer_from_config(config: Any, kms: Callable[[], Any]) -> ReceiptSigner:
    return ReceiptSigner(kms, config.receipt_key_ids, config.public_url, config.receipt_audience,
                         config.receipt_ttl_seconds)
