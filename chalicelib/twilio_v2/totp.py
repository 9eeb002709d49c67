"""Twilio Verify's TOTP resources (Entities, Factors with ``FactorType=totp``, Challenges)
over the TotpService that /v1/totp calls: KMS-encrypted secrets, one use per code, wrong codes
counted per identity. Twilio's answers since its 2021 change: a wrong ``AuthPayload`` leaves
the Factor ``unverified`` (200) and the Challenge ``pending`` (201); too many wrong codes are
60310 for a Factor and 60308 for a Challenge (429, https://www.twilio.com/docs/api/errors/60310,
/60308). An Entity is its identity's item, made by its creation or its first Factor's; it
holds its Factors and Challenges (chalicelib/factors/entities.py), so deleting it deletes them.
A Challenge without ``AuthPayload`` stays pending until an update brings the code, checked by
the same use case as every code (chalicelib/totp/challenges.py)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from chalicelib import errors
from chalicelib.totp import ALGORITHM, DIGITS, MAX_SKEW, PERIOD, CodeRequest
from chalicelib.totp import EntityService
from chalicelib.factors import EXPIRED, ChallengeEnded, TooManyEntities, hidden_details
from chalicelib.twilio_v2 import wire

_IDENTITY = re.compile(r"[A-Za-z0-9._@-]{1,64}", re.ASCII)
# Config.* of a TOTP factor this service fixes (RFC 6238 defaults, what every authenticator app reads).
_CONFIG = {"Config.TimeStep": str(PERIOD), "Config.CodeLength": str(DIGITS), "Config.Alg": ALGORITHM.lower()}
_PUSH = ("Config.NotificationToken", "Config.SdkVersion", "Config.NotificationPlatform")  # push factors only
_STATUSES = ("pending", "expired", "approved", "denied")  # Twilio's challenge_statuses


class TotpResources:
    def __init__(self, api: Any, get_totp: Any) -> None:
        self._api = api
        self._get_totp = get_totp

    def _totp(self, service_sid: str, identity: str) -> tuple[Any, Any, str]:
        """(Service settings, its TotpService, the identity as the domain knows it)."""
        settings = self._api.app(service_sid)[0]
        if not _IDENTITY.fullmatch(identity):
            raise wire.invalid("Identity", "1-64 characters of A-Z a-z 0-9 . _ @ -")
        totp = self._get_totp()
        if not totp.enabled:
            raise wire.invalid("FactorType", "authenticator apps are not enabled here (OTP_TOTP_KEY_ID)")
        if settings.default:
            return settings, totp, identity
        # Another Service's "alice" is another person: the Service's SID scopes the name.
        issuer = settings.totp_issuer or settings.friendly_name  # the Service's Totp.Issuer
        return settings, totp.for_app(issuer, settings.sid), f"{settings.sid}:{identity}"

    def _entities(self, service_sid: str, identity: str) -> tuple[Any, EntityService, str]:
        settings, totp, scoped = self._totp(service_sid, identity)
        return settings, EntityService(totp, settings.sid), scoped

    def entity(self, service_sid: str, identity: str, base: str, created: bool) -> dict[str, Any]:
        settings, entities, scoped = self._entities(service_sid, identity)
        try:
            at = entities.create(scoped) if created else entities.get(scoped)
        except TooManyEntities:
            raise wire.invalid("Identity", "this Service holds the most entities allowed; delete some"
                               ) from None
        except errors.NotFound:
            raise wire.not_found("The Entity") from None
        return self._entity_body(settings, identity, self._get_totp().identity_key(scoped), at, base)

    def entities(self, service_sid: str, base: str) -> list[dict[str, Any]]:
        settings = self._api.app(service_sid)[0]
        if not self._get_totp().enabled:
            raise wire.invalid("FactorType", "authenticator apps are not enabled here (OTP_TOTP_KEY_ID)")
        totp = self._get_totp()
        totp = totp if settings.default else totp.for_app(settings.friendly_name, settings.sid)
        prefix = "" if settings.default else f"{settings.sid}:"
        return [self._entity_body(settings, e.identity.removeprefix(prefix), e.identity_key, e.created_at,
                                  base) for e in EntityService(totp, settings.sid).all()]

    def delete_entity(self, service_sid: str, identity: str) -> None:
        _, entities, scoped = self._entities(service_sid, identity)
        try:
            entities.delete(scoped)
        except errors.NotFound:
            raise wire.not_found("The Entity") from None

    def _entity_body(self, settings: Any, identity: str, key: str, at: int, base: str) -> dict[str, Any]:
        url = f"{base}/v2/Services/{settings.sid}/Entities/{identity}"
        return {"sid": "YE" + key, "identity": identity, "account_sid": self._api.account_sid,
                "service_sid": settings.sid, "date_created": wire.iso(at), "date_updated": wire.iso(at),
                "url": url, "links": {"factors": f"{url}/Factors", "challenges": f"{url}/Challenges"}}

    def create_factor(self, service_sid: str, identity: str, form: dict[str, str], base: str) -> dict:
        settings, totp, scoped = self._totp(service_sid, identity)
        for name in sorted(form):
            if name not in ("FactorType", "FriendlyName", *_CONFIG, "Config.Skew"):
                raise wire.invalid(name, "not supported by this service")
            if name in _CONFIG and form[name].lower() != _CONFIG[name].lower():
                raise wire.invalid(name, f"this service uses {_CONFIG[name]}")
        if form.get("FactorType") != "totp":
            raise wire.invalid("FactorType", "this service has totp factors only")
        label = form.get("FriendlyName") or identity
        if len(label) > 64 or not label.isprintable():
            raise wire.invalid("FriendlyName", "at most 64 printable characters")
        skew = _skew(form.get("Config.Skew"))
        EntityService(totp, settings.sid).ensure(scoped)  # the entity exists from its first factor
        enrollment = totp.enroll(scoped, label, settings.totp_skew if skew is None else skew)  # Totp.Skew
        body = self._factor_body(settings, identity, enrollment.factor, totp, base)
        body["binding"] = {"secret": enrollment.secret, "uri": enrollment.uri}  # on creation only, as Twilio
        body["options"] = None  # passkeys' creation options; null for TOTP (the document's createTotp)
        return body

    def verify_factor(self, service_sid: str, identity: str, factor_sid: str, form: dict[str, str],
                      base: str) -> dict[str, Any]:
        """Twilio's UpdateFactor: AuthPayload verifies it (once); FriendlyName and Config.Skew
        change it; Config.TimeStep, CodeLength and Alg are what the authenticator app was set up
        with (its QR code), so they stay (the same value is accepted); push's fields are refused."""
        settings, totp, scoped = self._totp(service_sid, identity)
        _own(totp, scoped, factor_sid)
        _only(form, {"AuthPayload", "FriendlyName", "Config.Skew", *_CONFIG, *_PUSH})
        for name in _PUSH:
            if name in form:
                raise wire.invalid(name, "for push factors only; this service has totp factors")
        for name, value in _CONFIG.items():
            if name in form and form[name].lower() != value.lower():
                raise wire.invalid(name, f"fixed at {value}: the authenticator app was set up with it "
                                   "(enroll a new factor to change it)")
        label = form.get("FriendlyName")
        if label is not None and (not 1 <= len(label) <= 64 or not label.isprintable()):
            raise wire.invalid("FriendlyName", "1-64 printable characters")
        skew = _skew(form.get("Config.Skew"))
        factor = self._listed(totp, scoped, factor_sid)
        if label is not None or skew is not None:
            EntityService(totp, settings.sid).update_factor(scoped, factor_sid, label, skew)
            factor = self._listed(totp, scoped, factor_sid)
        if "AuthPayload" in form:
            try:
                confirmed = totp.confirm(factor_sid, CodeRequest(form["AuthPayload"], scoped))
                factor = _with_status(confirmed, "verified")
            except errors.IncorrectCode:  # Twilio: 200, still unverified
                factor = self._listed(totp, scoped, factor_sid)
            except errors.FactorAlreadyVerified:
                raise wire.invalid("AuthPayload", "the factor is already verified") from None
            except errors.MaxAttemptsReached as exc:
                raise wire.TwilioError(60310, 429, "Factor verification attempts reached",
                                       exc.retry_after) from None
        return self._factor_body(settings, identity, factor, totp, base)

    def factors(self, service_sid: str, identity: str, base: str) -> list[dict[str, Any]]:
        """The entity's TOTP factors, then its passkeys (twilio_v2/passkeys.py): one item holds both."""
        settings, totp, scoped = self._totp(service_sid, identity)
        return [self._factor_body(settings, identity, f, totp, base) for f in totp.list(scoped)] + \
            self._api.passkeys.factors(settings, identity, base)

    def fetch_factor(self, service_sid: str, identity: str, factor_sid: str, base: str) -> dict[str, Any]:
        settings, totp, scoped = self._totp(service_sid, identity)
        passkey = self._api.passkeys.factor(settings, identity, factor_sid, base)
        if passkey is not None:
            return passkey
        _own(totp, scoped, factor_sid)
        return self._factor_body(settings, identity, self._listed(totp, scoped, factor_sid), totp, base)

    def delete_factor(self, service_sid: str, identity: str, factor_sid: str) -> None:
        settings, totp, scoped = self._totp(service_sid, identity)
        if self._api.passkeys.delete(settings, identity, factor_sid):
            return
        _own(totp, scoped, factor_sid)
        totp.delete(factor_sid, scoped)

    def challenge(self, service_sid: str, identity: str, form: dict[str, str], base: str) -> dict[str, Any]:
        settings, entities, scoped = self._entities(service_sid, identity)
        _only(form, {"FactorSid", "AuthPayload", "ExpirationDate", "Details.Message", "HiddenDetails",
                     "Details.Fields"})
        if "Details.Fields" in form:
            raise wire.invalid("Details.Fields", "for push challenges only; this service has totp factors")
        factor_sid = form.get("FactorSid")
        if not factor_sid:
            raise wire.invalid("FactorSid", "is required")
        message, hidden = form.get("Details.Message"), form.get("HiddenDetails")
        if message is not None and not 1 <= len(message) <= 256:
            raise wire.invalid("Details.Message", "1-256 characters")
        if hidden is not None:
            try:
                hidden = hidden_details(hidden)
            except ValueError as exc:
                raise wire.invalid("HiddenDetails", str(exc)) from None
        _own(self._get_totp(), scoped, factor_sid)  # no read: the path names the factor's identity
        expires = _expiration(form.get("ExpirationDate"), self._get_totp().now())
        with _challenge_errors():
            challenge, receipt = entities.challenge(scoped, factor_sid, form.get("AuthPayload"), expires,
                                                    message, hidden)
        return self._challenge_body(settings, scoped, identity, challenge, receipt, base)

    def challenges(self, service_sid: str, identity: str, query: dict[str, str], base: str) -> list[dict]:
        """Twilio's ListChallenge: FactorSid, Status and Order (asc, the default, or desc) filters."""
        settings, entities, scoped = self._entities(service_sid, identity)
        status, order, factor_sid = query.get("Status"), query.get("Order", "asc"), query.get("FactorSid")
        if status is not None and status not in _STATUSES:
            raise wire.invalid("Status", "one of " + ", ".join(_STATUSES))
        if order not in ("asc", "desc"):
            raise wire.invalid("Order", "asc or desc")
        now = self._get_totp().now()
        found = [c for c in entities.challenges(scoped)
                 if factor_sid in (None, c.factor_id) and status in (None, c.state(now))]
        bodies = [self._challenge_body(settings, scoped, identity, c, None, base) for c in found]
        passkeys = [b for b in self._api.passkeys.challenges(settings, identity, base)  # the same item's
                    if factor_sid in (None, b["factor_sid"]) and status in (None, b["status"])]
        if passkeys:
            bodies = sorted(bodies + passkeys, key=lambda b: b["date_created"])  # stable: each in its order
        return bodies[::-1] if order == "desc" else bodies

    def fetch_challenge(self, service_sid: str, identity: str, challenge_sid: str,
                        base: str) -> dict[str, Any]:
        settings, entities, scoped = self._entities(service_sid, identity)
        passkey = next((b for b in self._api.passkeys.challenges(settings, identity, base)
                        if b["sid"] == challenge_sid), None)
        if passkey is not None:
            return passkey
        try:
            challenge = entities.get_challenge(scoped, challenge_sid)
        except errors.NotFound:
            raise wire.not_found("The Challenge") from None
        return self._challenge_body(settings, scoped, identity, challenge, None, base)

    def update_challenge(self, service_sid: str, identity: str, challenge_sid: str, form: dict[str, str],
                         base: str) -> dict[str, Any]:
        """Twilio's UpdateChallenge with ``AuthPayload``, the TOTP code: approved, or still
        pending (200) after a wrong one, counted as every wrong code is."""
        settings, entities, scoped = self._entities(service_sid, identity)
        _only(form, {"AuthPayload", "Metadata"})
        if "Metadata" in form:
            raise wire.invalid("Metadata", "set by the Verify Push SDK; for push challenges only")
        if "AuthPayload" not in form:
            raise wire.invalid("AuthPayload", "is required for a totp challenge")
        with _challenge_errors():
            try:
                challenge, receipt = entities.respond(scoped, challenge_sid, form["AuthPayload"])
            except errors.NotFound:
                raise wire.not_found("The Challenge") from None
        return self._challenge_body(settings, scoped, identity, challenge, receipt, base)

    def _challenge_body(self, settings: Any, scoped: str, identity: str, c: Any, receipt: str | None,
                        base: str) -> dict[str, Any]:
        now = self._get_totp().now()
        responded = wire.iso(c.responded_at) if c.responded_at else None
        body = {"sid": c.id, "account_sid": self._api.account_sid, "service_sid": settings.sid,
                "entity_sid": "YE" + self._get_totp().identity_key(scoped), "identity": identity,
                "factor_sid": c.factor_id, "factor_type": "totp", "status": c.state(now),
                "responded_reason": "none", "date_created": wire.iso(c.created_at),
                "date_updated": responded or wire.iso(c.created_at), "date_responded": responded,
                "expiration_date": wire.iso(c.expires_at),
                "details": {"message": c.message or "", "date": wire.iso(c.created_at), "fields": []},
                "hidden_details": json.loads(c.hidden) if c.hidden else {}, "metadata": None,
                "url": f"{base}/v2/Services/{settings.sid}/Entities/{identity}/Challenges/{c.id}",
                "links": {"notifications": None}}
        if receipt is not None:
            body["receipt"] = receipt  # this service's extension: the approval's signed receipt
        return body

    def _listed(self, totp: Any, scoped: str, factor_sid: str) -> Any:
        for factor in totp.list(scoped):
            if factor.id == factor_sid:
                return factor
        raise wire.not_found("The Factor")

    def _factor_body(self, s: Any, identity: str, f: Any, totp: Any, base: str) -> dict[str, Any]:
        url = f"{base}/v2/Services/{s.sid}/Entities/{identity}/Factors/{f.id}"
        return {"sid": f.id, "account_sid": self._api.account_sid, "service_sid": s.sid,
                "entity_sid": "YE" + totp.identity_key(_scoped(s, identity)), "identity": identity,
                "friendly_name": f.label,
                "status": f.status, "factor_type": "totp", "date_created": wire.iso(f.created_at),
                "date_updated": wire.iso(f.created_at), "metadata": None, "url": url,
                "config": {"alg": ALGORITHM.lower(), "code_length": DIGITS, "time_step": PERIOD,
                           "skew": totp.window(f)}}


