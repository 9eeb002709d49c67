"""A v2 Service's Entities and Challenges (Twilio Verify's TOTP resources) in storage.

An Entity is its identity's item (chalicelib/totp/store.py, ``pk = "t#" + identity key``),
which holds its factors and its challenges, so deleting an entity deletes them all in one
write, and a challenge is found by one GetItem (the route names the entity). On the item:

    entity_at      when the v2 Entity was created (absent: an identity of v1, or of a factor
                   enrolled before Entities were stored; its factors still make it exist)
    c_<sid>        one map per challenge: factor, status (pending | approved), created,
                   expires, responded, message (Details.Message), hidden (HiddenDetails' JSON).
                   At most ``MAX_CHALLENGES`` are kept: the write that creates one removes the
                   oldest beyond that (a create racing another may leave one more until the
                   next create), so the item stays small (each write on it is billed by its size)

Listing a Service's Entities without a scan: the table has a partition key only (no sort key,
no secondary index), so a Query answers one item; the Service's entities are named instead by
``SHARDS`` index items, ``pk = "v2#entities#<service sid>#<shard>"`` (the shard: the identity
key's first two hex digits, modulo SHARDS), each with ``e_<identity key>`` (the identity and its
creation time) and ``n`` (how many, at most ``PER_SHARD``). Listing is one BatchGetItem of the
SHARDS items, no scan. The bound: PER_SHARD per shard (a shard is at most ~20 KB, so a write on
it costs at most ~20 WCU), so a Service holds at most SHARDS x PER_SHARD entities (the keys are
HMACs, evenly spread: the first shard fills near 6,000); the next create is refused (60200).

No transaction: as with Services (twilio_v2/services.py), a create writes the index first
(the bound holds before the entity exists), then the item; a delete deletes the item first
(its factors are gone), then the index entry. A retried delete whose first attempt deleted
the item finds the entry still there (its own second step to come) and answers 204 as the first
attempt would have; an entry left without its item (a function stopped between the two) is
listed until the app deletes that entity again (the same path: 204, the entry removed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, DynamoDBTable

SHARDS = 64
PER_SHARD = 160  # ~120 bytes an entry: ~20 KB a shard at most
MAX_CHALLENGES = 10
PENDING, APPROVED, EXPIRED = "pending", "approved", "expired"
_BATCH = 100  # BatchGetItem's limit of keys per call


class TooManyEntities(Exception):
    pass


class ChallengeEnded(Exception):
    """The challenge is no longer pending (``status``: approved or expired)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Challenge:
    id: str
    factor_id: str
    status: str  # as stored: pending or approved (``state`` tells an expired one)
    created_at: int
    expires_at: int
    responded_at: int | None = None
    message: str | None = None
    hidden: str | None = None  # HiddenDetails, as given (a JSON object of strings)

    def state(self, now: float) -> str:
        return EXPIRED if self.status == PENDING and now >= self.expires_at else self.status

    def approved(self, now: int) -> Challenge:
        return replace(self, status=APPROVED, responded_at=now)


def challenge_attribute(challenge_id: str) -> str:
    return "c_" + challenge_id


def challenge_value(challenge: Challenge) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "factor": {"S": challenge.factor_id}, "status": {"S": challenge.status},
        "created": {"N": str(challenge.created_at)}, "expires": {"N": str(challenge.expires_at)},
    }
    if challenge.responded_at is not None:
        fields["responded"] = {"N": str(challenge.responded_at)}
    if challenge.message is not None:
        fields["message"] = {"S": challenge.message}
    if challenge.hidden is not None:
        fields["hidden"] = {"S": challenge.hidden}
    return {"M": fields}


def to_challenges(item: dict[str, Any]) -> dict[str, Challenge]:
    found = {}
    for name, value in item.items():
        if name.startswith("c_") and "M" in value:
            m = value["M"]
            found[name[2:]] = Challenge(
                id=name[2:], factor_id=m["factor"]["S"], status=m["status"]["S"],
                created_at=int(m["created"]["N"]), expires_at=int(m["expires"]["N"]),
                responded_at=int(m["responded"]["N"]) if "responded" in m else None,
                message=m["message"]["S"] if "message" in m else None,
                hidden=m["hidden"]["S"] if "hidden" in m else None)
    return found


def to_prune(challenges: dict[str, Challenge]) -> list[str]:
    """The oldest challenges beyond MAX_CHALLENGES - 1: what a new one's write removes."""
    ordered = sorted(challenges.values(), key=lambda c: (c.created_at, c.id))
    return [c.id for c in ordered[:max(0, len(ordered) - (MAX_CHALLENGES - 1))]]


