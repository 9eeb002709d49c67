"""The third door: HTTP Basic with an API key (``SK`` SID + secret), as Twilio's SDKs send it.

Keys live in one item, ``pk = "v2#keys"``, one attribute per key (``k_<sid>``: name, created
and revoked times, and ``HMAC(server secret, sid, secret)``, never the secret), so listing
them is one GetItem and no scan. A container re-reads the item at most once per
``CACHE_SECONDS``: a revoked key is refused everywhere within that bound. An unknown SID
re-reads it at most once per ``MISS_REFRESH_SECONDS`` (a key created moments ago works), and
never for a source that has failed too often: a flood of wrong credentials costs no table
reads, and a good key is checked first, so the flood cannot lock it out.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Callable

from chalicelib.dynamodb import ConditionFailed, _DynamoDBTable
from chalicelib.networks import count_key

CACHE_SECONDS = 30.0
MISS_REFRESH_SECONDS = 1.0
FAILURES_PER_MINUTE = 30  # per source and container: beyond it, failures stop re-reading keys
PK = "v2#keys"
SECRET_LENGTH = 40  # alphanumeric (twilio-go refuses anything else): 40 * log2(62) ~ 238 bits
_ALPHABET = string.ascii_letters + string.digits
_KEY_SID = re.compile(r"SK[0-9a-f]{32}", re.ASCII)


@dataclass(frozen=True)
class ApiKey:
    sid: str
    name: str
    mac: str
    created_at: int
    revoked_at: int | None = None


def new_secret() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


class ApiKeyStore(_DynamoDBTable):
    def load(self) -> dict[str, ApiKey]:
        keys = {}
        for name, value in (self._get(PK) or {}).items():
            if name.startswith("k_") and "M" in value:
                m = value["M"]
                revoked = m.get("revoked_at", {}).get("N")
                keys[name[2:]] = ApiKey(name[2:], m["name"]["S"], m["mac"]["S"], int(m["created_at"]["N"]),
                                        int(revoked) if revoked is not None else None)
        return keys

    def create(self, key: ApiKey) -> None:
        # A new random SID: the condition only refuses a (never expected) collision; a
        # retried write after a lost answer finds its own key there and is our success.
        try:
            self._call("update_item", pk=PK, Key={"pk": {"S": PK}}, UpdateExpression="SET #k = :key",
                       ConditionExpression="attribute_not_exists(#k)",
                       ExpressionAttributeNames={"#k": "k_" + key.sid},
                       ExpressionAttributeValues={":key": {"M": {
                           "name": {"S": key.name}, "mac": {"S": key.mac},
                           "created_at": {"N": str(key.created_at)}}}},
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed as exc:
            if (exc.item or {}).get("k_" + key.sid, {}).get("M", {}).get("mac", {}).get("S") != key.mac:
                raise

    def revoke(self, sid: str, now: int) -> bool:
        """False: no such key. Revoking twice (or a retried revoke) keeps the first time."""
        try:
            self._update(PK, "SET #k.revoked_at = if_not_exists(#k.revoked_at, :now)", "attribute_exists(#k)",
                         {":now": now}, names={"#k": "k_" + sid})
        except ConditionFailed:
            return False
        return True


class Authenticator:
    def __init__(self, store: ApiKeyStore, mac: Callable[[str, str], str],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._mac = mac
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, ApiKey] = {}
        self._loaded_at: float | None = None
        self._failures: dict[str, tuple[int, int]] = {}  # source -> (minute, count)

    def authenticate(self, authorization: str | None, source: str) -> str | None:
        """The key's SID if the header carries a live key and its secret; None otherwise
        (the caller answers 20003, saying nothing of which part was wrong)."""
        source = count_key(source)  # a /64 is one source (chalicelib/networks.py)
        credentials = _basic(authorization)
        if credentials is not None:
            sid, secret = credentials
            key = self._key(sid, refresh_on_miss=not self._failing(source))
            expected = key.mac if key is not None else "0" * 64
            if hmac.compare_digest(self._mac(sid, secret).encode(), expected.encode()) and key is not None \
                    and key.revoked_at is None:
                return sid
        self._count_failure(source)
        return None

    def _key(self, sid: str, refresh_on_miss: bool) -> ApiKey | None:
        age = self._age()
        if age >= CACHE_SECONDS or (sid not in self._keys and refresh_on_miss and age > MISS_REFRESH_SECONDS
                                    and _KEY_SID.fullmatch(sid)):
            keys = self._store.load()
            with self._lock:
                self._keys, self._loaded_at = keys, self._monotonic()
        return self._keys.get(sid)

    def _age(self) -> float:
        return float("inf") if self._loaded_at is None else self._monotonic() - self._loaded_at

    def _failing(self, source: str) -> bool:
        minute, count = self._failures.get(source, (-1, 0))
        return minute == int(self._monotonic() // 60) and count >= FAILURES_PER_MINUTE

    def _count_failure(self, source: str) -> None:
        from chalicelib import telemetry

        telemetry.metric("AuthenticationFailures")
        now_minute = int(self._monotonic() // 60)
        with self._lock:
            minute, count = self._failures.get(source, (now_minute, 0))
            if len(self._failures) > 10_000:  # bounded memory under a spread-out flood
                self._failures.clear()
            self._failures[source] = (now_minute, count + 1 if minute == now_minute else 1)


def _basic(authorization: str | None) -> tuple[str, str] | None:
    if not authorization or not authorization[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    sid, colon, secret = decoded.partition(":")
    if not colon or not _KEY_SID.fullmatch(sid) or not secret or len(secret) > 256:
        return None
    return sid, secret
