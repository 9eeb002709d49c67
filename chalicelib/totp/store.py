"""Storage of TOTP factors: one item per identity on the verifications table.

``pk = "t#" + keyed hash of the identity`` holds everything about one app user's
authenticators, so every rule is a condition on one item, checked by DynamoDB in one write:

    identity       the app's user id (the receipt's ``sub``)
    service        the v2 Service whose user it is (its SID); absent: the stage's default
                   Service, which is v1's. Every write's condition names it (``scope``), so
                   no path reaches another Service's factors, whatever id it was given
    factor_count   how many factors the item holds (capped at OTP_TOTP_MAX_FACTORS)
    f_<suffix>     one map per factor: status, label, secret (KMS ciphertext, never the
                   secret), created_at, expires_at (unverified only), last_step, skew (when
                   enrolled with one: its window, else the stage's), and its
                   wrong codes: fails (consecutive, across all time; reset only by a right
                   code or by the backend), failed_at, replayed_at (the last replayed code),
                   suspended_at (set by the failure that reached the cap; the factor then
                   approves nothing until the backend re-enables it)
    s_<source>     one map per source (keyed hash of the end user's IP, chalicelib/totp/limits.py)
                   that sent wrong codes for this identity: n (consecutive), at (the last one)
    entity_at, c_  its v2 Entity and Challenges (chalicelib/factors/entities.py)

A factor id is Twilio's ``"YF"`` + 32 hex; its item is the identity's, named by the caller (v2's
path) or by the SID's lookup item (v1, chalicelib/factors/sid_links.py); a factor made before
34-character SIDs has ``"YF" + identity key + suffix`` (50 characters), found from the id alone.
Either way one key lookup, and listing an identity's factors is one GetItem: no index, no scan.
A factor's attribute is ``f_`` + the id's last 16 hex, whichever its length.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from chalicelib.dynamodb import ConditionFailed, with_token  # the shared botocore plumbing
from chalicelib.factors import (
    APPROVED,
    PENDING,
    Challenge,
    ChallengeChange,
    SidLinks,
    challenge_attribute,
    challenge_terms,
    challenge_value,
    prunes,
    to_challenges,
)

VERIFIED, UNVERIFIED = "verified", "unverified"


@dataclass(frozen=True)
class TotpFactor:
    id: str
    status: str
    label: str
    secret_ciphertext: bytes
    created_at: int
    expires_at: int | None  # unverified factors only
    last_step: int
    skew: int | None = None  # time steps accepted either side of now; None: the stage's OTP_TOTP_WINDOW
    fails: int = 0  # consecutive wrong codes, reset only by a right one (or the backend)
    failed_at: int = 0
    suspended_at: int | None = None

    @property
    def suspended(self) -> bool:
        return self.suspended_at is not None

    def live(self, now: float) -> bool:
        return self.status == VERIFIED or (self.expires_at is not None and now < self.expires_at)


@dataclass(frozen=True)
class SourceRecord:
    """Consecutive wrong codes from one source (the end user's IP) for one identity."""

    fails: int
    failed_at: int


@dataclass(frozen=True)
class IdentityItem:
    identity: str | None
    factors: dict[str, TotpFactor]  # by factor id
    sources: dict[str, SourceRecord]  # by source key
    service: str | None = None  # the v2 Service's SID; None: the default Service (v1's)
    entity_at: int | None = None  # when its v2 Entity was created (chalicelib/factors/entities.py)
    challenges: dict[str, Challenge] = field(default_factory=dict)  # by challenge SID

    @property
    def exists(self) -> bool:
        return self.entity_at is not None or bool(self.factors)


@dataclass(frozen=True)
class Expected:
    """The counters a decision was taken on, as stored: a write conditioned on them lands only
    if no other wrong code was counted in between (see DynamoDBTotpStore.record_failure)."""

    factor_fails: dict[str, int]  # factor id -> fails as loaded
    source: str | None  # the source key, if the backend passed the end user's IP
    source_fails: int  # as stored (0: no record)
    source_stale: bool = False  # the record is too old to count: the next failure is the first


def identity_pk(identity_key: str) -> str:
    return "t#" + identity_key


def factor_attribute(factor_id: str) -> str:
    return "f_" + factor_id[-16:]


class DynamoDBTotpStore(SidLinks):
    def load(self, identity_key: str) -> IdentityItem:
        return _to_identity(identity_key, self._get(identity_pk(identity_key)))

    def add(self, identity_key: str, identity: str, factor: TotpFactor, max_factors: int,
            scope: str | None) -> None:
        # Condition: under the cap. Concurrent enrolments for one identity serialise on the
        # item, so at most max_factors of them succeed (no read-then-write count). A new item
        # takes the Service (``scope``); an existing one must be that Service's already.
        self._write(
            identity_key,
            "SET #f = :factor, #identity = :identity" + (", #service = :service" if scope else "")
            + " ADD factor_count :one",
            "attribute_not_exists(#f) AND (attribute_not_exists(factor_count) OR factor_count < :max)",
            {":factor": _factor_value(factor), ":identity": {"S": identity}, ":one": {"N": "1"},
             ":max": {"N": str(max_factors)}},
            {"#f": factor_attribute(factor.id), "#identity": "identity"},
            scope=scope, new=True,
        )

    def remove_expired(self, identity_key: str, factor_ids: list[str], now: int, scope: str | None) -> None:
        # Condition: each is still unverified and expired. A factor confirmed meanwhile
        # (a race with its verify call) makes the whole write fail, and it stays.
        names = {f"#f{i}": factor_attribute(fid) for i, fid in enumerate(factor_ids)}
        condition = " AND ".join(f"{n}.#status = :unverified AND {n}.expires_at <= :now" for n in names)
        try:
            self._write(
                identity_key,
                f"REMOVE {', '.join(names)} ADD factor_count :minus",
                condition,
                {":unverified": {"S": UNVERIFIED}, ":now": {"N": str(now)},
                 ":minus": {"N": str(-len(factor_ids))}},
                {**names, "#status": "status"},
                scope=scope,
            )
        except ConditionFailed:
            pass

    def delete(self, identity_key: str, factor_id: str, scope: str | None) -> None:
        # Condition: the factor is there, so two concurrent deletes decrement the count once.
        self._write(
            identity_key,
            "REMOVE #f ADD factor_count :minus_one",
            "attribute_exists(#f)",
            {":minus_one": {"N": "-1"}},
            {"#f": factor_attribute(factor_id)},
            scope=scope,
        )

    def create_entity(self, identity_key: str, identity: str, now: int, scope: str | None) -> int:
        """The v2 Entity's item (its creation time kept if it exists: a retry, a second create)."""
        item = self._write(
            identity_key,
            "SET #identity = :identity, entity_at = if_not_exists(entity_at, :now)"
            + (", #service = :service" if scope else ""),
            "", {":identity": {"S": identity}, ":now": {"N": str(now)}}, {"#identity": "identity"},
            scope=scope, new=True, returns=True, after=True,
        )
        return int((item or {}).get("entity_at", {}).get("N", now))

    def delete_entity(self, identity_key: str, scope: str | None) -> None:
        """The entity's item, its factors and challenges with it: one DeleteItem, conditioned on
        the item's Service (ConditionFailed: no such entity in this Service)."""
        pk = identity_pk(identity_key)
        ours, values = _of_service(scope)
        params: dict[str, Any] = {"Key": {"pk": {"S": pk}},
                                  "ExpressionAttributeNames": {"#service": "service"},
                                  "ConditionExpression": f"attribute_exists(pk) AND {ours}",
                                  "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        if values:
            params["ExpressionAttributeValues"] = values
        self._call("delete_item", pk=pk, **params)

    def add_challenge(self, identity_key: str, change: ChallengeChange, scope: str | None) -> None:
        """A pending challenge (no code given) for a verified factor, the oldest beyond the
        bound removed in the same write."""
        names = {"#f": factor_attribute(change.challenge.factor_id), "#status": "status",
                 "#ch": challenge_attribute(change.challenge.id)}
        removes = {f"#old{i}": challenge_attribute(c) for i, c in enumerate(change.prune)}
        self._write(
            identity_key,
            "SET #ch = :challenge" + (f" REMOVE {', '.join(removes)}" if removes else ""),
            "attribute_exists(#f) AND #f.#status = :verified AND attribute_not_exists(#ch)",
            {":challenge": challenge_value(change.challenge), ":verified": {"S": VERIFIED}},
            {**names, **removes}, scope=scope,
        )

    def update_factor(self, identity_key: str, factor_id: str, label: str | None, skew: int | None,
                      scope: str | None) -> None:
        sets, values = [], {}
        if label is not None:
            sets.append("#f.label = :label")
            values[":label"] = {"S": label}
        if skew is not None:
            sets.append("#f.skew = :skew")
            values[":skew"] = {"N": str(skew)}
        self._write(identity_key, "SET " + ", ".join(sets), "attribute_exists(#f)", values,
                    {"#f": factor_attribute(factor_id)}, scope=scope)

    def accept(
        self, identity_key: str, factor_id: str, step: int, *, confirm: bool, now: int, expected: Expected,
        scope: str | None, challenge: ChallengeChange | None = None,
    ) -> None:
        """A right code: the step becomes the last accepted one, the factor's and the source's
        wrong-code counts start again from zero."""
        # Condition: the step is later than the last accepted one, so a code (even submitted
        # 20 times at once) is accepted once: the writes serialise on the item and only the
        # first passes `last_step < :step`. The factor is not suspended, and the counters are
        # still those the throttle was checked on: if a concurrent wrong code was counted
        # meanwhile (and maybe made this source wait), the write fails and the caller decides
        # again on the new item. Confirming also needs the factor still unverified and
        # unexpired (verify and expiry race here).
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry fails `last_step < :step` on
        # its own step (read as a replay: 403, the step used up, no receipt): the token says
        # it is ours.
        state = ("#f.#status = :unverified AND #f.expires_at > :now" if confirm
                 else "#f.#status = :verified")
        update = "SET #f.last_step = :step, #f.fails = :zero" + (
            ", #f.#status = :verified" if confirm else ""
        )
        removes = ["#f.failed_at", *(["#f.expires_at"] if confirm else [])]
        removes += ["#src"] if expected.source else []
        values: dict[str, Any] = {":step": {"N": str(step)}, ":verified": {"S": VERIFIED},
                                  ":zero": {"N": "0"}}
        names = {"#f": factor_attribute(factor_id), "#status": "status"}
        if confirm:
            values.update({":unverified": {"S": UNVERIFIED}, ":now": {"N": str(now)}})
        counters = _expect_counters(expected, names, values)
        if challenge is not None:  # the challenge approved by the same write
            more, condition = challenge_terms(challenge, APPROVED, now, names, values)
            update, counters = update + more, counters + condition
            removes += prunes(challenge, names)
        self._write(
            identity_key,
            f"{update} REMOVE {', '.join(removes)}",
            f"attribute_exists(#f) AND {state} AND #f.last_step < :step"
            f" AND attribute_not_exists(#f.suspended_at) AND {counters}",
            values,
            names,
            token=True,
            scope=scope,
        )

    def record_failure(
        self, identity_key: str, expected: Expected, *, now: int, max_failures: int, replayed: str | None,
        stale_sources: list[str], scope: str | None, challenge: ChallengeChange | None = None,
    ) -> list[str]:
        """One wrong code, counted on every factor it was compared with and on its source;
        returns the factors this failure suspended (their count reached ``max_failures``).
        ``replayed``: the factor whose used code it was. ``stale_sources``: source records too
        old to matter, removed in the same write."""
        # Condition: every counter is still the one the throttle was checked on (equality),
        # and no factor is suspended. N concurrent wrong codes decided on the same item: one
        # write lands, the others fail and decide again on the item it left (which may now
        # say "wait"), so wrong codes are counted one at a time and never past a throttle or
        # the cap. The suspension is set by the very write that makes the count reach the
        # cap, so exactly one request sees it happen (and emits its event).
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry fails on the counters it
        # changed itself, and deciding again would count the wrong code twice: the token says
        # the write is ours.
        names: dict[str, str] = {}
        values: dict[str, Any] = {":now": {"N": str(now)}}
        sets, suspended = [], []
        for i, (factor_id, fails) in enumerate(sorted(expected.factor_fails.items())):
            names[f"#c{i}"] = factor_attribute(factor_id)
            values[f":n{i}"] = {"N": str(fails + 1)}
            sets += [f"#c{i}.fails = :n{i}", f"#c{i}.failed_at = :now"]
            if fails + 1 >= max_failures:
                sets.append(f"#c{i}.suspended_at = :now")
                suspended.append(factor_id)
            if factor_id == replayed:
                sets.append(f"#c{i}.replayed_at = :now")
        if expected.source:
            names["#src"] = source_attribute(expected.source)
            count = 1 if expected.source_stale else expected.source_fails + 1
            values[":source"] = {"M": {"n": {"N": str(count)}, "at": {"N": str(now)}}}
            sets.append("#src = :source")
        stale = {f"#old{i}": source_attribute(key) for i, key in enumerate(stale_sources)
                 if key != expected.source}
        names.update(stale)
        counters = _expect_counters(expected, names, values)
        exists = " AND ".join(f"attribute_exists(#c{i}) AND attribute_not_exists(#c{i}.suspended_at)"
                              for i in range(len(expected.factor_fails)))
        removes = list(stale)
        if challenge is not None:  # a new challenge stays pending; an existing one must still be
            more, condition = challenge_terms(challenge, PENDING, now, names, values)
            sets += [more.removeprefix(", ")] if more else []
            exists, removes = exists + condition, removes + prunes(challenge, names)
        self._write(
            identity_key,
            "SET " + ", ".join(sets) + (f" REMOVE {', '.join(removes)}" if removes else ""),
            f"{exists} AND {counters}",
            values,
            names,
            token=True,
            scope=scope,
        )
        return suspended

    def reinstate(self, identity_key: str, factor_id: str, scope: str | None) -> bool:
        """The backend re-enables a factor: its count starts again. True if it was suspended."""
        # Condition: the factor exists and is verified (an unverified one is simply enrolled
        # again). A wrong code racing this write is counted before or after it, never lost.
        item = self._write(
            identity_key,
            "SET #f.fails = :zero REMOVE #f.suspended_at, #f.failed_at",
            "attribute_exists(#f) AND #f.#status = :verified",
            {":zero": {"N": "0"}, ":verified": {"S": VERIFIED}},
            {"#f": factor_attribute(factor_id), "#status": "status"},
            returns=True,
            scope=scope,
        )
        return item is not None and "suspended_at" in item.get(factor_attribute(factor_id), {}).get("M", {})

    def _write(self, identity_key: str, update: str, condition: str, values: dict[str, Any],
               names: dict[str, str], *, scope: str | None, new: bool = False, returns: bool = False,
               token: bool = False, after: bool = False) -> dict[str, Any] | None:
        """One conditional UpdateItem; its condition also says the item is ``scope``'s (the v2
        Service's SID, None for the default Service), or new when ``new``."""
        pk = identity_pk(identity_key)
        names = {**names, "#service": "service"}
        ours, service_values = _of_service(scope, new)
        values = {**values, **service_values}
        params: dict[str, Any] = {
            "Key": {"pk": {"S": pk}}, "UpdateExpression": update,
            "ConditionExpression": f"{condition} AND {ours}" if condition else ours,
            "ExpressionAttributeValues": values, "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if returns:
            params["ReturnValues"] = "ALL_NEW" if after else "ALL_OLD"
        if token:  # idempotent under botocore's retries (chalicelib/dynamodb.py)
            params = with_token(params, {"S": secrets.token_hex(8)})
        return self._call("update_item", pk=pk, **params).get("Attributes")


def source_attribute(source_key: str) -> str:
    return "s_" + source_key


def _expect_counters(expected: Expected, names: dict[str, str], values: dict[str, Any]) -> str:
    """The condition "the wrong-code counters are as loaded" (a missing one reads as 0)."""
    terms = []
    for i, (factor_id, fails) in enumerate(sorted(expected.factor_fails.items())):
        names.setdefault(f"#c{i}", factor_attribute(factor_id))
        values[f":was{i}"] = {"N": str(fails)}
        term = f"#c{i}.fails = :was{i}"
        if fails == 0:
            values[":zero"] = {"N": "0"}
            term = f"(attribute_not_exists(#c{i}.fails) OR #c{i}.fails = :zero)"
            del values[f":was{i}"]
        terms.append(term)
    if expected.source:
        names.setdefault("#src", source_attribute(expected.source))
        if expected.source_fails == 0:
            terms.append("attribute_not_exists(#src)")
        else:
            values[":src_was"] = {"N": str(expected.source_fails)}
            terms.append("#src.n = :src_was")
    return " AND ".join(terms) or "attribute_exists(pk)"


def _factor_value(factor: TotpFactor) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": {"S": factor.id}, "status": {"S": factor.status}, "label": {"S": factor.label},
        "secret": {"B": factor.secret_ciphertext}, "created_at": {"N": str(factor.created_at)},
        "last_step": {"N": str(factor.last_step)},
    }
    if factor.expires_at is not None:
        fields["expires_at"] = {"N": str(factor.expires_at)}
    if factor.skew is not None:
        fields["skew"] = {"N": str(factor.skew)}
    return {"M": fields}


def _to_identity(identity_key: str, item: dict[str, Any] | None) -> IdentityItem:
    item = item or {}
    factors = {}
    for name, value in item.items():
        if name.startswith("f_") and "M" in value:
            m = value["M"]
            factor = TotpFactor(
                id=m["id"]["S"], status=m["status"]["S"], label=m["label"]["S"],
                secret_ciphertext=bytes(m["secret"]["B"]), created_at=int(m["created_at"]["N"]),
                expires_at=int(m["expires_at"]["N"]) if "expires_at" in m else None,
                last_step=int(m["last_step"]["N"]), skew=int(m["skew"]["N"]) if "skew" in m else None,
                fails=int(m.get("fails", {}).get("N", 0)), failed_at=int(m.get("failed_at", {}).get("N", 0)),
                suspended_at=int(m["suspended_at"]["N"]) if "suspended_at" in m else None,
            )
            factors[factor.id] = factor
    sources = {name[2:]: SourceRecord(int(v["M"]["n"]["N"]), int(v["M"]["at"]["N"]))
               for name, v in item.items() if name.startswith("s_") and "M" in v}
    entity_at = int(item["entity_at"]["N"]) if "entity_at" in item else None
    return IdentityItem(item.get("identity", {}).get("S"), factors, sources, item.get("service", {}).get("S"),
                        entity_at, to_challenges(item))


def _of_service(scope: str | None, new: bool = False) -> tuple[str, dict[str, Any]]:
    """The condition that the item is ``scope``'s (the v2 Service's SID; None: the default
    Service's), or does not exist yet when ``new``, and its values."""
    if scope is None:
        return "attribute_not_exists(#service)", {}
    ours = "(attribute_not_exists(pk) OR #service = :service)" if new else "#service = :service"
    return ours, {":service": {"S": scope}}
