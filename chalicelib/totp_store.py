"""Storage of TOTP factors: one item per identity on the verifications table.

``pk = "t#" + keyed hash of the identity`` holds everything about one app user's
authenticators, so every rule is a condition on one item, checked by DynamoDB in one write:

    identity       the app's user id (the receipt's ``sub``)
    factor_count   how many factors the item holds (capped at OTP_TOTP_MAX_FACTORS)
    f_<suffix>     one map per factor: status, label, secret (KMS ciphertext, never the
                   secret), created_at, expires_at (unverified only), last_step
    attempts_<w>   wrong codes in fixed window ``w`` (for all the identity's factors)

A factor id is ``"YF" + identity key + suffix``, so a factor is found by one key lookup and
listing an identity's factors is one GetItem: no index, no scan.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from chalicelib.dynamodb import ConditionFailed, _DynamoDBTable, with_token  # the shared botocore plumbing

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

    def live(self, now: float) -> bool:
        return self.status == VERIFIED or (self.expires_at is not None and now < self.expires_at)


@dataclass(frozen=True)
class IdentityItem:
    identity: str | None
    factors: dict[str, TotpFactor]  # by factor id
    attempts: dict[str, int]  # attempts_<window> -> count

    def attempts_in(self, window: int) -> int:
        return self.attempts.get(f"attempts_{window}", 0)


def identity_pk(identity_key: str) -> str:
    return "t#" + identity_key


def factor_attribute(factor_id: str) -> str:
    return "f_" + factor_id[-16:]


class DynamoDBTotpStore(_DynamoDBTable):
    def load(self, identity_key: str) -> IdentityItem:
        return _to_identity(identity_key, self._get(identity_pk(identity_key)))

    def add(self, identity_key: str, identity: str, factor: TotpFactor, max_factors: int) -> None:
        # Condition: under the cap. Concurrent enrolments for one identity serialise on the
        # item, so at most max_factors of them succeed (no read-then-write count).
        self._write(
            identity_key,
            "SET #f = :factor, #identity = :identity ADD factor_count :one",
            "attribute_not_exists(#f) AND (attribute_not_exists(factor_count) OR factor_count < :max)",
            {":factor": _factor_value(factor), ":identity": {"S": identity}, ":one": {"N": "1"},
             ":max": {"N": str(max_factors)}},
            {"#f": factor_attribute(factor.id), "#identity": "identity"},
        )

    def remove_expired(self, identity_key: str, factor_ids: list[str], now: int) -> None:
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
            )
        except ConditionFailed:
            pass

    def delete(self, identity_key: str, factor_id: str) -> None:
        # Condition: the factor is there, so two concurrent deletes decrement the count once.
        self._write(
            identity_key,
            "REMOVE #f ADD factor_count :minus_one",
            "attribute_exists(#f)",
            {":minus_one": {"N": "-1"}},
            {"#f": factor_attribute(factor_id)},
        )

    def accept(
        self, identity_key: str, factor_id: str, step: int, *, confirm: bool, now: int,
        window: int, max_attempts: int,
    ) -> None:
        # Condition: the step is later than the last accepted one, so a code (even submitted
        # 20 times at once) is accepted once: the writes serialise on the item and only the
        # first passes `last_step < :step`. The identity's wrong-code count for the window is
        # under the limit, so a right code after the limit fails too. Confirming also needs
        # the factor still unverified and unexpired (verify and expiry race here).
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry fails `last_step < :step` on
        # its own step (403, the step used up, no receipt): the token says it is ours.
        state = ("#f.#status = :unverified AND #f.expires_at > :now" if confirm
                 else "#f.#status = :verified")
        update = "SET #f.last_step = :step" + (
            ", #f.#status = :verified REMOVE #f.expires_at" if confirm else ""
        )
        values = {":step": {"N": str(step)}, ":verified": {"S": VERIFIED}, ":max": {"N": str(max_attempts)}}
        if confirm:
            values.update({":unverified": {"S": UNVERIFIED}, ":now": {"N": str(now)}})
        self._write(
            identity_key,
            update,
            f"attribute_exists(#f) AND {state} AND #f.last_step < :step"
            " AND (attribute_not_exists(#att) OR #att < :max)",
            values,
            {"#f": factor_attribute(factor_id), "#status": "status", "#att": f"attempts_{window}"},
            token=True,
        )

    def count_failure(
        self, identity_key: str, window: int, max_attempts: int, stale: list[str]
    ) -> int:
        """One wrong code; returns the window's count after it. Raises ConditionFailed at the
        limit. ``stale``: attempts attributes of earlier windows, removed in the same write."""
        # Condition: the identity exists and its count is under the limit; N concurrent
        # wrong codes get at most max_attempts successful writes (403s), the rest 429. The
        # token: a retry after a lost answer does not count the wrong code twice.
        names = {"#att": f"attempts_{window}", **{f"#old{i}": a for i, a in enumerate(stale)}}
        remove = f" REMOVE {', '.join(n for n in names if n != '#att')}" if stale else ""
        item = self._write(
            identity_key,
            "ADD #att :one" + remove,
            "attribute_exists(pk) AND (attribute_not_exists(#att) OR #att < :max)",
            {":one": {"N": "1"}, ":max": {"N": str(max_attempts)}},
            names,
            returns=True,
            token=True,
        )
        return int(item["attempts_" + str(window)]["N"]) if item else max_attempts

    def _write(self, identity_key: str, update: str, condition: str, values: dict[str, Any],
               names: dict[str, str], returns: bool = False, token: bool = False) -> dict[str, Any] | None:
        pk = identity_pk(identity_key)
        params: dict[str, Any] = {
            "Key": {"pk": {"S": pk}}, "UpdateExpression": update, "ConditionExpression": condition,
            "ExpressionAttributeValues": values, "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if returns:
            params["ReturnValues"] = "ALL_NEW"
        if token:  # idempotent under botocore's retries (chalicelib/dynamodb.py)
            params = with_token(params, {"S": secrets.token_hex(8)})
        return self._call("update_item", pk=pk, **params).get("Attributes")


def _factor_value(factor: TotpFactor) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": {"S": factor.id}, "status": {"S": factor.status}, "label": {"S": factor.label},
        "secret": {"B": factor.secret_ciphertext}, "created_at": {"N": str(factor.created_at)},
        "last_step": {"N": str(factor.last_step)},
    }
    if factor.expires_at is not None:
        fields["expires_at"] = {"N": str(factor.expires_at)}
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
                last_step=int(m["last_step"]["N"]),
            )
            factors[factor.id] = factor
    attempts = {k: int(v["N"]) for k, v in item.items() if k.startswith("attempts_")}
    return IdentityItem(item.get("identity", {}).get("S"), factors, attempts)
