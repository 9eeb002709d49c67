"""A person's data (docs/personal-data.md): export, then erase, everything the stage's table
keeps about one phone number or email address, or about one TOTP identity.

    python scripts/data/personal_data.py export --stage dev --to +14155552671
    python scripts/data/personal_data.py forget --stage dev --to ana@example.com
    python scripts/data/personal_data.py forget --stage dev --identity alice [--service VA...]

What is found, and how (no Scan):
- the number's item in every scope: ``v#`` + codes.py ``number_key(key, scope)`` for the stage's
  own app ("") and each live v2 Service (twilio_v2/services.py's index item), one GetItem each.
  An address's key is its mailbox (email_address.py), so every spelling of it is found;
- its Attempts (attempts.py): those of each item's verification by key (their SIDs follow from
  its id), and those of its earlier verifications by reading the ``attempts`` index, shard by
  shard (a Query, not a Scan: every attempt of the retention period is read once, matched here
  on ``to``). An attempt of a Service that no longer exists names that Service: its item is
  looked up too;
- a number's Safe List item (``safe#`` + its ``number_key`` in the Safe List's scope), one GetItem;
- a TOTP identity's item in every scope (``t#`` + ``identity_key``: the identity as given for
  the default Service and v1, ``<Service SID>:<identity>`` for a Service) and its entry in the
  Service's entity index (totp_entities.py).

Each erase is one conditional write that proves the item is still the one found (an attempt
still names the recipient, an identity item the identity); a retry after a lost answer finds
the item gone, its own delete, and is counted as the success it was. The counts say how many
of the items found are gone.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
# Never exported: keyed hashes of codes (no code is ever stored), write tokens, and a TOTP
# factor's secret (KMS ciphertext: useless to anyone but the service, and the seed of the
# person's authenticator).
WITHHELD = {
    "code_mac": "the keyed hash (HMAC) of the latest code sent; no code is stored",
    "code_macs": "the keyed hashes of the codes still valid; no code is stored",
    "guess_mac": "the keyed hash of the last code typed",
    "wid": "the token of the item's last write (retries recognise themselves by it)",
    "secret": "a TOTP factor's secret, encrypted under the stage's KMS key",
}


class BadInput(Exception):
    pass


@dataclass(frozen=True)
class Recipient:
    kind: str  # "phone number" or "email address"
    shown: str  # as the operator gave it, normalised
    key: str  # what is hashed into the item's key: the E.164 number or the mailbox

    def names(self, to: str) -> bool:
        """Whether a stored ``to`` (as some start spelled it) is this recipient."""
        if self.kind == "phone number":
            return to == self.key
        return "@" in to and _mailbox(to) == self.key


@functools.lru_cache(maxsize=65536)
def _mailbox(address: str) -> str | None:
    """The mailbox a stored spelling names (the attempts index holds one per attempt)."""
    from chalicelib.channels.email_address import parse_email
    from chalicelib.errors import InvalidEmailAddress

    try:
        return parse_email(address).mailbox
    except InvalidEmailAddress:
        return None


def recipient(raw: str) -> Recipient:
    from chalicelib.channels.email_address import is_email, parse_email
    from chalicelib.errors import InvalidEmailAddress

    if is_email(raw):
        try:
            address = parse_email(raw)
        except InvalidEmailAddress as exc:
            raise BadInput(f"not an email address the service accepts: {raw!r} ({exc})") from None
        return Recipient("email address", address.address, address.mailbox)
    number = re.sub(r"[\s().-]", "", raw)
    if not _E164.fullmatch(number):
        raise BadInput(f"TO must be a number in E.164 (+14155552671) or an email address, not {raw!r}")
    return Recipient("phone number", number, number)


@dataclass
class Kept:
    """What was found: raw items, with the scope each was found in."""

    to: Recipient | None = None
    identity: str | None = None
    verifications: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (scope, item)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    identities: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (Service SID, item)
    entity_entries: list[tuple[str, str, str]] = field(default_factory=list)  # (Service SID, shard, name)
    safe_list: dict[str, Any] | None = None  # the number's Safe List item, if it is on the list


class PersonalData:
    """Finds, exports and erases one person's items through an injected DynamoDB client."""

    def __init__(self, dynamodb: Any, table: str, hasher: Any, default_sid: str,
                 now: Callable[[], float] = time.time) -> None:
        from chalicelib.dynamodb import DynamoDBTable
        from chalicelib.twilio_v2.services import ServiceStore

        self._db = DynamoDBTable(dynamodb, table)
        self._services = ServiceStore(dynamodb, table)
        self._hasher = hasher
        self._now = now
        self.default_sid = default_sid

    def services(self, extra: tuple[str, ...] = ()) -> list[str]:
        """The scopes to look in: the stage's own app ("") and every live v2 Service."""
        return ["", *sorted(set(self._services.index()) | set(extra))]

    # -- finding ------------------------------------------------------------------------------

    def find(self, to: str | None = None, identity: str | None = None,
             services: tuple[str, ...] = ()) -> Kept:
        kept = Kept(recipient(to) if to is not None else None, identity)
        scopes = self.services(services)
        if kept.to is not None:
            self._find_recipient(kept, kept.to, scopes)
        if identity is not None:
            self._find_identity(kept, identity, scopes)
        return kept

    def _find_recipient(self, kept: Kept, who: Recipient, scopes: list[str]) -> None:
        from chalicelib.verify.attempts import DEFAULT_SCOPE

        looked: set[str] = set()
        attempts: dict[str, dict[str, Any]] = {}
        todo = list(scopes)
        first = True
        while todo:
            for scope in todo:
                looked.add(scope)
                item = self._db._get("v#" + self._hasher.number_key(who.key, scope))
                if item is not None:
                    kept.verifications.append((scope, item))
                    for attempt in self._attempts_of(item):
                        attempts.setdefault(attempt["pk"]["S"], attempt)
            if first:  # the earlier verifications' attempts: the index, read once
                for attempt in self._indexed_attempts(who):
                    attempts.setdefault(attempt["pk"]["S"], attempt)
                first = False
            # An attempt of a Service deleted since names it: that Service's item too.
            named = {a.get("svc", {}).get("S", "") for a in attempts.values()}
            todo = sorted({"" if s == DEFAULT_SCOPE else s for s in named} - looked)
        kept.attempts = [a for a in attempts.values() if who.names(a.get("to", {}).get("S", ""))]
        if who.kind == "phone number":  # the account's Safe List (chalicelib/verify/safe_list.py)
            from chalicelib.verify.safe_list import safe_list_pk

            item = self._db._get(safe_list_pk(self._hasher, who.key))
            kept.safe_list = item if item is not None and "created_at" in item else None

    def _attempts_of(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The attempts of the item's verification, by key (also those a refused send took
        out of the index): one BatchGetItem of the MAX_SENDS SIDs it can have."""
        from chalicelib.verify.attempts import MAX_SENDS, attempt_sid

        vid = item.get("vid", {}).get("S")
        if vid is None:
            return []
        keys = [{"pk": {"S": "at#" + attempt_sid(vid, i)}} for i in range(MAX_SENDS)]
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {self._db._table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = self._batch(request)
            found += answer.get("Responses", {}).get(self._db._table, [])
            request = answer.get("UnprocessedKeys") or {}
        return [a for a in found if a.get("ve", {}).get("S") == vid]

    def _batch(self, request: dict[str, Any]) -> dict[str, Any]:
        from chalicelib.dynamodb import StoreUnavailable

        try:
            return self._db._client.batch_get_item(RequestItems=request)
        except self._db._botocore_errors as exc:
            raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None

    def _indexed_attempts(self, who: Recipient) -> list[dict[str, Any]]:
        """Every attempt in the ``attempts`` index naming ``who``: each shard read to its end
        (the index holds RETENTION_DAYS of attempts; a filter would not make it cheaper, since
        DynamoDB bills what a Query reads, so the match is made here, on every spelling)."""
        from chalicelib.verify.attempts import INDEX, SHARDS

        found: list[dict[str, Any]] = []
        for shard in range(SHARDS):
            params: dict[str, Any] = {"IndexName": INDEX, "KeyConditionExpression": "ak = :ak",
                                      "ExpressionAttributeValues": {":ak": {"S": f"at#{shard}"}}}
            while True:
                answer = self._db._call("query", **params)
                found += [a for a in answer.get("Items", []) if who.names(a.get("to", {}).get("S", ""))]
                if "LastEvaluatedKey" not in answer:
                    break
                params["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return found

    def _find_identity(self, kept: Kept, identity: str, scopes: list[str]) -> None:
        from chalicelib.factors.entities import shard_pk

        for scope in scopes:
            sid = scope or self.default_sid
            scoped = f"{scope}:{identity}" if scope else identity  # as twilio_v2/totp.py scopes it
            identity_key = self._hasher.identity_key(scoped)
            item = self._db._get("t#" + identity_key)
            # The item is this Service's (``service`` absent: the default Service's, v1's).
            if item is not None and item.get("service", {}).get("S", "") == scope:
                kept.identities.append((sid, item))
            shard = shard_pk(sid, identity_key)
            if "e_" + identity_key in (self._db._get(shard) or {}):
                kept.entity_entries.append((sid, shard, "e_" + identity_key))

    # -- export -------------------------------------------------------------------------------

    def export(self, kept: Kept) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if kept.to is not None:
            out.update(to=kept.to.shown, kind=kept.to.kind, verifications=[
                {"service_sid": scope or self.default_sid, "item": plain(item)}
                for scope, item in kept.verifications],
                attempts=[self._attempt(a) for a in sorted(
                    kept.attempts, key=lambda a: a.get("as", {}).get("S", ""))])
            if kept.to.kind == "phone number":
                out["safe_list"] = (None if kept.safe_list is None else
                                    {"added_at": int(kept.safe_list["created_at"]["N"])})
        if kept.identity is not None:
            listed = {sid for sid, _, _ in kept.entity_entries}
            out.update(identity=kept.identity, entity_listed_in=sorted(listed),
                       totp=[_identity(sid, item) for sid, item in kept.identities])
        out["not_exported"] = WITHHELD
        return out

    def _attempt(self, item: dict[str, Any]) -> dict[str, Any]:
        """An attempt as Twilio's Attempts resource names its fields (the index keys left out)."""
        from chalicelib.verify.attempts import DEFAULT_SCOPE

        data = {k: v for k, v in plain(item).items() if k not in ("pk", "ve", "svc", "ak", "as")}
        scope = item.get("svc", {}).get("S", DEFAULT_SCOPE)
        return {"sid": item["pk"]["S"][3:], "verification_sid": item["ve"]["S"],
                "service_sid": self.default_sid if scope == DEFAULT_SCOPE else scope, **data}

    # -- erasing ------------------------------------------------------------------------------

    def erase(self, kept: Kept) -> dict[str, int]:
        counts: dict[str, int] = {}
        self._tombstones(kept)
        if kept.to is not None:
            counts["verifications"] = sum(self._delete(item["pk"]["S"], "attribute_exists(pk)", {}, {})
                                          for _, item in kept.verifications)
            # Still naming the recipient, as spelled when found.
            counts["attempts"] = sum(self._delete(a["pk"]["S"], "#to = :to", {"#to": "to"}, {":to": a["to"]})
                                     for a in kept.attempts)
            if kept.safe_list is not None:
                counts["safe_list"] = self._delete(kept.safe_list["pk"]["S"], "attribute_exists(created_at)",
                                                   {}, {})
        if kept.identity is not None:
            counts["totp_identities"] = sum(
                self._delete(item["pk"]["S"], "#identity = :identity", {"#identity": "identity"},
                             {":identity": item["identity"]}) for _, item in kept.identities)
            counts["entity_entries"] = sum(self._unlist(shard, name)
                                           for _, shard, name in kept.entity_entries)
        return counts

    def _tombstones(self, kept: Kept) -> None:
        """Before any delete: the number and identity items' tombstones, so that the stream's
        records of them (24 hours, not editable) are not delivered as events
        (chalicelib/events/forgotten.py).
        Nothing but the item's key (a keyed hash) and a TTL; writing one again is the same
        write, so a retry after a lost answer changes nothing."""
        from chalicelib.events.forgotten import KEEP_SECONDS, tombstone_pk

        until = int(self._now()) + KEEP_SECONDS
        for _, item in [*kept.verifications, *kept.identities]:
            self._db._update(tombstone_pk(item["pk"]["S"]), "SET expires_at = :until", "", {":until": until})

    def _delete(self, pk: str, condition: str, names: dict[str, str], values: dict[str, Any]) -> int:
        """1 when the item is gone: deleted by this call, or found gone by it (botocore's retry
        of our own delete whose answer was lost, or TTL meanwhile: either way the item found
        is no longer kept). 0 when it changed since it was found (left as it is, and said)."""
        from chalicelib.dynamodb import ConditionFailed

        params: dict[str, Any] = {"Key": {"pk": {"S": pk}}, "ConditionExpression": condition,
                                  "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
        if names:
            params["ExpressionAttributeNames"] = names
        if values:
            params["ExpressionAttributeValues"] = values
        try:
            self._db._call("delete_item", pk=pk, **params)
        except ConditionFailed as exc:
            if exc.item is None:
                return 1
            print(f"kept {pk}: it changed since it was found; run the command again", file=sys.stderr)
            return 0
        return 1

    def _unlist(self, shard: str, name: str) -> int:
        """The identity out of its Service's entity index (as EntityIndex.remove does)."""
        from chalicelib.dynamodb import ConditionFailed

        try:
            self._db._update(shard, "REMOVE #e ADD n :minus", "attribute_exists(#e)", {":minus": -1},
                             names={"#e": name})
        except ConditionFailed:
            pass  # gone already: a retry of this write after a lost answer, or a delete meanwhile
        return 1


def _identity(sid: str, item: dict[str, Any]) -> dict[str, Any]:
    data = plain(item)
    factors = [{"id": name[2:], **{k: v for k, v in value.items() if k != "secret"}}
               for name, value in data.items() if name.startswith("f_")]
    rest = {k: v for k, v in data.items() if not k.startswith("f_") and k != "pk"}
    return {"service_sid": sid, "factors": factors, "item": rest}


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as JSON, without the withheld attributes."""
    return {k: _plain(v) for k, v in item.items() if k not in WITHHELD}


def _plain(value: dict[str, Any]) -> Any:
    (kind, inner), = value.items()
    if kind == "N":
        return int(inner) if re.fullmatch(r"-?[0-9]+", inner) else float(inner)
    if kind == "M":
        return plain(inner)
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind in ("SS", "NS"):
        return sorted(inner)
    if kind == "B":
        return base64.b64encode(inner).decode("ascii")
    if kind == "NULL":
        return None
    return inner


# -- the command -------------------------------------------------------------------------------


def open_stage(stage: str, dynamodb: Any = None, ssm: Callable[[], Any] | None = None) -> PersonalData:
    """The stage's table and keys (its entry in .chalice/config.json, overridden by the
    environment, as scripts/keys/api_keys.py reads them); clients injected or made by boto3."""
    import boto3

    from chalicelib.codes import CodeHasher
    from chalicelib.config import Config
    from chalicelib.settings.parameters import load_server_secrets
    from scripts.deploy.provision import stage_variables

    config = Config.from_env({**stage_variables(stage), **os.environ, "OTP_STAGE": stage})
    if (config.secret is None and config.secret_parameter is None and config.identity_secret is None
            and config.identity_secret_parameter is None):
        raise BadInput(f"the {stage!r} stage has no server secret: nothing it keeps can be found without it")
    code_key, identity_key = load_server_secrets(config, ssm or functools.cache(lambda: boto3.client("ssm")))
    hasher = CodeHasher(code_key, identity_key)
    return PersonalData(dynamodb or boto3.client("dynamodb"), config.table_name, hasher,
                        hasher.derived_sid("VA", "default-service"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="export or erase what the stage keeps about one person")
    parser.add_argument("command", choices=["export", "forget"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--to", help="a phone number in E.164 or an email address")
    parser.add_argument("--identity", help="a TOTP identity (the app's user id)")
    parser.add_argument("--service", action="append", default=[],
                        help="also look in this Service (VA...), e.g. one deleted since")
    args = parser.parse_args(argv)
    if args.to is None and args.identity is None:
        parser.error("give --to (a number or an address), --identity, or both")
    from chalicelib.dynamodb import StoreUnavailable
    from chalicelib.errors import ConfigError, ServiceUnavailable

    try:
        _aws_ready()
        data = open_stage(args.stage)
        kept = data.find(args.to, args.identity, tuple(args.service))
        if args.command == "export":
            print(json.dumps(data.export(kept), indent=2, sort_keys=True, ensure_ascii=False))
        else:
            print(json.dumps({"erased": data.erase(kept)}, sort_keys=True))
        return 0
    except BadInput as exc:
        print(exc, file=sys.stderr)
    except ConfigError as exc:
        print(f"the {args.stage!r} stage's configuration: {exc}", file=sys.stderr)
    except (ServiceUnavailable, StoreUnavailable) as exc:
        print(f"could not reach the {args.stage!r} stage's secret or table ({exc}): are AWS credentials and "
              "the region set, and is the stage deployed (make deploy)?", file=sys.stderr)
    return 1


def _aws_ready() -> None:
    """One line, before any call, for a missing region or missing credentials."""
    import boto3

    from scripts.deploy.provision import region

    try:
        os.environ.setdefault("AWS_DEFAULT_REGION", region())  # AWS_REGION, which botocore ignores
    except SystemExit as exc:
        raise BadInput(" ".join(str(exc).split())) from None
    if boto3.session.Session().get_credentials() is None:
        raise BadInput("no AWS credentials found: set AWS_PROFILE (aws configure) or AWS_ACCESS_KEY_ID and "
                       "AWS_SECRET_ACCESS_KEY")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
