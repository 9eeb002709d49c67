"""Passkey factors' use cases, for both dialects (v1's page routes and /v2's Passkeys routes):
register (creation options), verify the registration, challenge (request options), approve.

Each challenge carries what finds it, then fresh randomness (VerifyFactor and ApproveChallenge
name nothing else):

    registration  0x01 | identity key (16) | factor SID's 16 bytes | random (16)
    sign-in       0x02 | identity key (16) | challenge SID's 16 bytes | random (16)
    discoverable  0x03 | its item's key (16) | random (16)

so the answer's clientDataJSON leads to one GetItem (the identity's item; a discoverable one:
its own item, spent, then the identity named by the assertion's userHandle, the entity SID
the creation options gave as user.id). The whole challenge is compared, in constant time,
with the one stored; single use and expiry are the writes' conditions (chalicelib/passkeys/store.py).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import replace
from typing import Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.dynamodb import ConditionFailed
from chalicelib.passkeys import cose
from chalicelib.passkeys.models import (
    MAX_CHALLENGES,
    PENDING,
    UNVERIFIED,
    VERIFIED,
    Approval,
    ChallengeNotFound,
    CounterWentBack,
    NoPasskey,
    Passkey,
    PasskeyItem,
    PasskeyRefused,
    ReceiptUsed,
    RelyingParty,
    SignInChallenge,
    TooManyPasskeys,
    creation_options,
    entity_key,
    receipt_attribute,
    request_options,
    to_item,
)
from chalicelib.passkeys.store import DynamoDBPasskeyStore
from chalicelib.passkeys.webauthn import (
    CREATE,
    GET,
    CeremonyRefused,
    CounterRegressed,
    client_data,
    credential_id,
    verify_assertion,
    verify_registration,
)

log = logging.getLogger("verify")
_REGISTRATION, _SIGN_IN, _OPEN = 1, 2, 3
MAX_DECISIONS = 5  # an approval decided again after a concurrent one moved the counter


class PasskeyService:
    def __init__(
        self,
        store: DynamoDBPasskeyStore,
        identity_key: Callable[[str], str],
        *,
        ttl_seconds: int,
        max_factors: int,
        clock: Callable[[], float] = time.time,
        scope: str | None = None,
    ) -> None:
        self._store = store
        self._identity_key = identity_key
        self._ttl = ttl_seconds
        self._max = max_factors
        self._clock = clock
        self._scope = scope  # the v2 Service whose passkeys these are; None: the default Service (v1)

    def for_scope(self, scope: str | None) -> PasskeyService:
        return PasskeyService(
            self._store,
            self._identity_key,
            ttl_seconds=self._ttl,
            max_factors=self._max,
            clock=self._clock,
            scope=scope,
        )

    def now(self) -> float:
        return self._clock()

    def identity_key(self, identity: str) -> str:
        return self._identity_key(identity)

    def load(self, identity: str) -> PasskeyItem:
        return self._ours(self._store.load(self._identity_key(identity)))

    def _ours(self, item: PasskeyItem) -> PasskeyItem:
        return item if item.service == self._scope else PasskeyItem(None, self._scope, {}, {})

    # -- registration -----------------------------------------------------------------------

    def register(
        self,
        identity: str,
        user_name: str,
        label: str,
        rp: RelyingParty,
        *,
        receipt: tuple[str, int] | None = None,
        entity: bool = False,
    ) -> tuple[Passkey, dict[str, Any]]:
        """An unverified passkey and the creation options for navigator.credentials.create().
        ``receipt`` (jti, expiry): the verification's receipt this registration spends."""
        key = self._identity_key(identity)
        now = int(self._clock())
        for _ in range(MAX_DECISIONS):
            item = self.load(identity)
            if receipt is not None and receipt_attribute(receipt[0]) in item.receipts:
                raise ReceiptUsed()
            sid = secrets.token_bytes(16)
            challenge = bytes([_REGISTRATION]) + bytes.fromhex(key) + sid + secrets.token_bytes(16)
            passkey = Passkey(
                id="YF" + sid.hex(),
                status=UNVERIFIED,
                label=label,
                rp_id=rp.id,
                created_at=now,
                origins=tuple(sorted(rp.origins)),
                expires_at=now + self._ttl,
                challenge=challenge,
                user_verification=rp.user_verification,
            )
            prune = [p.id for p in item.passkeys.values() if not p.live(now)]
            gone = [name for name, exp in item.receipts.items() if exp <= now]
            # v2's factor SID names its item (a Challenge may give factor_sid alone): its lookup
            # goes out with the factor's write, in the same wave (an orphan if that is refused).
            link = None
            if entity:
                link = concurrency.submit(self._store.link_sid, passkey.id, key, self._scope, None)
            try:
                self._store.add(
                    key,
                    identity,
                    passkey,
                    max_factors=self._max,
                    scope=self._scope,
                    receipt=receipt,
                    prune=prune,
                    receipts_gone=gone,
                    entity=entity,
                    now=now,
                )
            except ConditionFailed as exc:
                if link is not None:
                    concurrency.wait_quietly(link)
                after = self._ours_raw(exc.item)
                if receipt is not None and receipt_attribute(receipt[0]) in after.receipts:
                    raise ReceiptUsed() from None
                if exc.item and exc.item.get("service", {}).get("S") != self._scope:
                    raise errors.FactorNotFound() from None  # another Service's identity key: never here
                if len([p for p in after.passkeys.values() if p.live(now)]) >= self._max:
                    raise TooManyPasskeys() from None
                continue  # a pruned passkey changed meanwhile: decide again
            concurrency.settle(link)
            telemetry.metric("PasskeyRegistrations")
            return passkey, creation_options(passkey, item, rp, "YE" + key, user_name, self._ttl)
        raise errors.ServiceUnavailable(retry_after=1)

    def verify_registration(self, credential: Any, rp: RelyingParty | None = None,
                            gate: Callable[[], None] = lambda: None) -> tuple[str, Passkey]:
        """(identity, the verified passkey) for a create() result. ``rp`` None: the relying
        party the passkey was registered for (v2's VerifyFactor names none); ``gate`` as
        ``approve``'s."""
        try:
            client = client_data(credential, CREATE)
        except CeremonyRefused as exc:
            raise PasskeyRefused(exc) from None
        found = _parse(client.challenge, _REGISTRATION)
        if found is None:
            raise ChallengeNotFound()
        key, sid = found
        item = self._ours(self._store.load(key))
        now = int(self._clock())
        passkey = item.passkeys.get("YF" + sid.hex())
        if passkey is None or passkey.status != UNVERIFIED or not passkey.live(now):
            raise ChallengeNotFound()
        rp = rp or _registered_rp(passkey)
        if passkey.rp_id != rp.id:
            raise ChallengeNotFound()
        try:
            new = verify_registration(
                credential,
                challenge=passkey.challenge,
                origins=rp.origins,
                rp_id=rp.id,
                user_verification=passkey.user_verification,
            )
        except CeremonyRefused as exc:
            log.info("passkey registration refused check=%s", exc.check)
            raise PasskeyRefused(exc) from None
        if item.by_credential(new.credential_id) is not None:
            raise PasskeyRefused(CeremonyRefused("credential", "this passkey is registered already"))
        verified = replace(
            passkey,
            status=VERIFIED,
            credential_id=new.credential_id,
            public_key=new.public_key,
            algorithm=new.algorithm,
            sign_count=new.sign_count,
            transports=new.transports,
            bound_at=now,
            user_verified=new.user_verified,
            backup_eligible=new.backup_eligible,
            backed_up=new.backed_up,
            attachment=new.attachment,
            expires_at=None,
        )
        gate()
        try:
            self._store.verify(key, verified, now, self._scope)
        except ConditionFailed:
            raise ChallengeNotFound() from None  # answered already (a replay) or expired meanwhile
        log.info("passkey registered factor=%s alg=%s", verified.id[-16:], cose.NAMES[new.algorithm])
        return item.identity or "", verified

    # -- sign-in ----------------------------------------------------------------------------

    def challenge(
        self, identity: str | None, factor_id: str | None, rp: RelyingParty | None
    ) -> tuple[SignInChallenge, list[Passkey], dict[str, Any]]:
        """(the challenge, the passkeys it allows, request options). ``identity`` None:
        discoverable (allowCredentials empty, the browser offers its own); ``rp`` None: the
        passkeys' own relying party (v2), which a discoverable challenge must name."""
        now = int(self._clock())
        expires = now + self._ttl
        if identity is None:
            key = secrets.token_bytes(16)
            raw = bytes([_OPEN]) + key + secrets.token_bytes(16)
            if rp is None:
                raise ValueError("a discoverable challenge names its relying party")
            self._store.put_open_challenge(key.hex(), raw, rp.user_verification, expires, self._scope)
            opened = SignInChallenge("YC" + key.hex(), raw, "", PENDING, now, expires, rp.user_verification)
            return opened, [], request_options(raw, [], rp, self._ttl)
        identity_key = self._identity_key(identity)
        item = self.load(identity)
        allowed = [p for p in item.passkeys.values() if p.status == VERIFIED and factor_id in (None, p.id)]
        if not allowed:
            raise NoPasskey()
        rp = rp or _registered_rp(allowed[0])
        sid = secrets.token_bytes(16)
        raw = bytes([_SIGN_IN]) + bytes.fromhex(identity_key) + sid + secrets.token_bytes(16)
        challenge = SignInChallenge(
            "YC" + sid.hex(), raw, factor_id or "", PENDING, now, expires, rp.user_verification
        )
        ordered = sorted(item.challenges.values(), key=lambda c: (c.created_at, c.id))
        prune = [c.id for c in ordered[: max(0, len(ordered) - (MAX_CHALLENGES - 1))]]
        try:
            self._store.add_challenge(identity_key, challenge, prune, self._scope)
        except ConditionFailed:
            raise NoPasskey() from None  # deleted meanwhile
        return challenge, allowed, request_options(raw, allowed, rp, self._ttl)

    def identity_of(self, factor_id: str) -> str:
        """The identity whose passkey a v2 factor's SID names (its lookup item: one read);
        NoPasskey if it names none of this Service's."""
        link = self._store.resolve_sid(factor_id)
        item = self._ours(self._store.load(link[0])) if link and (link[1] or None) == self._scope else None
        if item is None or item.identity is None or factor_id not in item.passkeys:
            raise NoPasskey()
        return item.identity

    def approve(self, credential: Any, rp: RelyingParty | None = None,
                gate: Callable[[], None] = lambda: None) -> Approval:
        """A get() result for one of this service's challenges: the counter moves, the challenge
        is spent (approved), once. ``rp`` None: the passkey's own relying party (v2). ``gate``
        runs before the first write (v1: the public door's count, made during the read)."""
        try:
            client = client_data(credential, GET)
            raw_id = credential_id(credential)
        except CeremonyRefused as exc:
            raise PasskeyRefused(exc) from None
        now = int(self._clock())
        challenge: SignInChallenge | None = None
        opened_id = ""
        sign_in = _parse(client.challenge, _SIGN_IN)
        if sign_in is not None:
            identity_key = sign_in[0]
            item = self._ours(self._store.load(identity_key))
            challenge = item.challenges.get("YC" + sign_in[1].hex())
            if challenge is None or not challenge.pending(now) or challenge.challenge != client.challenge:
                raise ChallengeNotFound()
            expected, uv = challenge.challenge, challenge.user_verification
            gate()
        else:
            opened = _parse(client.challenge, _OPEN)
            if opened is None:
                raise ChallengeNotFound()
            gate()
            spent = self._store.spend_open_challenge(opened[0], now, self._scope)
            if spent is None or spent[0] != client.challenge:
                raise ChallengeNotFound()
            expected, uv = spent
            opened_id = "YC" + opened[0]
            identity_key = entity_key(credential)
            item = self._ours(self._store.load(identity_key))
        for _ in range(MAX_DECISIONS):
            passkey = item.by_credential(raw_id)
            if passkey is None or (challenge is not None and challenge.factor_id not in ("", passkey.id)):
                raise PasskeyRefused(CeremonyRefused("credential", "not a passkey of this number or entity"))
            party = rp or _registered_rp(passkey)
            try:
                assertion = verify_assertion(
                    credential,
                    challenge=expected,
                    origins=party.origins,
                    rp_id=party.id,
                    public_key=passkey.public_key,
                    sign_count=passkey.sign_count,
                    user_verification=uv,
                )
            except CounterRegressed as exc:
                log.warning(
                    "passkey sign counter went back factor=%s stored=%d received=%d: a cloned authenticator?",
                    passkey.id[-16:],
                    exc.stored,
                    exc.received,
                )
                telemetry.metric("PasskeyCounterRegressions")
                try:  # on the passkey too: the backend hears of it (passkey.counter_regressed)
                    self._store.record_regression(identity_key, passkey.id, now, self._scope)
                except ConditionFailed:
                    pass  # deleted meanwhile
                raise CounterWentBack() from None
            except CeremonyRefused as exc:
                log.info("passkey assertion refused check=%s factor=%s", exc.check, passkey.id[-16:])
                raise PasskeyRefused(exc) from None
            try:
                self._store.approve(identity_key, passkey, assertion.sign_count, now, self._scope, challenge)
            except ConditionFailed as exc:
                item = self._ours_raw(exc.item)
                if challenge is not None:
                    current = item.challenges.get(challenge.id)
                    if current is None or not current.pending(now):
                        raise ChallengeNotFound() from None  # a replay, or its twin landed first
                continue  # the counter moved meanwhile: checked again against the new one
            telemetry.metric("PasskeyApprovals")
            return Approval(
                item.identity or "",
                passkey,
                challenge.id if challenge else opened_id,
                assertion.user_verified,
                assertion.sign_count,
                challenge is None,
            )
        raise errors.ServiceUnavailable(retry_after=1)

    # -- factors ----------------------------------------------------------------------------

    def passkeys(self, identity: str) -> list[Passkey]:
        now = self._clock()
        return sorted(
            (p for p in self.load(identity).passkeys.values() if p.live(now)),
            key=lambda p: (p.created_at, p.id),
        )

    def delete(self, identity: str, factor_id: str) -> None:
        try:
            self._store.delete(self._identity_key(identity), factor_id, self._scope)
        except ConditionFailed:
            raise errors.FactorNotFound() from None

    def _ours_raw(self, raw: dict[str, Any] | None) -> PasskeyItem:
        return self._ours(to_item(raw))


def _registered_rp(passkey: Passkey) -> RelyingParty:
    return RelyingParty(passkey.rp_id, passkey.rp_id, frozenset(passkey.origins), passkey.user_verification)


def _parse(challenge: bytes, kind: int) -> tuple[str, bytes] | None:
    """(identity or item key, the SID's bytes) of one of our challenges of ``kind``."""
    if kind == _OPEN:
        return (challenge[1:17].hex(), b"") if len(challenge) == 33 and challenge[0] == _OPEN else None
    if len(challenge) != 49 or challenge[0] != kind:
        return None
    return challenge[1:17].hex(), challenge[17:33]
