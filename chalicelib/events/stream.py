"""A DynamoDB Stream record of the verifications table -> the events it implies.

The record is Lambda's (docs.aws.amazon.com/lambda/latest/dg/with-ddb.html): ``eventID``,
``eventName`` (INSERT, MODIFY, REMOVE), ``dynamodb`` with ``Keys``, ``OldImage``, ``NewImage``
(the stream's view type is NEW_AND_OLD_IMAGES), ``SequenceNumber`` and
``ApproximateCreationDateTime`` (Unix seconds), and for a delete by Time to Live a
``userIdentity`` of ``{"type": "Service", "principalId": "dynamodb.amazonaws.com"}``
(docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html).

Only the number's items (``pk = "v#..."``) say anything; counters, markers and TOTP items imply
no verification event. Each change of a number's item, old image against new:

    another verification id (or none before)   verification.started (and .expired for a
                                               pending one it replaced in place)
    send_count up                              verification.resent
    send_count down, same id                   nothing (a resend whose send failed, undone)
    the verification id removed by a write     verification.canceled (a start whose send every
                                               provider refused: the API answered 502)
    approved (guess MAC = code MAC), was not   verification.approved
    attempts reached max_attempts, unapproved  verification.failed
    canceled_at set                            verification.canceled
    a send's status rank up                    delivery.updated (that send)
    removed by TTL while pending               verification.expired

The ``webhook-id`` is ``msg_`` + the record's ``eventID`` (+ ``.2`` for a record's second
event): the same on every retry of that record.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Mapping

from chalicelib.verify import to_verification
from chalicelib.verify import Verification

TTL_PRINCIPAL = "dynamodb.amazonaws.com"
NUMBER_ITEM_PREFIX = "v#"


TYPES = ("verification.started", "verification.resent", "verification.approved", "verification.failed",
         "verification.canceled", "verification.expired", "delivery.updated",
         # from the TOTP items: chalicelib/events/totp.py
         "totp.factor_verified", "totp.approved", "totp.factor_suspended", "totp.code_replayed",
         # from the same items' passkeys: chalicelib/events/passkeys.py
         "passkey.registered", "passkey.approved", "passkey.counter_regressed")


def _masked(e164: str) -> str:
    if "@" in e164:  # an email verification's address: a***@example.com
        local, _, domain = e164.rpartition("@")
        return f"{local[:1]}***@{domain}"
    keep_head = min(5, len(e164) - 2)
    return e164[:keep_head] + "*" * (len(e164) - keep_head - 2) + e164[-2:]


def _tags(raw: str | None) -> dict[str, str] | None:
    """A v2 start's ``Tags`` from the verification's metadata (twilio_v2/params.py checked them:
    at most 10, keys and values up to 128 characters, Twilio's bounds), or None."""
    try:
        tags = json.loads(raw).get("tags") if raw else None
    except (ValueError, AttributeError):
        return None
    return tags if isinstance(tags, dict) and tags else None


def event_body(event_type: str, verification: Any, at: float, include_number: bool,
               send_index: int | None = None, status: str | None = None,
               include_tags: bool = True) -> dict[str, Any]:
    """The event as POSTed. Built from the stored verification: it holds no code (only MACs,
    which are left out too). ``at`` is the change's time (the stream record's), so the body is
    the same on every retry. ``tags``: a v2 start's Tags, as Twilio puts them in its
    verification and message status events; the app's own data, so only for its receivers
    (``include_tags``: not on the local page's inbox) and never logged."""
    sends = verification.sends
    index = len(sends) - 1 if send_index is None else send_index
    data: dict[str, Any] = {
        "id": verification.id,
        "to": verification.to if include_number else _masked(verification.to),
        "channel": verification.channel,
        "status": status or verification.status(at),
        "send_count": verification.send_count,
        "attempts": verification.attempts,
    }
    if 0 <= index < len(sends):
        send = sends[index]
        data["send"] = {"index": index, "provider": send.provider, "status": send.status,
                        "error_code": send.error_code}
    tags = _tags(getattr(verification, "metadata", None)) if include_tags else None
    if tags is not None:
        data["tags"] = tags
    stamp = datetime.fromtimestamp(int(at), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": event_type, "timestamp": stamp, "data": data}


class StreamRecordError(Exception):
    """A record this consumer cannot read (not a stream record of this table's shape)."""


def _pending(v: Verification) -> bool:
    """Pending whatever the clock says: not approved, not canceled, attempts left."""
    return not v.approved and v.canceled_at is None and v.attempts < v.max_attempts


def by_ttl(record: Mapping[str, Any]) -> bool:
    identity = record.get("userIdentity") or {}
    return identity.get("type") == "Service" and identity.get("principalId") == TTL_PRINCIPAL


def changes(record: Mapping[str, Any]) -> list[tuple[str, Verification, int | None, str | None]]:
    """(event type, verification, send index or None, status override or None) for each event
    the record implies, in order."""
    ddb = record.get("dynamodb")
    if not isinstance(ddb, Mapping) or record.get("eventName") not in ("INSERT", "MODIFY", "REMOVE"):
        raise StreamRecordError("not a DynamoDB stream record")
    pk = ((ddb.get("Keys") or {}).get("pk") or {}).get("S")
    if not isinstance(pk, str):
        raise StreamRecordError("no pk in Keys")
    if not pk.startswith(NUMBER_ITEM_PREFIX):
        return []
    try:
        old = to_verification(ddb.get("OldImage"))
        new = to_verification(ddb.get("NewImage"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamRecordError(f"an image is not a verification item: {type(exc).__name__}") from None
    found: list[tuple[str, Verification, int | None, str | None]] = []
    if record["eventName"] == "REMOVE":
        if old is not None and by_ttl(record) and _pending(old):
            found.append(("verification.expired", old, None, "expired"))
        return found
    if new is None:
        if old is not None and _pending(old):  # the undo of a start nobody could send
            found.append(("verification.canceled", old, None, "canceled"))
        return found
    if old is None or old.id != new.id:
        if old is not None and _pending(old):  # replaced in place after its expiry
            found.append(("verification.expired", old, None, "expired"))
        found.append(("verification.started", new, None, None))
        return found
    if new.send_count > old.send_count:
        found.append(("verification.resent", new, None, None))
    if new.approved and not old.approved:
        found.append(("verification.approved", new, None, "approved"))
    elif not new.approved and new.attempts >= new.max_attempts > old.attempts:
        found.append(("verification.failed", new, None, "max_attempts_reached"))
    if new.canceled_at is not None and old.canceled_at is None:
        found.append(("verification.canceled", new, None, "canceled"))
    for index, send in enumerate(new.sends[: len(old.sends)]):
        before = old.sends[index]
        same_send = send.at_ms == before.at_ms
        if same_send and (send.status, send.error_code) != (before.status, before.error_code):
            found.append(("delivery.updated", new, index, None))
    return found


def _totp(record: Mapping[str, Any], include_number: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """The TOTP and passkey events of an identity's item (one item holds both)."""
    from chalicelib.events.passkeys import passkey_changes
    from chalicelib.events.totp import TOTP_ITEM_PREFIX, totp_changes

    ddb = record.get("dynamodb") or {}
    pk = ((ddb.get("Keys") or {}).get("pk") or {}).get("S")
    if record.get("eventName") != "MODIFY" or not str(pk).startswith(TOTP_ITEM_PREFIX):
        return []
    try:
        old, new = ddb.get("OldImage"), ddb.get("NewImage")
        mask = (lambda number: number) if include_number else _masked
        return totp_changes(old, new) + passkey_changes(old, new, mask)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise StreamRecordError(f"an image is not a TOTP item: {type(exc).__name__}") from None


def events_of(record: Mapping[str, Any], include_number: bool,
              include_tags: bool = True) -> list[tuple[str, dict[str, Any]]]:
    """(webhook-id, body) for each event of the record (``include_tags``: event_body)."""
    found = changes(record)
    totp = _totp(record, include_number)
    if not found and not totp:
        return []
    event_id = record.get("eventID")
    at = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    if not isinstance(event_id, str) or not event_id or not isinstance(at, (int, float)):
        raise StreamRecordError("no eventID or ApproximateCreationDateTime")
    stamp = datetime.fromtimestamp(int(at), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    bodies = [event_body(kind, verification, at, include_number, index, status, include_tags)
              for kind, verification, index, status in found]
    bodies += [{"type": kind, "timestamp": stamp, "data": data} for kind, data in totp]
    return [("msg_" + event_id + ("" if n == 0 else f".{n + 1}"), body) for n, body in enumerate(bodies)]
