"""Storage of passkey factors and their challenges, on the identity's item beside its TOTP
factors (chalicelib/totp/store.py: ``pk = "t#" + identity key``; ``identity``, ``service``,
``entity_at`` are shared), so deleting the entity deletes its passkeys, and every rule of a
ceremony is one condition on one item:

    k_<suffix>    one map per passkey (nothing secret: a public key, an id, a counter): id (YF
                  SID), status (unverified | verified), label, rp (its relying party id),
                  created_at; unverified: challenge (the registration's), expires_at, uv (what
                  the ceremony asked); verified: cred (credential id), key (COSE key), alg,
                  count (sign counter), transports, bound_at, user_verified, backup (BE, BS)
    passkey_count how many k_ maps the item holds (at most OTP_PASSKEY_MAX_FACTORS)
    pc_<YC SID>   one map per sign-in challenge for this identity: challenge, factor (named by
                  the request, or ""), status (pending | approved), created, expires, uv,
                  responded; at most MAX_CHALLENGES (the oldest pruned by the write adding one)
    r_<jti>       a v1 receipt that bound a registration (its expiry): used once

A discoverable sign-in (no identity yet) has its own item, ``pk = "pkc#" + the challenge's
random part`` (challenge, svc, uv, expires_at: the table's TTL), spent by one conditional
write before the identity's item is read (chalicelib/passkeys/service.py)."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.dynamodb import ConditionFailed, with_token
from chalicelib.factors import SidLinks
from chalicelib.passkeys.models import (
    APPROVED,
    PENDING,
    UNVERIFIED,
    VERIFIED,
    Passkey,
    PasskeyItem,
    SignInChallenge,
    _challenge_value,
    _passkey_value,
    challenge_attribute,
    identity_pk,
    passkey_attribute,
    receipt_attribute,
    to_item,
)


class DynamoDBPasskeyStore(SidLinks):
    """The identity's item's passkey attributes; a v2 factor's SID also names its item through
    its lookup (chalicelib/factors/sid_links.py), so a Challenge may name the factor alone."""

    def load(self, identity_key: str) -> PasskeyItem:
        return to_item(self._get(identity_pk(identity_key)))

    def add(
        self,
        identity_key: str,
        identity: str,
        passkey: Passkey,
        *,
        max_factors: int,
        scope: str | None,
        receipt: tuple[str, int] | None,
        prune: list[str],
        receipts_gone: list[str],
        entity: bool,
        now: int,
    ) -> None:
        """A registration: the unverified passkey (with its challenge), the receipt it spends
        (``receipt``: its jti and expiry), and the expired ones removed, in one write."""
        # Condition: under the cap counting what this write prunes (each pruned one still an
        # expired, unverified passkey: confirmed meanwhile, it stays and the write fails), and
        # the receipt unspent, so two registrations with one receipt: one lands, the other is
        # refused (409), and concurrent registrations never pass the cap.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry fails on its own receipt: the
        # token says the write is ours.
        names = {"#k": passkey_attribute(passkey.id), "#identity": "identity"}
        values: dict[str, Any] = {
            ":k": {"M": _passkey_value(passkey)},
            ":identity": {"S": identity},
            ":max": {"N": str(max_factors + len(prune))},
            ":delta": {"N": str(1 - len(prune))},
        }
        sets = ["#k = :k", "#identity = :identity"]
        condition = [
            "attribute_not_exists(#k)",
            "(attribute_not_exists(passkey_count) OR passkey_count < :max)",
        ]
        if entity:
            sets.append("entity_at = if_not_exists(entity_at, :now)")
            values[":now"] = {"N": str(now)}
        if receipt is not None:
            names["#r"] = receipt_attribute(receipt[0])
            values[":r"] = {"N": str(receipt[1])}
            sets.append("#r = :r")
            condition.append("attribute_not_exists(#r)")
        removes = []
        for i, factor_id in enumerate(prune):
            names[f"#old{i}"] = passkey_attribute(factor_id)
            values[":unverified"] = {"S": UNVERIFIED}
            condition.append(f"#old{i}.#status = :unverified")
            names["#status"] = "status"
            removes.append(f"#old{i}")
        for i, attribute in enumerate(receipts_gone):
            names[f"#oldr{i}"] = attribute
            removes.append(f"#oldr{i}")
        update = "SET " + ", ".join(sets) + " ADD passkey_count :delta"
        self._write(
            identity_key,
            update + (f" REMOVE {', '.join(removes)}" if removes else ""),
            " AND ".join(condition),
            values,
            names,
            scope=scope,
            new=True,
            token=True,
        )

    def verify(self, identity_key: str, passkey: Passkey, now: int, scope: str | None) -> None:
        """The registration's answer: ``passkey`` (as verified) replaces the unverified one."""
        # Condition: still unverified, unexpired, and for this very challenge (a second answer to
        # it, or one racing another, finds it verified: refused). The retry's token is ours.
        self._write(
            identity_key,
            "SET #k = :k",
            "#k.#status = :unverified AND #k.expires_at > :now AND #k.challenge = :c",
            {
                ":k": {"M": _passkey_value(passkey)},
                ":unverified": {"S": UNVERIFIED},
                ":now": {"N": str(now)},
                ":c": {"B": passkey.challenge},
            },
            {"#k": passkey_attribute(passkey.id), "#status": "status"},
            scope=scope,
            token=True,
        )

    def add_challenge(
        self, identity_key: str, challenge: SignInChallenge, prune: list[str], scope: str | None
    ) -> None:
        # Condition: the item is this Service's and holds a passkey (the service read one); the
        # SID is random, so a second write of it is a retry (the token's).
        removes = {f"#old{i}": challenge_attribute(c) for i, c in enumerate(prune)}
        self._write(
            identity_key,
            "SET #pc = :pc" + (f" REMOVE {', '.join(removes)}" if removes else ""),
            "attribute_exists(passkey_count) AND attribute_not_exists(#pc)",
            {":pc": {"M": _challenge_value(challenge)}},
            {"#pc": challenge_attribute(challenge.id), **removes},
            scope=scope,
            token=True,
        )

    def approve(
        self,
        identity_key: str,
        passkey: Passkey,
        new_count: int,
        now: int,
        scope: str | None,
        challenge: SignInChallenge | None,
    ) -> None:
        """An assertion accepted: the counter moves to ``new_count`` and the identity's challenge
        (None: a discoverable one, spent on its own item) is approved, in one write."""
        # Condition: the passkey is verified and its counter is still the one the assertion was
        # checked against (two assertions racing with counters 5 and 6: one lands, the other
        # decides again on the new counter, so a counter never goes back); the challenge is
        # still pending and unexpired (a replayed assertion finds it approved: refused).
        names = {"#k": passkey_attribute(passkey.id), "#status": "status"}
        values: dict[str, Any] = {
            ":verified": {"S": VERIFIED},
            ":was": {"N": str(passkey.sign_count)},
            ":count": {"N": str(new_count)},
            ":now": {"N": str(now)},
        }
        sets = ["#k.#count = :count", "#k.used_at = :now"]
        condition = "#k.#status = :verified AND #k.#count = :was"
        names["#count"] = "count"
        if challenge is not None:
            names["#pc"] = challenge_attribute(challenge.id)
            values.update(
                {":pending": {"S": PENDING}, ":approved": {"S": APPROVED}, ":fid": {"S": passkey.id}}
            )
            sets += ["#pc.#status = :approved", "#pc.responded = :now", "#pc.factor = :fid"]
            condition += " AND #pc.#status = :pending AND #pc.expires > :now"
        self._write(identity_key, "SET " + ", ".join(sets), condition, values, names, scope=scope, token=True)

    def record_regression(self, identity_key: str, factor_id: str, now: int, scope: str | None) -> None:
        """A refused assertion whose counter went back, on the passkey (its event comes from the
        item's change: chalicelib/events/passkeys.py)."""
        # Condition: the passkey is still there. The token: a retry counts it once.
        self._write(identity_key, "SET #k.regressed_at = :now ADD #k.regressions :one",
                    "attribute_exists(#k)",
                    {":now": {"N": str(now)}, ":one": {"N": "1"}}, {"#k": passkey_attribute(factor_id)},
                    scope=scope, token=True)

    def delete(self, identity_key: str, factor_id: str, scope: str | None) -> None:
        self._write(
            identity_key,
            "REMOVE #k ADD passkey_count :minus",
            "attribute_exists(#k)",
            {":minus": {"N": "-1"}},
            {"#k": passkey_attribute(factor_id)},
            scope=scope,
        )

    # -- discoverable sign-ins ---------------------------------------------------------------

    def put_open_challenge(
        self, key: str, challenge: bytes, uv: str, expires_at: int, scope: str | None
    ) -> None:
        values: dict[str, Any] = {":c": {"B": challenge}, ":uv": {"S": uv}, ":e": {"N": str(expires_at)}}
        if scope:
            values[":svc"] = {"S": scope}
        self._call(
            "update_item",
            pk="pkc#" + key,
            Key={"pk": {"S": "pkc#" + key}},
            UpdateExpression="SET challenge = :c, uv = :uv, expires_at = :e"
            + (", svc = :svc" if scope else ""),
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeValues=values,
        )

    def spend_open_challenge(self, key: str, now: int, scope: str | None) -> tuple[bytes, str] | None:
        """(challenge, user verification) of an unspent, unexpired discoverable challenge of
        this Service, spent by this write; None: unknown, expired, spent or another's."""
        # Condition: unspent and unexpired, so a replayed assertion (or two at once) spends it
        # once. The retry's token makes a lost answer's retry ours.
        values: dict[str, Any] = {":now": {"N": str(now)}}
        ours = "attribute_not_exists(svc)"
        if scope:
            values[":svc"] = {"S": scope}
            ours = "svc = :svc"
        unspent = (
            f"attribute_exists(challenge) AND attribute_not_exists(spent) AND expires_at > :now AND {ours}"
        )
        params = with_token(
            {
                "Key": {"pk": {"S": "pkc#" + key}},
                "UpdateExpression": "SET spent = :now",
                "ConditionExpression": unspent,
                "ExpressionAttributeValues": values,
                "ReturnValues": "ALL_NEW",
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            },
            {"S": secrets.token_hex(8)},
        )
        try:
            item = self._call("update_item", pk="pkc#" + key, **params).get("Attributes") or {}
        except ConditionFailed:
            return None
        return bytes(item["challenge"]["B"]), item.get("uv", {}).get("S", "preferred")

    def _write(
        self,
        identity_key: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str],
        *,
        scope: str | None,
        new: bool = False,
        token: bool = False,
    ) -> None:
        """One conditional UpdateItem on the identity's item, of ``scope``'s Service (or new)."""
        names = {**names, "#service": "service"}
        if scope is None:
            ours = "attribute_not_exists(#service)"
        else:
            ours = "(attribute_not_exists(pk) OR #service = :service)" if new else "#service = :service"
            values = {**values, ":service": {"S": scope}}
        sets_service = new and scope is not None
        if sets_service:
            update = update.replace("SET ", "SET #service = :service, ", 1)
        params: dict[str, Any] = {
            "Key": {"pk": {"S": identity_pk(identity_key)}},
            "UpdateExpression": update,
            "ConditionExpression": f"{condition} AND {ours}" if condition else ours,
            "ExpressionAttributeValues": values,
            "ExpressionAttributeNames": names,
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if token:
            params = with_token(params, {"S": secrets.token_hex(8)})
        self._call("update_item", pk=identity_pk(identity_key), **params)

