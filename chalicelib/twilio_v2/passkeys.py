"""Twilio Verify's four Passkeys routes (twilio_verify_v2: CreateNewFactorPasskey,
UpdatePasskeysFactor, CreateChallengePasskeys, UpdateChallengePasskeys) over the same
PasskeyService the page's v1 routes call (chalicelib/passkeys/): JSON bodies, Twilio's shapes.

- A Factor's relying party and criteria come from its ``config`` or the Service's
  ``Passkeys.*`` parameters (the config's fields win); with neither, Twilio's 60393
  ("Authenticator criteria are missing"). Its entity is created when missing.
- ``pubKeyCredParams`` is WebAuthn's array (ES256, EdDSA, RS256): the document's example shows
  one object, which makes a browser's navigator.credentials.create() throw.
- VerifyFactor and ApproveChallenge name no factor or challenge: the challenge in clientDataJSON
  finds it (chalicelib/passkeys/service.py).
- Refusals: a credential that fails a check 60200 (400) naming the check; a challenge unknown,
  expired or used 20404; a sign counter that went back (a cloned authenticator) 403 20403
  saying so (Twilio's document names no code for it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

from chalicelib import errors
from chalicelib.config import ConfigError
from chalicelib.factors import EntityIndex, TooManyEntities
from chalicelib.passkeys import (
    ChallengeNotFound,
    CounterWentBack,
    NoPasskey,
    PasskeyRefused,
    RelyingParty,
    TooManyPasskeys,
    amr,
)
from chalicelib.settings.passkeys import USER_VERIFICATION, passkey_origins
from chalicelib.twilio_v2 import wire

_IDENTITY = re.compile(r"[A-Za-z0-9._@-]{1,64}", re.ASCII)
_RP_ID = re.compile(r"(localhost|([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})", re.ASCII)
ATTACHMENTS = ("platform", "cross-platform", "any")
CRITERIA_MISSING = (
    60393,
    400,
    "Authenticator criteria are missing: give the Factor's config, or set the "
    "Service's Passkeys.RelyingParty.Id",
)


def passkey_setting(name: str, value: str) -> Any:
    """A Service's Passkeys.* parameter as stored (empty: unset, back to none)."""
    if value == "":
        return None
    field = name.removeprefix("Passkeys.")
    if field == "RelyingParty.Origins":
        return tuple(sorted(_origins(value.split(","), name)))
    return _criterion(field, value, name)


def _criterion(field: str, value: object, name: str) -> str:
    if not isinstance(value, str):
        raise wire.invalid(name, "must be a string")
    if field in ("RelyingParty.Id", "id"):
        if not _RP_ID.fullmatch(value):
            raise wire.invalid(name, "a domain name such as example.com")
        return value
    if field in ("RelyingParty.Name", "name"):
        if not 1 <= len(value) <= 64 or not value.isprintable():
            raise wire.invalid(name, "1-64 printable characters")
        return value
    allowed = (
        ATTACHMENTS if field in ("AuthenticatorAttachment", "authenticator_attachment") else USER_VERIFICATION
    )
    if value not in allowed:
        raise wire.invalid(name, "one of " + ", ".join(allowed))
    return value


