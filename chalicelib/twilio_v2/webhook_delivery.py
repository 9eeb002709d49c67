"""Twilio's Service Webhooks, delivered by the table stream's consumer (chalicelib/events/
posting.py ``deliver_batch(also=...)``), never from the request path: each record's events
go to the webhooks of the Service they belong to, at least once, and a record a webhook did
not take is the one Lambda retries the batch from (then the on-failure queue).

The bodies are Twilio's (https://www.twilio.com/docs/verify/api/webhooks, "Receive, parse, and
verify a webhook"): a form POST (``application/x-www-form-urlencoded``) of ``uuid``, ``type``,
``account_sid``, ``service_sid``, ``entity_identity``, ``factor_sid``, ``factor_type``,
``factor_friendly_name``, ``date_created`` and, for a challenge, ``challenge_sid``,
``challenge_details`` and ``challenge_hidden_details`` (JSON strings), signed as Twilio signs
(``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL and each parameter's name and value,
sorted by name, https://www.twilio.com/docs/usage/security#validating-requests) with the
account's primary auth token. ``v1`` and ``v2`` send the same fields here. The TOTP factors
and challenges are what this service has (Push's are not offered): ``factor.created``,
``factor.verified``, ``factor.deleted`` and ``challenge.approved``; ``challenge.denied`` is a
Push user's answer, so it never fires here.

The extension: the verification events of the stream (``verification.*``) go to the webhooks
that ask for them as JSON (Twilio sends Verify Events as JSON through Event Streams), signed by
Twilio's scheme for a JSON body: the URL gets ``bodySHA256`` (the body's SHA-256, hex) in its
query, and the signature is over that URL alone.

``uuid`` is derived from the stream record's ``eventID``: the same on every retry, so a
receiver drops what it already took (a retry after another webhook refused the record POSTs
only to the webhooks that did not take it: marks on the table, in the item of the events'
URLs' marks for that record). Sent
as ``I-Twilio-Idempotency-Token`` too, as Twilio does. No code and no secret is in any body;
the number is masked unless OTP_EVENTS_INCLUDE_NUMBER, as in the Standard Webhooks events.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlencode

from chalicelib import concurrency, telemetry
from chalicelib.events import StreamRecordError
from chalicelib.events import changes as verification_changes
from chalicelib.events import masked
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.credentials import twilio_signature
from chalicelib.twilio_v2.webhooks import VERIFICATION_EVENTS, subscribed

log = logging.getLogger("verify")
POST_TIMEOUT_SECONDS = 3
TOTP_ITEM_PREFIX = "t#"
# The marks' id: the record's first event's webhook-id ("msg_" + its eventID), whose item the
# events' URLs note in too (chalicelib/events/posting.py InvocationMarks: one read for both).
_MARK = "msg_"


@dataclass(frozen=True)
class TwilioEvent:
    uuid: str
    type: str
    service_sid: str
    fields: dict[str, Any]  # the form's parameters, or (a verification event) the JSON object

    @property
    def json(self) -> bool:
        return self.type.startswith("verification.")


def _uuid(event_id: str, n: int) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(f"{event_id}.{n}".encode()).digest()[:16], version=4))


def twilio_events(record: Mapping[str, Any], account_sid: str, include_number: bool) -> list[TwilioEvent]:
    """The Twilio webhook events a stream record implies, in order (StreamRecordError: not one)."""
    ddb = record.get("dynamodb") or {}
    pk = ((ddb.get("Keys") or {}).get("pk") or {}).get("S")
    if not isinstance(pk, str) or not pk.startswith(("v#", TOTP_ITEM_PREFIX)):
        return []
    event_id, at = record.get("eventID"), ddb.get("ApproximateCreationDateTime")
    if not isinstance(event_id, str) or not event_id or not isinstance(at, (int, float)):
        raise StreamRecordError("no eventID or ApproximateCreationDateTime")
    found: list[tuple[str, str, dict[str, Any]]] = []  # (type, service SID, fields)
    if pk.startswith("v#"):
        for kind, verification, _, status in verification_changes(record):
            if kind in VERIFICATION_EVENTS and verification.scope:  # "": the default Service, no webhooks
                found.append((kind, verification.scope, {
                    "verification_sid": verification.id, "channel": verification.channel,
                    "to": verification.to if include_number else masked(verification.to),
                    "status": status or verification.status(at), "send_count": verification.send_count,
                    "attempts": verification.attempts}))
    elif record.get("eventName") in ("INSERT", "MODIFY", "REMOVE"):
        try:
            found = _totp_changes(ddb.get("OldImage") or {}, ddb.get("NewImage") or {})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StreamRecordError(f"an image is not a TOTP item: {type(exc).__name__}") from None
    stamp = wire.iso(at)
    return [TwilioEvent(_uuid(event_id, n), kind, sid,
                        {"uuid": _uuid(event_id, n), "type": kind, "account_sid": account_sid,
                         "service_sid": sid, **fields, "date_created": stamp})
            for n, (kind, sid, fields) in enumerate(found)]


def _totp_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """factor.created, .verified, .deleted and challenge.approved, from a TOTP item's images
    (chalicelib/totp/store.py: ``service``, ``identity``, ``f_`` factors, ``c_`` challenges);
    nothing for the default Service's identities (no webhooks). Only ids, statuses, labels and
    the challenge's details are read: never a secret's ciphertext."""
    image = new or old
    service = (image.get("service") or {}).get("S")
    if not service:
        return []
    identity = str((image.get("identity") or {}).get("S", ""))
    identity = identity.split(":", 1)[1] if identity.startswith(service + ":") else identity
    before, after = _factors(old), _factors(new)
    found: list[tuple[str, str, dict[str, Any]]] = []

    def factor(kind: str, sid: str, label: str, extra: dict[str, Any] | None = None) -> None:
        found.append((kind, service, {"entity_identity": identity, "factor_sid": sid, "factor_type": "totp",
                                      "factor_friendly_name": label, **(extra or {})}))

    for sid in sorted(after):
        status, label = after[sid]
        if sid not in before:
            factor("factor.created", sid, label)
        if status == "verified" and (sid not in before or before[sid][0] != "verified"):
            factor("factor.verified", sid, label)
    for sid in sorted(set(before) - set(after)):
        factor("factor.deleted", sid, before[sid][1])
    was = _challenges(old)
    for sid, c in sorted(_challenges(new).items()):
        if c["status"] == "approved" and was.get(sid, {}).get("status") != "approved":
            label = (after.get(c["factor"]) or before.get(c["factor"]) or ("", ""))[1]
            details = json.dumps({"message": c.get("message"), "date": None, "fields": []},
                                 separators=(",", ":"))
            factor("challenge.approved", c["factor"], label, {
                "challenge_sid": sid, "challenge_details": details,
                "challenge_hidden_details": c.get("hidden") or "{}"})
    return found


def _factors(image: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """factor SID -> (status, label)."""
    found = {}
    for name, value in image.items():
        if name.startswith("f_") and isinstance(value, Mapping) and "M" in value:
            m = value["M"]
            found[m["id"]["S"]] = (m["status"]["S"], m.get("label", {}).get("S", ""))
    return found


def _challenges(image: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, value in image.items():
        if name.startswith("c_") and isinstance(value, Mapping) and "M" in value:
            m = value["M"]
            found[name[2:]] = {"factor": m["factor"]["S"], "status": m["status"]["S"],
                               "message": m.get("message", {}).get("S"),
                               "hidden": m.get("hidden", {}).get("S")}
    return found


def signed_request(token: str, url: str, event: TwilioEvent) -> tuple[str, bytes, dict[str, str]]:
    """(the URL to POST to, the body, the headers) as Twilio signs them."""
    if event.json:
        raw = json.dumps(event.fields, separators=(",", ":")).encode("utf-8")
        url = url + ("&" if "?" in url else "?") + "bodySHA256=" + hashlib.sha256(raw).hexdigest()
        signature, content_type = twilio_signature(token, url, {}), "application/json"
    else:
        params = {k: str(v) for k, v in event.fields.items() if v is not None}
        raw = urlencode(sorted(params.items())).encode("ascii")
        signature, content_type = twilio_signature(token, url, params), "application/x-www-form-urlencoded"
    return url, raw, {"X-Twilio-Signature": signature, "Content-Type": content_type,
                      "I-Twilio-Idempotency-Token": event.uuid, "User-Agent": "phone-verify-webhooks"}


class WebhookDelivery:
    """``deliver_batch``'s ``also``: one record's Twilio events to their Services' webhooks.

    ``service(sid)``: the Service's settings through the catalog's cache (ServiceCatalog.get),
    so a new webhook is seen within its CACHE_SECONDS; ``token()``: the primary auth token
    (Authenticator.signing_token); ``marks``: which webhooks took a record's events."""

    def __init__(self, service: Callable[[str], Any], account_sid: str, token: Callable[[], str | None],
                 post: Callable[..., Any], marks: Any, include_number: bool = False) -> None:
        self._service = service
        self._account_sid = account_sid
        self._token = token
        self._post = post
        self._marks = marks
        self._include_number = include_number

    def __call__(self, record: Mapping[str, Any], first: bool) -> bool:
        targets = []
        for event in twilio_events(record, self._account_sid, self._include_number):
            service = self._service(event.service_sid)
            for webhook in (service.webhooks if service is not None else ()):
                if subscribed(webhook, event.type):
                    targets.append((hashlib.sha256(f"{event.uuid}.{webhook['sid']}".encode()).hexdigest()[:16],
                                    webhook, event))
        if not targets:
            return True
        token = self._token()
        if token is None:  # revoked since the webhooks were made: retried until one is made
            log.error("twilio webhooks: the account has no auth token to sign with (make auth-token)")
            telemetry.metric("WebhooksUnsigned")
            return False
        mark = _MARK + str(record["eventID"])
        taken = self._marks.taken(mark) if first else set()
        waiting = [t for t in targets if t[0] not in taken]
        posts = [functools.partial(self._send, token, w["url"], e) for _, w, e in waiting]
        outcomes = concurrency.run_all(posts)
        done = {key for (key, _, _), outcome in zip(waiting, outcomes) if outcome.value is True}
        telemetry.metric("WebhooksDelivered", len(done))
        if len(done) == len(waiting):
            return True
        if done:
            self._marks.note(mark, done)
        return False

    def _send(self, token: str, url: str, event: TwilioEvent) -> bool:
        target, raw, headers = signed_request(token, url, event)
        try:
            response = self._post(target, data=raw, headers=headers, timeout=POST_TIMEOUT_SECONDS,
                                  allow_redirects=False)
            return bool(200 <= response.status_code < 300)
        except Exception as exc:  # noqa: BLE001 - connection errors and timeouts
            log.warning("twilio webhook POST failed uuid=%s error=%s", event.uuid, type(exc).__name__)
            return False
