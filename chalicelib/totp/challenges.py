"""The use cases of a v2 Service's Entities and Challenges over its TotpService
(chalicelib/totp/service.py): an entity created, found, listed and deleted; a challenge created (with
or without its code), found, listed and answered. A code is always checked by
``TotpService.challenge``, the one path with the limits and counting of every code (rules
18-20 of docs/security.md); the challenge's own change rides in that path's write.
Storage: chalicelib/factors/entities.py."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib import errors
from chalicelib.dynamodb import ConditionFailed
from chalicelib.errors import InvalidRequest
from chalicelib.totp.service import TotpService
from chalicelib.totp import CodeRequest
from chalicelib.factors import PENDING, Challenge, ChallengeChange, EntityEntry, EntityIndex, to_prune
from chalicelib.totp.store import VERIFIED, IdentityItem

DEFAULT_CHALLENGE_SECONDS = 300  # Twilio: five minutes after creation unless ExpirationDate says
MAX_CHALLENGE_SECONDS = 3600  # ... and at most 60 minutes


class EntityService:
    """One Service's entities: ``totp`` is that Service's TotpService (for_app), ``service_sid``
    its SID (the default Service's too, whose TotpService has no scope)."""

    def __init__(self, totp: TotpService, service_sid: str) -> None:
        self._totp = totp
        self._sid = service_sid
        # The same table and client as the factors' store (one table, chalicelib/dynamodb.py).
        self._store = totp._store
        self._index = EntityIndex(self._store._client, self._store._table)
        self._scope = totp._scope

    # -- entities -------------------------------------------------------------------------

    def create(self, identity: str) -> int:
        """The entity (its index entry first: the bound holds before it exists); its creation
        time, an earlier one if it existed already."""
        key = self._totp.identity_key(identity)
        now = int(self._totp.now())
        created = self._index.add(self._sid, key, identity, now)
        return self._store.create_entity(key, identity, created, self._scope)

    def ensure(self, identity: str) -> None:
        """A factor's creation makes its entity (Twilio's entities are made by their first factor too)."""
        if self._load(identity).entity_at is None:
            self.create(identity)

    def get(self, identity: str) -> int:
        """The entity's creation time; NotFound if there is none in this Service."""
        item = self._load(identity)
        if not item.exists:
            raise errors.NotFound("No such entity.")
        return item.entity_at or min(f.created_at for f in item.factors.values())

    def all(self) -> list[EntityEntry]:
        return self._index.entries(self._sid)

    def delete(self, identity: str) -> None:
        """Its item (factors and challenges with it), then its index entry. A retry whose first
        attempt deleted the item finds the entry still there and answers as that attempt."""
        key = self._totp.identity_key(identity)
        try:
            self._store.delete_entity(key, self._scope)
        except ConditionFailed:
            if not self._index.has(self._sid, key):  # the failure path only
                raise errors.NotFound("No such entity.") from None
        self._index.remove(self._sid, key)

    # -- challenges -----------------------------------------------------------------------

    def challenge(self, identity: str, factor_id: str, code: str | None, expires_at: int | None,
                  message: str | None, hidden: str | None) -> tuple[Challenge, str | None]:
        """A new challenge: approved if ``code`` is right, pending if it is wrong or none was
        given (then the code comes with an update). (challenge, receipt if approved)."""
        now = int(self._totp.now())
        expires = expires_at or now + DEFAULT_CHALLENGE_SECONDS
        if not now < expires <= now + MAX_CHALLENGE_SECONDS:
            raise InvalidRequest("'ExpirationDate' must be after now and within 60 minutes.")
        challenge = Challenge("YC" + secrets.token_hex(16), factor_id, PENDING, now, expires,
                              message=message, hidden=hidden)
        if code is not None:
            return self._answer(identity, challenge, ChallengeChange(challenge, new=True), code)
        key = self._totp.factor_key(factor_id, identity)
        for _ in range(3):
            item = self._totp._load(key)
            factor = item.factors.get(factor_id)
            if factor is None or factor.status != VERIFIED:
                raise errors.FactorNotFound()
            try:
                prune = tuple(to_prune(item.challenges))
                self._store.add_challenge(key, ChallengeChange(challenge, True, prune), self._scope)
                return challenge, None
            except ConditionFailed:
                continue  # a concurrent create pruned or added: decide again on the new item
        raise errors.TotpRetryLater(retry_after=1)

    def challenges(self, identity: str) -> list[Challenge]:
        item = self._load(identity)
        return sorted(item.challenges.values(), key=lambda c: (c.created_at, c.id))

    def get_challenge(self, identity: str, challenge_id: str) -> Challenge:
        found = self._load(identity).challenges.get(challenge_id)
        if found is None:
            raise errors.NotFound("No such challenge.")
        return found

    def respond(self, identity: str, challenge_id: str, code: str) -> tuple[Challenge, str | None]:
        """The code for a pending challenge: approved, or still pending (a wrong code, counted)."""
        challenge = self.get_challenge(identity, challenge_id)
        return self._answer(identity, challenge, ChallengeChange(challenge, new=False), code)

    def _answer(self, identity: str, challenge: Challenge, change: ChallengeChange,
                code: str) -> tuple[Challenge, str | None]:
        try:
            _, receipt = self._totp.challenge(CodeRequest(code, identity, challenge.factor_id), change)
        except errors.IncorrectCode:
            return challenge, None
        return challenge.approved(int(self._totp.now())), receipt

    # -- factors --------------------------------------------------------------------------

    def update_factor(self, identity: str, factor_id: str, label: str | None, skew: int | None) -> None:
        key = self._totp.factor_key(factor_id, identity)
        try:
            self._store.update_factor(key, factor_id, label, skew, self._scope)
        except ConditionFailed:
            raise errors.FactorNotFound() from None

    def _load(self, identity: str) -> IdentityItem:
        return self._totp._load(self._totp.identity_key(identity))


def entities_of(totp: Any, service_sid: str) -> EntityService:
    return EntityService(totp, service_sid)