def _origins(values: object, name: str) -> frozenset[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise wire.invalid(name, "a list of origins")
    try:
        return passkey_origins(",".join(values), name)
    except ConfigError as exc:
        raise wire.invalid(name, str(exc)) from None


def _object(body: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise wire.invalid(name, "must be a JSON object")
    unknown = sorted(k for k, v in value.items() if k not in allowed and v is not None)
    if unknown:
        raise wire.invalid(f"{name}.{unknown[0]}", "not supported by this service")
    return value


def service_passkeys(s: Any) -> dict[str, Any] | None:
    """A Service's ``passkeys`` field: its Passkeys.* parameters, or null when none is set."""
    values = (s.passkey_rp_id, s.passkey_rp_name, s.passkey_rp_origins, s.passkey_attachment,
              s.passkey_discoverable, s.passkey_user_verification)
    if all(v is None for v in values):
        return None
    return {"relying_party": {"id": s.passkey_rp_id, "name": s.passkey_rp_name,
                              "origins": list(s.passkey_rp_origins) if s.passkey_rp_origins else None},
            "authenticator_attachment": s.passkey_attachment,
            "discoverable_credentials": s.passkey_discoverable,
            "user_verification": s.passkey_user_verification}


class PasskeyResources:
    def __init__(self, api: Any, get_passkeys: Any, receipts: Any) -> None:
        self._api = api
        self._get_passkeys = get_passkeys
        self._receipts = receipts

    def _service(self, service_sid: str) -> tuple[Any, Any]:
        settings = self._api.app(service_sid)[0]
        passkeys = self._get_passkeys()
        return settings, passkeys.for_scope(None if settings.default else settings.sid)

    @staticmethod
    def scoped(settings: Any, identity: str) -> str:
        return identity if settings.default else f"{settings.sid}:{identity}"

    def relying_party(self, settings: Any, config: dict[str, Any]) -> RelyingParty:
        party = _object(config, "relying_party", {"id", "name", "origins"})
        rp_id = party.get("id") or settings.passkey_rp_id
        if not rp_id:
            raise wire.TwilioError(*CRITERIA_MISSING)
        rp_id = _criterion("id", rp_id, "config.relying_party.id")
        name = _criterion(
            "name", party.get("name") or settings.passkey_rp_name or rp_id, "config.relying_party.name"
        )
        if party.get("origins") is not None:
            origins = _origins(party["origins"], "config.relying_party.origins")
        else:
            origins = frozenset(settings.passkey_rp_origins or ()) or frozenset({f"https://{rp_id}"})
        attachment = config.get("authenticator_attachment") or settings.passkey_attachment
        resident = config.get("discoverable_credentials") or settings.passkey_discoverable or "preferred"
        uv = config.get("user_verification") or settings.passkey_user_verification or "preferred"
        attachment = (
            _criterion("authenticator_attachment", attachment, "config.authenticator_attachment")
            if attachment
            else None
        )
        return RelyingParty(
            rp_id,
            name,
            origins,
            _criterion("user_verification", uv, "config.user_verification"),
            _criterion("discoverable_credentials", resident, "config.discoverable_credentials"),
            None if attachment == "any" else attachment,
        )

    # -- the four routes -----------------------------------------------------------------------

    def create_factor(self, service_sid: str, body: dict[str, Any], base: str) -> dict[str, Any]:
        settings, passkeys = self._service(service_sid)
        _only(body, {"friendly_name", "identity", "config"})
        identity, label = body.get("identity"), body.get("friendly_name")
        if not isinstance(identity, str) or not _IDENTITY.fullmatch(identity):
            raise wire.invalid("identity", "1-64 characters of A-Z a-z 0-9 . _ @ -")
        if not isinstance(label, str) or not 1 <= len(label) <= 64 or not label.isprintable():
            raise wire.invalid("friendly_name", "1-64 printable characters")
        config = _object(
            body,
            "config",
            {"relying_party", "authenticator_attachment", "discoverable_credentials", "user_verification"},
        )
        rp = self.relying_party(settings, config)
        scoped = self.scoped(settings, identity)
        key = passkeys.identity_key(scoped)
        index = EntityIndex(passkeys._store._client, passkeys._store._table)
        try:  # the entity first (its index entry: the Service's bound holds before it exists)
            index.add(settings.sid, key, scoped, int(passkeys.now()))
        except TooManyEntities:
            raise wire.invalid(
                "identity", "this Service holds the most entities allowed; delete some"
            ) from None
        with _errors():
            passkey, options = passkeys.register(scoped, label, label, rp, entity=True)
        answer = self.factor_body(settings, identity, key, passkey, base, rp)
        answer.update(binding=None, options={"publicKey": options})
        return answer

    def verify_factor(self, service_sid: str, body: dict[str, Any], base: str) -> dict[str, Any]:
        settings, passkeys = self._service(service_sid)
        with _errors():
            scoped, passkey = passkeys.verify_registration(body)
        identity = scoped.removeprefix(f"{settings.sid}:")
        return self.factor_body(settings, identity, passkeys.identity_key(scoped), passkey, base)

    def create_challenge(self, service_sid: str, body: dict[str, Any], base: str) -> dict[str, Any]:
        settings, passkeys = self._service(service_sid)
        _only(body, {"identity", "factor_sid"})
        identity, factor_sid = body.get("identity"), body.get("factor_sid")
        if factor_sid is not None and (not isinstance(factor_sid, str) or not factor_sid.startswith("YF")):
            raise wire.invalid("factor_sid", "a passkey Factor's SID")
        if identity is not None and (not isinstance(identity, str) or not _IDENTITY.fullmatch(identity)):
            raise wire.invalid("identity", "1-64 characters of A-Z a-z 0-9 . _ @ -")
        scoped = self.scoped(settings, identity) if identity else None
        with _errors():
            if scoped is None and factor_sid is not None:  # the factor names its entity (its SID's lookup)
                scoped = passkeys.identity_of(factor_sid)
                identity = scoped.removeprefix(f"{settings.sid}:")
            rp = self.relying_party(settings, {}) if scoped is None else None
            challenge, allowed, options = passkeys.challenge(scoped, factor_sid, rp)
        key = passkeys.identity_key(scoped) if scoped else None
        answer = self._challenge_body(
            settings,
            identity,
            key,
            challenge.id,
            factor_sid,
            challenge.created_at,
            challenge.expires_at,
            "pending",
            None,
            base,
        )
        answer["options"] = {"publicKey": options}
        return answer

    def approve_challenge(self, service_sid: str, body: dict[str, Any], base: str) -> dict[str, Any]:
        settings, passkeys = self._service(service_sid)
        with _errors():
            approval = passkeys.approve(body)
        now = int(passkeys.now())
        identity = approval.identity.removeprefix(f"{settings.sid}:")
        key = passkeys.identity_key(approval.identity)
        answer = self._challenge_body(
            settings,
            identity,
            key,
            approval.challenge_id,
            approval.passkey.id,
            now,
            now,
            "approved",
            now,
            base,
        )
        answer["options"] = {}  # the document's field (an object): the request options went with the creation
        receipt = self._receipt(identity, approval, now)
        if receipt is not None:
            answer["receipt"] = receipt  # this service's extension: the approval's signed receipt
        return answer

    def _receipt(self, identity: str, approval: Any, now: int) -> str | None:
        from chalicelib.factors import ReceiptUnavailable

        if not self._receipts.enabled:
            return None
        try:
            return self._receipts.sign(
                subject=identity,
                phone_number=None,
                amr=amr(approval.passkey, approval.user_verified),
                jti=approval.challenge_id,
                now=now,
                extra_claims={
                    "passkey_bound_at": approval.passkey.bound_at,
                    "factor_sid": approval.passkey.id,
                },
            )
        except ReceiptUnavailable:
            return None

    # -- passkey factors among the entity's Factors (twilio_v2/totp.py's routes) -------------------

    def factors(self, settings: Any, identity: str, base: str) -> list[dict[str, Any]]:
        passkeys = self._get_passkeys().for_scope(None if settings.default else settings.sid)
        scoped = self.scoped(settings, identity)
        key = passkeys.identity_key(scoped)
        return [self.factor_body(settings, identity, key, p, base) for p in passkeys.passkeys(scoped)]

    def factor(self, settings: Any, identity: str, factor_sid: str, base: str) -> dict[str, Any] | None:
        return next((f for f in self.factors(settings, identity, base) if f["sid"] == factor_sid), None)

    def challenges(self, settings: Any, identity: str, base: str) -> list[dict[str, Any]]:
        """The entity's passkey challenges (a number's or entity's; a discoverable one belongs to
        no entity until it is answered), oldest first, as TOTP's Challenges routes list them."""
        passkeys = self._get_passkeys().for_scope(None if settings.default else settings.sid)
        scoped = self.scoped(settings, identity)
        key, now = passkeys.identity_key(scoped), passkeys.now()
        found = sorted(passkeys.load(scoped).challenges.values(), key=lambda c: (c.created_at, c.id))
        return [self._challenge_body(settings, identity, key, c.id, c.factor_id or None, c.created_at,
                                     c.expires_at, "expired" if c.status == "pending" and not c.pending(now)
                                     else c.status, c.responded_at, base) for c in found]

    def delete(self, settings: Any, identity: str, factor_sid: str) -> bool:
        """Whether ``factor_sid`` was one of the entity's passkeys (now deleted)."""
        passkeys = self._get_passkeys().for_scope(None if settings.default else settings.sid)
        scoped = self.scoped(settings, identity)
        if not any(p.id == factor_sid for p in passkeys.passkeys(scoped)):
            return False
        with _errors():
            passkeys.delete(scoped, factor_sid)
        return True

    # -- bodies --------------------------------------------------------------------------------

    def factor_body(
        self, s: Any, identity: str, key: str, p: Any, base: str, rp: RelyingParty | None = None
    ) -> dict[str, Any]:
        url = f"{base}/v2/Services/{s.sid}/Entities/{identity}/Factors/{p.id}"
        origins = sorted(rp.origins) if rp else list(p.origins)
        return {
            "sid": p.id,
            "account_sid": self._api.account_sid,
            "service_sid": s.sid,
            "entity_sid": "YE" + key,
            "identity": identity,
            "friendly_name": p.label,
            "status": p.status,
            "factor_type": "passkeys",
            "date_created": wire.iso(p.created_at),
            "date_updated": wire.iso(p.bound_at or p.created_at),
            "config": {
                "relying_party": {"id": p.rp_id, "name": rp.name if rp else p.rp_id, "origins": origins},
                "authenticator_attachment": (rp.attachment if rp else p.attachment) or "any",
                "discoverable_credentials": rp.resident_key if rp else "preferred",
                "user_verification": p.user_verification,
            },
            "metadata": None,
            "url": url,
        }

    def _challenge_body(
        self,
        s: Any,
        identity: str | None,
        key: str | None,
        sid: str,
        factor_sid: str | None,
        created: int,
        expires: int,
        status: str,
        responded: int | None,
        base: str,
    ) -> dict:
        where = f"{base}/v2/Services/{s.sid}/Entities/{identity}/Challenges/{sid}" if identity else None
        return {
            "sid": sid,
            "account_sid": self._api.account_sid,
            "service_sid": s.sid,
            "entity_sid": "YE" + key if key else None,
            "identity": identity,
            "factor_sid": factor_sid,
            "date_created": wire.iso(created),
            "date_updated": wire.iso(responded or created),
            "date_responded": wire.iso(responded) if responded else None,
            "expiration_date": wire.iso(expires),
            "status": status,
            "responded_reason": "none",
            "details": None,
            "hidden_details": None,
            "metadata": None,
            "factor_type": "passkeys",
            "url": where,
            "links": {"notifications": None},
        }


def _only(body: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(k for k, v in body.items() if k not in allowed and v is not None)
    if unknown:
        raise wire.invalid(unknown[0], "not supported by this service")


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """The passkey domain's refusals in Twilio's shape."""
    try:
        yield
    except PasskeyRefused as exc:
        raise wire.TwilioError(60200, 400, f"Invalid parameter `response`: {exc.message}") from None
    except ChallengeNotFound:
        raise wire.not_found("The Challenge") from None
    except CounterWentBack as exc:
        raise wire.TwilioError(20403, 403, exc.message) from None
    except NoPasskey:
        raise wire.not_found("A verified passkey Factor") from None
    except TooManyPasskeys as exc:
        raise wire.invalid("identity", exc.message) from None
    except errors.FactorNotFound:
        raise wire.not_found("The Entity") from None
