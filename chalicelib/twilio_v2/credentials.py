"""The third door: HTTP Basic as Twilio's SDKs send it, with an API key (``SK`` SID + secret)
or with the account SID and its auth token (``Client(account_sid, auth_token)``).

Keys live in one item, ``pk = "v2#keys"``, one attribute per key (``k_<sid>``: name, created
and revoked times, the Services it is limited to (none: all), and ``HMAC(identity key, sid,
secret)``, never the secret), so listing them is one GetItem and no scan.

The auth token is derived, never stored: ``HMAC(identity key, "auth-token", generation)``, 32
hex characters (Twilio's shape; 128 bits). The same item keeps which generations are live: a
primary and, while a rotation is under way, a secondary (Twilio's "promote"), and the highest
generation ever issued, so a revoked token never comes back. The service can recompute its
token to sign webhooks as Twilio does (``twilio_signature``); nothing at rest can be stolen,
and rotating the identity key changes the token as it voids the API keys.

A container re-reads the item at most once per ``CACHE_SECONDS``: a revoked key or token is
refused everywhere within that bound. An unknown key SID (or a token no live generation
gives) re-reads it at most once per ``MISS_REFRESH_SECONDS`` (a credential made moments ago
works), and never for a source that has failed too often: a flood of wrong credentials costs
no table reads, and a good credential is checked first, so the flood cannot lock it out.
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
from typing import Any, Callable

from chalicelib.dynamodb import ConditionFailed, DynamoDBTable
from chalicelib.networks import count_key

CACHE_SECONDS = 30.0
MISS_REFRESH_SECONDS = 1.0
FAILURES_PER_MINUTE = 30  # per source and container: beyond it, failures stop re-reading keys
PK = "v2#keys"
SECRET_LENGTH = 40  # alphanumeric (twilio-go refuses anything else): 40 * log2(62) ~ 238 bits
_ALPHABET = string.ascii_letters + string.digits
_KEY_SID = re.compile(r"SK[0-9a-f]{32}", re.ASCII)
_ACCOUNT_SID = re.compile(r"AC[0-9a-f]{32}", re.ASCII)
SERVICE_SID = re.compile(r"VA[0-9a-f]{32}", re.ASCII)
_TOKENS = ("auth_primary", "auth_secondary", "auth_issued")  # the keys item's attributes


@dataclass(frozen=True)
class ApiKey:
    sid: str
    name: str
    mac: str
    created_at: int
    revoked_at: int | None = None
    services: frozenset[str] | None = None  # None: every Service (an extension of Twilio's keys)


@dataclass(frozen=True)
class AuthTokens:
    """The live generations of the account's auth token (None: none)."""

    primary: int | None = None
    secondary: int | None = None
    issued: int = 0  # the highest generation ever issued


@dataclass(frozen=True)
class Credentials:
    keys: dict[str, ApiKey]
    tokens: AuthTokens = AuthTokens()


@dataclass(frozen=True)
class Principal:
    """Who a request authenticated as: an API key's SID or the account SID (the auth token),
    and the Services it may act on (None: every Service)."""

    sid: str
    services: frozenset[str] | None = None

    def may(self, service_sid: str | None) -> bool:
        return self.services is None or service_sid in self.services


class TokenStateChanged(Exception):
    """The auth token's state is not what the change needs (or changed meanwhile)."""


def new_secret() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_LENGTH))