@dataclass(frozen=True)
class ChallengeChange:
    """What a code's write does to a challenge: creates ``challenge`` (``new``: approved if
    the code is right, pending if not, ``prune`` removed) or approves the pending one."""

    challenge: Challenge
    new: bool
    prune: tuple[str, ...] = ()

    def check(self, challenges: dict[str, Challenge], now: float) -> None:
        """An existing challenge must still be pending (refused before any code is compared)."""
        if self.new:
            return
        current = challenges.get(self.challenge.id)
        if current is None:
            raise ChallengeEnded(EXPIRED)  # removed meanwhile (the entity's newer ones)
        if current.state(now) != PENDING:
            raise ChallengeEnded(current.state(now))


def challenge_terms(change: ChallengeChange, status: str, now: int, names: dict[str, str],
                     values: dict[str, Any]) -> tuple[str, str]:
    """(", SET terms" for the challenge, " AND condition terms"): a new challenge is written with
    ``status``; an existing one must still be pending and unexpired, and is approved if
    ``status`` is approved (left as it is if the code was wrong)."""
    names["#ch"] = challenge_attribute(change.challenge.id)
    if change.new:
        challenge = change.challenge.approved(now) if status == APPROVED else change.challenge
        values[":challenge"] = challenge_value(challenge)
        return ", #ch = :challenge", " AND attribute_not_exists(#ch)"
    names["#cs"] = "status"
    values.update({":pending": {"S": PENDING}, ":ch_now": {"N": str(now)}})
    condition = " AND #ch.#cs = :pending AND #ch.expires > :ch_now"
    if status != APPROVED:
        return "", condition
    values[":approved"] = {"S": APPROVED}
    return ", #ch.#cs = :approved, #ch.responded = :ch_now", condition


def prunes(change: ChallengeChange, names: dict[str, str]) -> list[str]:
    removes = {f"#old_c{i}": challenge_attribute(c) for i, c in enumerate(change.prune)}
    names.update(removes)
    return list(removes)


def hidden_details(raw: str) -> str:
    """Twilio's HiddenDetails: a JSON object of string values, up to 1024 characters."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if len(raw) > 1024 or not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError("a JSON object of string values, up to 1024 characters")
    return raw


# -- the index of a Service's entities ---------------------------------------------------------


def shard_pk(service_sid: str, identity_key: str) -> str:
    return f"v2#entities#{service_sid}#{int(identity_key[:2], 16) % SHARDS}"


@dataclass(frozen=True)
class EntityEntry:
    identity_key: str
    identity: str
    created_at: int


class EntityIndex(DynamoDBTable):
    def add(self, service_sid: str, identity_key: str, identity: str, now: int) -> int:
        """The entity into its shard (within the bound); its creation time (an earlier one if
        it was there already: a retry, or a second create of the same identity)."""
        name = "e_" + identity_key
        try:
            self._update(shard_pk(service_sid, identity_key), "SET #e = :entry ADD n :one",
                         "attribute_not_exists(#e) AND (attribute_not_exists(n) OR n < :max)",
                         {":entry": {"identity": identity, "at": now}, ":one": 1, ":max": PER_SHARD},
                         names={"#e": name})
        except ConditionFailed as exc:
            entry = (exc.item or {}).get(name, {}).get("M")
            if entry is None:
                raise TooManyEntities() from None
            return int(entry["at"]["N"])
        return now

    def remove(self, service_sid: str, identity_key: str) -> None:
        """Done already (a retry, a concurrent delete) is done."""
        try:
            self._update(shard_pk(service_sid, identity_key), "REMOVE #e ADD n :minus",
                         "attribute_exists(#e)", {":minus": -1}, names={"#e": "e_" + identity_key})
        except ConditionFailed:
            pass

    def has(self, service_sid: str, identity_key: str) -> bool:
        return "e_" + identity_key in (self._get(shard_pk(service_sid, identity_key)) or {})

    def entries(self, service_sid: str) -> list[EntityEntry]:
        keys = [{"pk": {"S": f"v2#entities#{service_sid}#{n}"}} for n in range(SHARDS)]
        found: list[EntityEntry] = []
        for i in range(0, len(keys), _BATCH):
            batch = keys[i:i + _BATCH]
            while batch:
                try:
                    answer = self._client.batch_get_item(
                        RequestItems={self._table: {"Keys": batch, "ConsistentRead": True}})
                except self._botocore_errors as exc:
                    raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
                for item in answer.get("Responses", {}).get(self._table, []):
                    found += [EntityEntry(name[2:], v["M"]["identity"]["S"], int(v["M"]["at"]["N"]))
                              for name, v in item.items() if name.startswith("e_") and "M" in v]
                batch = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return sorted(found, key=lambda e: (e.created_at, e.identity_key))