def _own(totp: Any, scoped: str, factor_sid: str) -> None:
    """A Factor SID of this identity in this Service, else 20404 before any read: a
    34-character one is looked for in the identity's item (``TotpService.factor_key``); a
    50-character one (made before them) carries its identity's key, which must be this one's.
    An unverified factor is not found by a challenge either (20404)."""
    try:
        totp.factor_key(factor_sid, scoped)
    except errors.FactorNotFound:
        raise wire.not_found("The Factor") from None


def _scoped(settings: Any, identity: str) -> str:
    """The identity as the domain knows it (``TotpResources._totp``)."""
    return identity if settings.default else f"{settings.sid}:{identity}"


@contextlib.contextmanager
def _challenge_errors() -> Iterator[None]:
    """Twilio's answers for a challenge's code: 60308 after too many wrong codes (429), 60323
    for an expired challenge (403, https://www.twilio.com/docs/api/errors/60323). An approved
    one answers 60200 naming AuthPayload (Twilio's pages are silent there)."""
    try:
        yield
    except errors.MaxAttemptsReached as exc:
        raise wire.TwilioError(60308, 429, "Challenge verification attempts limit reached",
                               exc.retry_after) from None
    except ChallengeEnded as exc:
        if exc.status == EXPIRED:
            raise wire.TwilioError(60323, 403, "Challenge expired") from None
        raise wire.invalid("AuthPayload", f"the challenge is {exc.status} already") from None


def _expiration(raw: str | None, now: float) -> int | None:
    """Twilio's ExpirationDate: ISO 8601, after now and at most 60 minutes after creation."""
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise wire.invalid("ExpirationDate", "an ISO 8601 date and time") from None
    at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    epoch = int(at.timestamp())
    if not now < epoch <= now + 3600:
        raise wire.invalid("ExpirationDate", "after now, at most 60 minutes after the challenge's creation")
    return epoch


def _skew(raw: str | None) -> int | None:
    """Twilio's Config.Skew (https://www.twilio.com/docs/verify/api/factor): 0-2 time steps;
    none given, the factor keeps the stage's OTP_TOTP_WINDOW (1 unless set, Twilio's default)."""
    if raw is None:
        return None
    if raw not in [str(n) for n in range(MAX_SKEW + 1)]:
        raise wire.invalid("Config.Skew", f"0 to {MAX_SKEW}")
    return int(raw)


def _only(form: dict[str, str], allowed: set[str]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")


def _with_status(factor: Any, status: str) -> Any:
    import dataclasses

    return dataclasses.replace(factor, status=status)
