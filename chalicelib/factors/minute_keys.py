"""Receipts past KMS's Sign quota (OTP_RECEIPT_SIGNING=minute_key, docs/scale.md#kms): one ECDSA
P-256 key per stage and minute, shared by every container, so receipts cost no KMS call and the
stage's KMS calls are a few per minute, whatever the approvals' rate.

The first container that needs minute M's key makes it (``cryptography``: OpenSSL's constant-time
P-256; never pure-Python ``ecdsa`` for signing), has its public half certified by one KMS Sign
under the receipt key (a compact JWS, ``typ`` ``receipt-key+jwt``, over the key's thumbprint,
x, y, the minute it signs in and the end of its receipts' lives), wraps the private key with KMS
Encrypt under the stage's symmetric key (the TOTP key, whose quota is the symmetric one; the
encryption context names the purpose, stage and minute, so no other ciphertext of that key opens
as a minute key), and writes one item ``rk#<minute>`` with a conditional write. Every other
container reads that item and decrypts it once per minute; a loser of the creation race gets the
winner's item with its failed write and uses it. A container drops a key from memory when it
takes the key of two minutes later (the one before stays for a request begun across the turn);
keys are made on first use (never at import or init: a SnapStart snapshot holds none, and wiring
clears this cache after a restore). ``cryptography`` is imported here only,
inside the functions that make or open a key: it ships in a layer, never in the API's zip.

The JWKS lists every minute key whose receipts may still be unexpired: one BatchGetItem of the
minutes since ``now - ttl - 60`` (at most 63 items at the largest TTL; the table has no sort key
to Query a range on, and the Attempts index is eventually consistent), each JWK with its KMS
certification as the extra member ``certification`` (RFC 7517 4: unknown members are ignored).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, DynamoDBTable
from chalicelib.factors.receipts import PublicKey, ReceiptUnavailable, b64url, ecdsa_der_to_raw

log = logging.getLogger("verify")

MINUTE = 60
CERTIFICATION_TYPE = "receipt-key+jwt"
PURPOSE = "receipt-minute-key"
_BATCH_LIMIT = 100  # BatchGetItem's keys per call
REREAD_SECONDS = 5  # how stale a container's JWKS may be about the next minute's key
# ... and about the current minute's, before it is listed: a public route reads the table at most
# this often per container while no key of the minute exists (an idle stage, a JWKS flood).
MISSING_REREAD_SECONDS = 1
PREFETCH_RETRY_SECONDS = 5  # after the next minute's key could not be made ahead


def minute_pk(minute: int) -> str:
    return f"rk#{minute}"


@dataclass(frozen=True)
class MinuteKey:
    minute: int
    public: PublicKey
    certification: str  # the KMS-signed compact JWS over the public key
    private: Any = None  # cryptography's EllipticCurvePrivateKey; None: published only

    def jwk(self) -> dict[str, str]:
        return {**self.public.jwk(), "certification": self.certification}

    def sign(self, signing_input: bytes) -> bytes:
        """ES256 over ``signing_input``: JOSE's raw ``R || S`` (OpenSSL's constant-time P-256)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        return ecdsa_der_to_raw(self.private.sign(signing_input, ec.ECDSA(hashes.SHA256())))


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class MinuteKeyStore(DynamoDBTable):
    """The minute keys' items on the stores' table."""

    def create(self, minute: int, attributes: dict[str, Any]) -> dict[str, Any] | None:
        """Writes minute ``minute``'s key; None when it is ours (a retry that finds its own
        token is ours too), else the winner's raw item."""
        # Condition: no key for this minute yet. Two containers racing for one minute: one
        # write lands, the other's fails and returns the winner's item (no second read).
        names = sorted(attributes)  # as #names: some (blob) are DynamoDB's reserved words
        sets = "SET " + ", ".join(f"#{name} = :{name}" for name in names)
        try:
            self._update(minute_pk(minute), sets, "attribute_not_exists(pk)",
                         {f":{name}": attributes[name] for name in names},
                         names={f"#{name}": name for name in names}, token=True)
        except ConditionFailed as exc:
            return exc.item
        return None

    def read(self, minute: int) -> dict[str, Any] | None:
        return self._get(minute_pk(minute))

    def read_range(self, first: int, last: int) -> list[dict[str, Any]]:
        """The items of minutes ``first`` to ``last``, consistent (a key written a moment ago
        is published), in BatchGetItem calls of at most 100 keys."""
        minutes = list(range(first, last + 1))
        found: list[dict[str, Any]] = []
        for start in range(0, len(minutes), _BATCH_LIMIT):
            keys = [{"pk": {"S": minute_pk(m)}} for m in minutes[start:start + _BATCH_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            for _ in range(5):  # unprocessed keys (throttling) are asked again, a bounded number of times
                try:  # not self._call: BatchGetItem names its tables in RequestItems
                    answer = self._client.batch_get_item(RequestItems=request)
                except self._botocore_errors as exc:
                    raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
                found.extend(answer.get("Responses", {}).get(self._table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise StoreUnavailable("DynamoDB batch_get_item left keys unprocessed")
        return found


class MinuteKeys:
    """The stage's minute keys for one container: the one that signs now, and those published.

    ``kms`` a zero-argument factory of the KMS client; ``certify(claims)`` the compact JWS that
    the receipt key (KMS) signs over ``claims``; ``wrap_key_id`` the symmetric key that wraps
    the private halves. ``prefetch_at``: seconds into a minute from which the next minute's key
    is made (or read) ahead, so that at a minute's turn most containers already hold it and
    few race to make it (chosen at random per container between 30 and 55 by default).
    """

    def __init__(self, store: MinuteKeyStore, kms: Callable[[], Any],
                 certify: Callable[[dict[str, Any]], str], *, wrap_key_id: str, stage: str,
                 issuer: str, ttl_seconds: int, clock: Callable[[], float] = time.time,
                 prefetch_at: float | None = None) -> None:
        self._store = store
        self._kms = kms
        self._certify = certify
        self._wrap_key_id = wrap_key_id
        self._stage = stage
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._clock = clock
        self._prefetch_at = 30 + secrets.randbelow(26) if prefetch_at is None else prefetch_at
        self._keys: dict[int, MinuteKey] = {}
        # (minute, JWKs, read at (monotonic), how long that reading holds)
        self._published: tuple[int, list[dict[str, str]], float, float] | None = None
        self._monotonic = time.monotonic
        self._prefetch_again_at = 0.0
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop every key held (SnapStart's after-restore hook, chalicelib/wiring.py)."""
        with self._lock:
            self._keys.clear()
            self._published = None

    # -- signing -------------------------------------------------------------------------

    def signing_key(self, now: float) -> MinuteKey:
        """The key of ``now``'s minute (made, or read and decrypted, once per container and
        minute); from ``prefetch_at`` on, the next minute's too. Raises ReceiptUnavailable."""
        minute = int(now // MINUTE)
        key = self._held(minute)
        if now - minute * MINUTE >= self._prefetch_at and minute + 1 not in self._keys \
                and self._monotonic() >= self._prefetch_again_at:
            try:
                self._held(minute + 1)
            except ReceiptUnavailable:
                # Not tried again by every receipt that follows: the minute's own key still signs.
                self._prefetch_again_at = self._monotonic() + PREFETCH_RETRY_SECONDS
                log.warning("the next minute's receipt key could not be made ahead")
        return key

    def _held(self, minute: int) -> MinuteKey:
        key = self._keys.get(minute)
        if key is not None:
            return key
        with self._lock:  # one container makes or opens a minute's key once, whatever its threads
            key = self._keys.get(minute)
            if key is None:
                key = self._obtain(minute)
                self._keys = {m: k for m, k in self._keys.items() if m >= minute - 1}
                self._keys[minute] = key
                self._published = None  # this container's JWKS lists it from now on
        return key

    def _obtain(self, minute: int) -> MinuteKey:
        try:
            item = self._store.read(minute)
            if item is not None:
                return self._open(minute, item)
            key, attributes = self._make(minute)
            winner = self._store.create(minute, attributes)
        except StoreUnavailable as exc:
            log.error("receipt minute key %s: %s", minute, exc)
            raise ReceiptUnavailable() from None
        if winner is not None:
            return self._open(minute, winner)  # another container made it first
        return key

    def _context(self, minute: int) -> dict[str, str]:
        return {"purpose": PURPOSE, "stage": self._stage, "minute": str(minute)}

    def _make(self, minute: int) -> tuple[MinuteKey, dict[str, Any]]:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        private = ec.generate_private_key(ec.SECP256R1())
        numbers = private.public_key().public_numbers()
        public = PublicKey(f"minute#{minute}", numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))
        starts, ends = minute * MINUTE, (minute + 1) * MINUTE
        certification = self._certify({
            "iss": self._issuer, "sub": public.kid, "crv": "P-256", "x": b64url(public.x),
            "y": b64url(public.y), "nbf": starts, "signs_until": ends, "exp": ends + self._ttl,
        })
        der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        wrapped = self._kms_call("encrypt", KeyId=self._wrap_key_id, Plaintext=der,
                                 EncryptionContext=self._context(minute))["CiphertextBlob"]
        attributes = {"kx": b64url(public.x), "ky": b64url(public.y), "cert": certification,
                      "blob": b64url(wrapped), "expires_at": ends + self._ttl + MINUTE}
        return MinuteKey(minute, public, certification, private), attributes

    def _open(self, minute: int, item: dict[str, Any]) -> MinuteKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        published = self._published_key(minute, item)
        if published is None or "blob" not in item:
            log.error("receipt minute key %s: the item is not a key", minute)
            raise ReceiptUnavailable()
        der = self._kms_call("decrypt", KeyId=self._wrap_key_id, CiphertextBlob=_unb64(item["blob"]["S"]),
                             EncryptionContext=self._context(minute))["Plaintext"]
        private = serialization.load_der_private_key(der, password=None)
        point = None
        if isinstance(private, ec.EllipticCurvePrivateKey):
            numbers = private.public_key().public_numbers()
            point = (numbers.x.to_bytes(32, "big"), numbers.y.to_bytes(32, "big"))
        if point != (published.public.x, published.public.y):
            log.error("receipt minute key %s: the private key is not the published one", minute)
            raise ReceiptUnavailable()
        return MinuteKey(minute, published.public, published.certification, private)

    @staticmethod
    def _published_key(minute: int, item: dict[str, Any]) -> MinuteKey | None:
        try:
            x, y = _unb64(item["kx"]["S"]), _unb64(item["ky"]["S"])
            certification = item["cert"]["S"]
        except (KeyError, TypeError, ValueError):
            return None
        if len(x) != 32 or len(y) != 32:
            return None
        return MinuteKey(minute, PublicKey(f"minute#{minute}", x, y), certification)

    def _kms_call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer: dict[str, Any] = getattr(self._kms(), operation)(**params)
            return answer
        except ClientError as exc:
            log.error("KMS %s on %s failed: %s", operation, params.get("KeyId"),
                      exc.response.get("Error", {}).get("Code"))
        except BotoCoreError as exc:
            log.error("KMS %s on %s failed: %s", operation, params.get("KeyId"), type(exc).__name__)
        raise ReceiptUnavailable() from None

    # -- publishing ----------------------------------------------------------------------

    def published(self, certifiers: Callable[[bool], list[PublicKey]]) -> list[dict[str, str]]:
        """The JWKs (each with its ``certification``) of every minute key whose receipts may
        still be unexpired, and the next minute's when it was made ahead; only those that one
        of ``certifiers(fresh)`` (the KMS receipt keys) certified, so that an item written into
        the table by anyone else is never published (a certification by a key this container
        does not know yet, another container's after a rotation, reads the aliases again once).
        Read again every MISSING_REREAD_SECONDS until the current minute's key is among them
        (and at once after this container made or opened a key), then every REREAD_SECONDS until
        the next minute's is listed too (made ahead, it is published within those seconds), then
        not until the minute ends: at most one key a minute exists, so once both are listed
        nothing is missed."""
        now = self._clock()
        minute = int(now // MINUTE)
        cached = self._published
        if cached is not None and cached[0] == minute and self._monotonic() - cached[2] < cached[3]:
            return cached[1]
        # A key of minute m signs until (m + 1) * 60; its receipts live ttl seconds more.
        first = int((now - self._ttl - MINUTE) // MINUTE) + 1
        try:
            items = self._store.read_range(first, minute + 1)
        except StoreUnavailable as exc:
            log.error("receipt minute keys: %s", exc)
            raise ReceiptUnavailable() from None
        keys, trusted, refreshed = [], certifiers(False), False
        for item in items:
            pk = item.get("pk", {}).get("S", "")
            try:
                key_minute = int(pk.removeprefix("rk#"))
            except ValueError:
                continue
            key = self._published_key(key_minute, item)
            if key is None or (key_minute + 1) * MINUTE + self._ttl <= now:
                continue
            if not certified(key, trusted, self._issuer, now) and not refreshed \
                    and _certifier_kid(key.certification) not in {c.kid for c in trusted}:
                trusted, refreshed = certifiers(True), True
            if not certified(key, trusted, self._issuer, now):
                log.error("receipt minute key %s: not certified by a receipt key, not published", key_minute)
                continue
            keys.append((key_minute, key.jwk()))
        jwks = [jwk for _, jwk in sorted(keys, key=lambda pair: pair[0])]
        listed = {m for m, _ in keys}
        holds = MISSING_REREAD_SECONDS if minute not in listed else \
            REREAD_SECONDS if minute + 1 not in listed else float("inf")
        self._published = (minute, jwks, self._monotonic(), holds)
        return jwks


def _certifier_kid(certification: str) -> object:
    try:
        header = json.loads(_unb64(certification.split(".")[0]))
    except ValueError:
        return None
    return header.get("kid") if isinstance(header, dict) else None


def certified(key: MinuteKey, certifiers: list[PublicKey], issuer: str, now: float) -> bool:
    """Whether ``key.certification`` is a certification of this very key, for its own minute,
    by this issuer, signed by one of ``certifiers`` and still valid (the strict consumer's check,
    docs/receipts.md, made before publishing)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        head, body, signature = key.certification.split(".")
        header, claims = json.loads(_unb64(head)), json.loads(_unb64(body))
        raw = _unb64(signature)
    except ValueError:
        return False
    if not isinstance(header, dict) or not isinstance(claims, dict) or len(raw) != 64:
        return False
    signer = next((c for c in certifiers if c.kid == header.get("kid")), None)
    expected = {"iss": issuer, "sub": key.public.kid, "crv": "P-256", "x": b64url(key.public.x),
                "y": b64url(key.public.y), "nbf": key.minute * MINUTE,
                "signs_until": (key.minute + 1) * MINUTE}
    if signer is None or header.get("alg") != "ES256" or header.get("typ") != CERTIFICATION_TYPE \
            or any(claims.get(name) != value for name, value in expected.items()) \
            or not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
        return False
    numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(signer.x, "big"), int.from_bytes(signer.y, "big"),
                                            ec.SECP256R1())
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        numbers.public_key().verify(der, f"{head}.{body}".encode("ascii"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
