"""Twilio Verify's TOTP resources (Entities, Factors with ``FactorType=totp``, Challenges)
over the TotpService that /v1/totp calls: KMS-encrypted secrets, one use per code, wrong codes
counted per identity. Twilio's answers since its 2021 change: a wrong ``AuthPayload`` leaves
the Factor ``unverified`` (200) and the Challenge ``pending`` (201); too many wrong codes are
60310 for a Factor and 60308 for a Challenge (429, https://www.twilio.com/docs/api/errors/60310,
/60308). An Entity is its identity: nothing is stored for it beyond its Factors."""

from __future__ import annotations

import re
from typing import Any

from chalicelib import errors
from chalicelib.totp import ALGORITHM, DIGITS, MAX_SKEW, PERIOD, CodeRequest
from chalicelib.twilio_v2 import wire

_IDENTITY = re.compile(r"[A-Za-z0-9._@-]{1,64}", re.ASCII)
# Config.* of a TOTP factor this service fixes (RFC 6238 defaults, what every authenticator app reads).
_CONFIG = {"Config.TimeStep": str(PERIOD), "Config.CodeLength": str(DIGITS), "Config.Alg": ALGORITHM.lower()}


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

    def entity(self, service_sid: str, identity: str, base: str, created: bool) -> dict[str, Any]:
        settings, totp, scoped = self._totp(service_sid, identity)
        if not created and not totp.list(scoped):
            raise wire.not_found("The Entity")
        now = wire.iso(totp.now())
        url = f"{base}/v2/Services/{settings.sid}/Entities/{identity}"
        return {"sid": "YE" + totp.identity_key(scoped), "identity": identity,
                "account_sid": self._api.account_sid, "service_sid": settings.sid,
                "date_created": now, "date_updated": now, "url": url,
                "links": {"factors": f"{url}/Factors", "challenges": f"{url}/Challenges"}}

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
        enrollment = totp.enroll(scoped, label, settings.totp_skew if skew is None else skew)  # Totp.Skew
        body = self._factor_body(settings, identity, enrollment.factor, totp, base)
        body["binding"] = {"secret": enrollment.secret, "uri": enrollment.uri}  # on creation only, as Twilio
        return body

    def verify_factor(self, service_sid: str, identity: str, factor_sid: str, form: dict[str, str],
                      base: str) -> dict[str, Any]:
        settings, totp, scoped = self._totp(service_sid, identity)
        _own(totp, scoped, factor_sid)
        _only(form, {"AuthPayload", "FriendlyName"})
        if "AuthPayload" not in form:
            raise wire.invalid("AuthPayload", "is required")
        try:
            factor = _with_status(totp.confirm(factor_sid, CodeRequest(form["AuthPayload"])), "verified")
        except errors.IncorrectCode:  # Twilio: 200, still unverified
            factor = self._listed(totp, scoped, factor_sid)
        except errors.FactorAlreadyVerified:
            raise wire.invalid("AuthPayload", "the factor is already verified") from None
        except errors.MaxAttemptsReached as exc:
            raise wire.TwilioError(60310, 429, "Factor verification attempts reached",
                                   exc.retry_after) from None
        return self._factor_body(settings, identity, factor, totp, base)

    def factors(self, service_sid: str, identity: str, base: str) -> list[dict[str, Any]]:
        settings, totp, scoped = self._totp(service_sid, identity)
        return [self._factor_body(settings, identity, f, totp, base) for f in totp.list(scoped)]

    def fetch_factor(self, service_sid: str, identity: str, factor_sid: str, base: str) -> dict[str, Any]:
        settings, totp, scoped = self._totp(service_sid, identity)
        _own(totp, scoped, factor_sid)
        return self._factor_body(settings, identity, self._listed(totp, scoped, factor_sid), totp, base)

    def delete_factor(self, service_sid: str, identity: str, factor_sid: str) -> None:
        _, totp, scoped = self._totp(service_sid, identity)
        _own(totp, scoped, factor_sid)
        totp.delete(factor_sid)

    def challenge(self, service_sid: str, identity: str, form: dict[str, str], base: str) -> dict[str, Any]:
        settings, totp, scoped = self._totp(service_sid, identity)
        _only(form, {"FactorSid", "AuthPayload"})
        factor_sid, code = form.get("FactorSid"), form.get("AuthPayload")
        if not factor_sid:
            raise wire.invalid("FactorSid", "is required")
        if code is None:
            raise wire.invalid("AuthPayload", "is required")
        _own(totp, scoped, factor_sid)  # no read: the factor's SID names its identity
        receipt, status = None, "approved"
        try:
            _, receipt = totp.challenge(CodeRequest(code, factor_id=factor_sid))
        except errors.IncorrectCode:
            status = "pending"  # Twilio: 201, pending
        except errors.MaxAttemptsReached as exc:
            raise wire.TwilioError(60308, 429, "Challenge verification attempts limit reached",
                                   exc.retry_after) from None
        now = wire.iso(totp.now())
        sid = wire.new_sid("YC")
        body = {"sid": sid, "account_sid": self._api.account_sid, "service_sid": settings.sid,
                "entity_sid": "YE" + totp.identity_key(scoped), "identity": identity,
                "factor_sid": factor_sid, "factor_type": "totp", "status": status, "responded_reason": "none",
                "date_created": now, "date_updated": now,
                "date_responded": now if status == "approved" else None,
                "expiration_date": now, "details": {"message": "", "date": now, "fields": []},
                "hidden_details": {}, "metadata": None,
                "url": f"{base}/v2/Services/{settings.sid}/Entities/{identity}/Challenges/{sid}",
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
                "entity_sid": "YE" + f.id[2:34], "identity": identity, "friendly_name": f.label,
                "status": f.status, "factor_type": "totp", "date_created": wire.iso(f.created_at),
                "date_updated": wire.iso(f.created_at), "metadata": None, "url": url,
                "config": {"alg": ALGORITHM.lower(), "code_length": DIGITS, "time_step": PERIOD,
                           "skew": totp.window(f)}}


def _own(totp: Any, scoped: str, factor_sid: str) -> None:
    """A factor of this identity in this Service (its SID carries the identity's key), else
    20404 before any read; an unverified one is not found by a challenge either (20404)."""
    if not isinstance(factor_sid, str) or factor_sid[2:34] != totp.identity_key(scoped):
        raise wire.not_found("The Factor")


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