class ApiKeyStore(DynamoDBTable):
    def load(self) -> Credentials:
        """The keys and the auth token's generations: one consistent GetItem."""
        item = self._get(PK) or {}
        keys = {}
        for name, value in item.items():
            if name.startswith("k_") and "M" in value:
                m = value["M"]
                revoked = m.get("revoked_at", {}).get("N")
                services = m.get("services", {}).get("SS")
                keys[name[2:]] = ApiKey(name[2:], m["name"]["S"], m["mac"]["S"], int(m["created_at"]["N"]),
                                        int(revoked) if revoked is not None else None,
                                        frozenset(services) if services is not None else None)
        return Credentials(keys, _tokens(item))

    def create(self, key: ApiKey) -> None:
        # A new random SID: the condition only refuses a (never expected) collision; a
        # retried write after a lost answer finds its own key there and is our success.
        try:
            self._call("update_item", pk=PK, Key={"pk": {"S": PK}}, UpdateExpression="SET #k = :key",
                       ConditionExpression="attribute_not_exists(#k)",
                       ExpressionAttributeNames={"#k": "k_" + key.sid},
                       ExpressionAttributeValues={":key": {"M": _key_value(key)}},
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


    # -- the auth token: each change one conditional write on the state it was read in, made
    # idempotent (``token=True``): a retry after a lost answer is the success it was.

    def create_token(self) -> int:
        """The first primary (or the next after a revoke): its generation."""
        state = self.load().tokens
        if state.primary is not None or state.secondary is not None:
            raise TokenStateChanged("the account already has an auth token: rotate makes another")
        generation = state.issued + 1
        self._change("SET auth_primary = :g, auth_issued = :g",
                     "attribute_not_exists(auth_primary) AND attribute_not_exists(auth_secondary)", state,
                     {":g": generation})
        return generation

    def rotate_token(self) -> int:
        """A secondary, accepted beside the primary until promote or revoke: its generation."""
        state = self.load().tokens
        if state.primary is None:
            raise TokenStateChanged("the account has no auth token: create makes one")
        if state.secondary is not None:
            raise TokenStateChanged("a rotation is under way: promote the secondary or revoke it first")
        generation = state.issued + 1
        self._change("SET auth_secondary = :g, auth_issued = :g",
                     "auth_primary = :p AND attribute_not_exists(auth_secondary)", state,
                     {":g": generation, ":p": state.primary})
        return generation

    def promote_token(self) -> None:
        """The secondary becomes the primary; the old primary stops working."""
        state = self.load().tokens
        if state.secondary is None:
            raise TokenStateChanged("no rotation is under way: rotate makes a secondary first")
        self._change("SET auth_primary = :s REMOVE auth_secondary", "auth_secondary = :s", state,
                     {":s": state.secondary})

    def revoke_token(self, secondary_only: bool) -> list[str]:
        """The secondary, or every live token (the primary and a secondary): what ended."""
        state = self.load().tokens
        if secondary_only:
            if state.secondary is None:
                raise TokenStateChanged("the account has no secondary auth token")
            self._change("REMOVE auth_secondary", "auth_secondary = :s", state, {":s": state.secondary})
            return ["secondary"]
        if state.primary is None:
            raise TokenStateChanged("the account has no auth token")
        self._change("REMOVE auth_primary, auth_secondary", "auth_primary = :p", state, {":p": state.primary})
        return ["primary"] + (["secondary"] if state.secondary is not None else [])

    def _change(self, update: str, condition: str, state: AuthTokens, values: dict[str, Any]) -> None:
        issued = "auth_issued = :issued" if state.issued else "attribute_not_exists(auth_issued)"
        if state.issued:
            values = {**values, ":issued": state.issued}
        try:
            self._update(PK, update, f"{condition} AND {issued}", values, token=True)
        except ConditionFailed:
            raise TokenStateChanged("the auth token changed meanwhile: run the command again") from None


def _key_value(key: ApiKey) -> dict[str, Any]:
    value: dict[str, Any] = {"name": {"S": key.name}, "mac": {"S": key.mac},
                             "created_at": {"N": str(key.created_at)}}
    if key.services is not None:
        value["services"] = {"SS": sorted(key.services)}  # a non-empty set (DynamoDB refuses an empty one)
    return value


def _tokens(item: dict[str, Any]) -> AuthTokens:
    primary, secondary, issued = (item.get(name, {}).get("N") for name in _TOKENS)
    return AuthTokens(int(primary) if primary else None, int(secondary) if secondary else None,
                      int(issued) if issued else 0)


class Authenticator:
    def __init__(self, store: ApiKeyStore, mac: Callable[[str, str], str],
                 monotonic: Callable[[], float] = time.monotonic, *,
                 token: Callable[[int], str] | None = None, account_sid: str = "") -> None:
        self._store = store
        self._mac = mac
        self._token = token  # the auth token of a generation (CodeHasher.auth_token); None: none
        self._account_sid = account_sid
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._credentials = Credentials({})
        self._loaded_at: float | None = None
        self._failures: dict[str, tuple[int, int]] = {}  # source -> (minute, count)

    def authenticate(self, authorization: str | None, source: str) -> Principal | None:
        """Who the header's credentials are (a live key and its secret, or the account SID and
        a live auth token); None otherwise (the caller answers 20003, saying nothing of which
        part was wrong)."""
        source = count_key(source)  # a /64 is one source (chalicelib/networks.py)
        credentials = _basic(authorization)
        if credentials is not None:
            sid, secret = credentials
            refresh = not self._failing(source)
            principal = (self._account if sid.startswith("AC") else self._key)(sid, secret, refresh)
            if principal is not None:
                return principal
        self._count_failure(source)
        return None

    def signing_token(self) -> str | None:
        """The primary auth token, to sign webhooks as Twilio does (``twilio_signature``)."""
        primary = self._current(refresh=False).tokens.primary
        return self._token(primary) if primary is not None and self._token is not None else None

    def has_signing_token(self) -> bool:
        """The account has a primary auth token now (one consistent read, not the cache: a
        Webhook's create asks, moments after `make auth-token` perhaps)."""
        return self._token is not None and self._store.load().tokens.primary is not None

    def _key(self, sid: str, secret: str, refresh_on_miss: bool) -> Principal | None:
        known = sid in self._current(refresh=False).keys
        key = self._current(refresh=refresh_on_miss and not known).keys.get(sid)
        expected = key.mac if key is not None else "0" * 64
        if hmac.compare_digest(self._mac(sid, secret).encode(), expected.encode()) and key is not None \
                and key.revoked_at is None:
            return Principal(sid, key.services)
        return None

    def _account(self, sid: str, secret: str, refresh_on_miss: bool) -> Principal | None:
        if self._token is None or not hmac.compare_digest(sid.encode(), self._account_sid.encode()):
            return None
        if self._token_matches(self._current(refresh=False).tokens, secret) or (
                refresh_on_miss and self._token_matches(self._current(refresh=True).tokens, secret)):
            return Principal(sid)
        return None

    def _token_matches(self, tokens: AuthTokens, secret: str) -> bool:
        assert self._token is not None
        matches = False
        for generation in (tokens.primary, tokens.secondary):  # both compared, whichever matches
            expected = self._token(generation) if generation is not None else "-" * 32
            matches |= hmac.compare_digest(expected.encode(), secret.encode()) and generation is not None
        return matches

    def _current(self, refresh: bool) -> Credentials:
        """The cached credentials, re-read past CACHE_SECONDS, or (``refresh``: a credential
        not in the cache, perhaps made moments ago) past MISS_REFRESH_SECONDS."""
        age = self._age()
        if age >= CACHE_SECONDS or (refresh and age > MISS_REFRESH_SECONDS):
            loaded = self._store.load()
            with self._lock:
                self._credentials, self._loaded_at = loaded, self._monotonic()
        return self._credentials

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
    known = _KEY_SID.fullmatch(sid) or _ACCOUNT_SID.fullmatch(sid)
    if not colon or not known or not secret or len(secret) > 256:
        return None
    return sid, secret


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature as Twilio computes it for a webhook: base64(HMAC-SHA1(auth token,
    URL + each POST parameter's name and value, sorted by name))
    (https://www.twilio.com/docs/usage/security#validating-requests)."""
    import hashlib

    payload = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()).decode()
