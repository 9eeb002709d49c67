"""COSE public keys (RFC 9052/9053, RFC 8230) and the three signature algorithms WebAuthn's
browsers offer: ES256 (-7, ECDSA P-256 with SHA-256), EdDSA (-8, Ed25519) and RS256 (-257,
RSASSA-PKCS1-v1_5 with SHA-256).

Verified in pure Python (the Lambda has no ``cryptography``): ``ecdsa`` for P-256 and Ed25519,
``rsa`` for RSA. Both are imported inside ``verify``, so only a passkey route loads them (the
other routes' cold start: tests/unit/test_imports.py). ``ecdsa`` is not constant-time, which
does not matter here: every input of a verification is public.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from chalicelib.passkeys.cbor import CborError, decode

ES256, EDDSA, RS256 = -7, -8, -257
ALGORITHMS = (ES256, EDDSA, RS256)  # the order offered in pubKeyCredParams
NAMES = {ES256: "ES256", EDDSA: "EdDSA", RS256: "RS256"}
MIN_RSA_BITS = 2048
_KTY_OKP, _KTY_EC2, _KTY_RSA = 1, 2, 3
_CRV_P256, _CRV_ED25519 = 1, 6


class UnsupportedKey(ValueError):
    """The COSE key is not one this service accepts."""


@dataclass(frozen=True)
class PublicKey:
    alg: int
    # EC2: x, y (32 bytes each); OKP: x (32 bytes); RSA: n, e (big-endian)
    x: bytes = b""
    y: bytes = b""
    n: bytes = b""
    e: bytes = b""

    @property
    def name(self) -> str:
        return NAMES[self.alg]

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's over ``data``."""
        if self.alg == ES256:
            return _verify_es256(self, signature, data)
        if self.alg == EDDSA:
            return _verify_eddsa(self, signature, data)
        return _verify_rs256(self, signature, data)


def parse_key(raw: bytes | dict) -> PublicKey:
    """A COSE_Key (its CBOR, or the decoded map) as a PublicKey; the algorithm must be one of
    ALGORITHMS, with the key type and curve it implies."""
    try:
        key = decode(raw) if isinstance(raw, (bytes, bytearray)) else raw
    except CborError as exc:
        raise UnsupportedKey(f"the public key is not CBOR: {exc}") from None
    if not isinstance(key, dict):
        raise UnsupportedKey("the public key is not a COSE map")
    kty, alg = key.get(1), key.get(3)
    if alg == ES256 and kty == _KTY_EC2 and key.get(-1) == _CRV_P256:
        x, y = key.get(-2), key.get(-3)
        if isinstance(x, bytes) and isinstance(y, bytes) and len(x) == len(y) == 32:
            return PublicKey(ES256, x=x, y=y)
    elif alg == EDDSA and kty == _KTY_OKP and key.get(-1) == _CRV_ED25519:
        x = key.get(-2)
        if isinstance(x, bytes) and len(x) == 32:
            return PublicKey(EDDSA, x=x)
    elif alg == RS256 and kty == _KTY_RSA:
        n, e = key.get(-1), key.get(-2)
        if isinstance(n, bytes) and isinstance(e, bytes) and 0 < len(e) <= 8:
            if int.from_bytes(n, "big").bit_length() < MIN_RSA_BITS:
                raise UnsupportedKey(f"an RSA key under {MIN_RSA_BITS} bits")
            return PublicKey(RS256, n=n, e=e)
    else:
        raise UnsupportedKey(f"algorithm {alg!r} with key type {kty!r} is not accepted (ES256, EdDSA, RS256)")
    raise UnsupportedKey(f"a malformed {NAMES[alg]} key")


def _verify_es256(key: PublicKey, signature: bytes, data: bytes) -> bool:
    import ecdsa
    from ecdsa.util import sigdecode_der

    try:
        # from_string checks that the point is on the curve (and not the point at infinity).
        verifier = ecdsa.VerifyingKey.from_string(b"\x04" + key.x + key.y, curve=ecdsa.NIST256p,
                                                  hashfunc=hashlib.sha256)
        return bool(verifier.verify(signature, data, sigdecode=sigdecode_der))
    except (ecdsa.BadSignatureError, ecdsa.der.UnexpectedDER, ecdsa.MalformedPointError, ValueError):
        return False


def _verify_eddsa(key: PublicKey, signature: bytes, data: bytes) -> bool:
    import ecdsa

    if len(signature) != 64:
        return False
    try:
        verifier = ecdsa.VerifyingKey.from_string(key.x, curve=ecdsa.Ed25519)
        return bool(verifier.verify(signature, data))
    except (ecdsa.BadSignatureError, ecdsa.MalformedPointError, ValueError):
        return False


def _verify_rs256(key: PublicKey, signature: bytes, data: bytes) -> bool:
    import rsa

    public = rsa.PublicKey(int.from_bytes(key.n, "big"), int.from_bytes(key.e, "big"))
    try:
        return rsa.verify(data, signature, public) == "SHA-256"  # PKCS#1 v1.5 names its hash
    except (rsa.VerificationError, ValueError, OverflowError):
        return False
