"""The passkey domain's values: passkeys and sign-in challenges as stored (their item codec),
the relying party, the refusals, and the options the browser's ceremonies take (WebAuthn's JSON,
as ``PublicKeyCredential.parseCreationOptionsFromJSON()`` / ``parseRequestOptionsFromJSON()``
read them)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from chalicelib import errors
from chalicelib.passkeys import cose
from chalicelib.passkeys.webauthn import CeremonyRefused, b64url, b64url_decode


UNVERIFIED, VERIFIED = "unverified", "verified"
PENDING, APPROVED = "pending", "approved"
MAX_CHALLENGES = 10


@dataclass(frozen=True)
class Passkey:
    id: str
    status: str
    label: str
    rp_id: str
    created_at: int
    origins: tuple[str, ...] = ()  # the relying party's, as registered (v2's config; v1 reads its own)
    expires_at: int | None = None  # unverified only
    challenge: bytes = b""  # unverified only
    user_verification: str = "preferred"
    credential_id: bytes = b""
    public_key: bytes = b""
    algorithm: int = 0
    sign_count: int = 0
    transports: tuple[str, ...] = ()
    bound_at: int | None = None
    user_verified: bool = False
    backed_up: bool = False
    backup_eligible: bool = False
    attachment: str | None = None

    def live(self, now: float) -> bool:
        return self.status == VERIFIED or (self.expires_at is not None and now < self.expires_at)


@dataclass(frozen=True)
class SignInChallenge:
    id: str  # YC SID
    challenge: bytes
    factor_id: str  # "" : any of the identity's passkeys
    status: str
    created_at: int
    expires_at: int
    user_verification: str = "preferred"
    responded_at: int | None = None

    def pending(self, now: float) -> bool:
        return self.status == PENDING and now < self.expires_at


@dataclass(frozen=True)
class PasskeyItem:
    identity: str | None
    service: str | None
    passkeys: dict[str, Passkey]  # by factor SID
    challenges: dict[str, SignInChallenge]  # by challenge SID
    receipts: dict[str, int] = field(default_factory=dict)  # attribute -> expiry
    entity_at: int | None = None

    def by_credential(self, credential_id: bytes) -> Passkey | None:
        return next(
            (p for p in self.passkeys.values() if p.status == VERIFIED and p.credential_id == credential_id),
            None,
        )


def identity_pk(identity_key: str) -> str:
    return "t#" + identity_key  # the TOTP factors' item (chalicelib/totp/store.py)


def passkey_attribute(factor_id: str) -> str:
    return "k_" + factor_id[-16:]


def challenge_attribute(challenge_id: str) -> str:
    return "pc_" + challenge_id


def receipt_attribute(jti: str) -> str:

    return "r_" + hashlib.sha256(jti.encode("utf-8")).hexdigest()[:24]



class PasskeyRefused(errors.ServiceError):
    """A ceremony's check failed (``check``: origin, challenge, rpId, flags, signature, ...)."""

    status, code = 400, "invalid_credential"
    message = "The passkey was refused."

    def __init__(self, refused: CeremonyRefused | None = None, **extra: Any) -> None:
        why = f"The passkey was refused ({refused.check}): {refused}." if refused else None
        super().__init__(why, **extra)
        self.check = refused.check if refused else "credential"


class ChallengeNotFound(errors.ServiceError):
    status, code = 404, "challenge_not_found"
    message = "No such challenge: unknown, expired or already used. Ask for a new one."


class CounterWentBack(errors.ServiceError):
    status, code = 403, "counter_regressed"
    message = (
        "The passkey's sign counter went back: another authenticator may hold a copy of it. "
        "It was refused and reported."
    )


class NoPasskey(errors.ServiceError):
    status, code = 404, "no_passkey"
    message = "This number has no passkey here."


class TooManyPasskeys(errors.ServiceError):
    status, code = 409, "too_many_passkeys"
    message = "This number holds the most passkeys allowed; delete one first."


class InvalidReceipt(errors.ServiceError):
    status, code = 400, "invalid_receipt"
    message = "The receipt is not one this service signed for a verified number, or it has expired."


class TooManyPasskeyRequests(errors.LimitExceeded):
    code = "too_many_passkey_requests"
    message = "Too many passkey requests for this number. Try again later."


class ReceiptUsed(errors.ServiceError):
    status, code = 409, "receipt_used"
    message = "This receipt has already registered a passkey; verify the number again."


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkey is for: the site's id (a domain), its name, the origins its pages and apps
    run on, and what its ceremonies ask of the authenticator."""

    id: str
    name: str
    origins: frozenset[str]
    user_verification: str = "preferred"  # required | preferred | discouraged
    resident_key: str = "preferred"  # Twilio's discoverable_credentials
    attachment: str | None = None  # platform | cross-platform; None: any


@dataclass(frozen=True)
class Approval:
    identity: str
    passkey: Passkey
    challenge_id: str  # a discoverable one's too ("YC" + its item's key)
    user_verified: bool
    sign_count: int
    discoverable: bool = False


def amr(passkey: Passkey, user_verified: bool) -> tuple[str, ...]:
    """RFC 8176: "swk" for a synced passkey (backup eligible: a software-held key), "hwk" for a
    device-bound one, and "user" when the authenticator verified the user (PIN, biometrics)."""
    return ("swk" if passkey.backup_eligible else "hwk",) + (("user",) if user_verified else ())



def entity_key(credential: Any) -> str:
    """The identity key from a discoverable assertion's userHandle (the entity SID, "YE" + key)."""
    response = credential.get("response") or {}
    try:
        handle = b64url_decode(response.get("userHandle"), "userHandle").decode("ascii")
    except (CeremonyRefused, UnicodeDecodeError):
        handle = ""
    if len(handle) != 34 or not handle.startswith("YE"):
        raise PasskeyRefused(CeremonyRefused("credential", "the userHandle names no entity"))
    return handle[2:]


def _descriptor(p: Passkey) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "public-key", "id": b64url(p.credential_id)}
    if p.transports:
        found["transports"] = list(p.transports)
    return found


def creation_options(
    passkey: Passkey, item: PasskeyItem, rp: RelyingParty, user_id: str, user_name: str, ttl: int
) -> dict[str, Any]:
    """PublicKeyCredentialCreationOptionsJSON (parseCreationOptionsFromJSON() takes it)."""
    selection: dict[str, Any] = {
        "residentKey": rp.resident_key,
        "requireResidentKey": rp.resident_key == "required",
        "userVerification": rp.user_verification,
    }
    if rp.attachment:
        selection["authenticatorAttachment"] = rp.attachment
    return {
        "rp": {"id": rp.id, "name": rp.name},
        "user": {"id": b64url(user_id.encode("ascii")), "name": user_name, "displayName": user_name},
        "challenge": b64url(passkey.challenge),
        "pubKeyCredParams": [{"type": "public-key", "alg": alg} for alg in cose.ALGORITHMS],
        "timeout": ttl * 1000,
        "excludeCredentials": [_descriptor(p) for p in item.passkeys.values() if p.status == VERIFIED],
        "authenticatorSelection": selection,
        "attestation": "none",
    }


def request_options(challenge: bytes, allowed: list[Passkey], rp: RelyingParty, ttl: int) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptionsJSON (parseRequestOptionsFromJSON() takes it)."""
    return {
        "challenge": b64url(challenge),
        "rpId": rp.id,
        "timeout": ttl * 1000,
        "allowCredentials": [_descriptor(p) for p in allowed],
        "userVerification": rp.user_verification,
    }


def _passkey_value(p: Passkey) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": {"S": p.id},
        "status": {"S": p.status},
        "label": {"S": p.label},
        "rp": {"S": p.rp_id},
        "created_at": {"N": str(p.created_at)},
        "uv": {"S": p.user_verification},
        "origins": {"L": [{"S": o} for o in p.origins]},
    }
    if p.status == UNVERIFIED:
        fields.update(challenge={"B": p.challenge}, expires_at={"N": str(p.expires_at or 0)})
        return fields
    fields.update(
        cred={"B": p.credential_id},
        key={"B": p.public_key},
        alg={"N": str(p.algorithm)},
        count={"N": str(p.sign_count)},
        transports={"L": [{"S": t} for t in p.transports]},
        bound_at={"N": str(p.bound_at or 0)},
        user_verified={"BOOL": p.user_verified},
        be={"BOOL": p.backup_eligible},
        bs={"BOOL": p.backed_up},
        challenge={"B": p.challenge},
    )
    if p.attachment:
        fields["attachment"] = {"S": p.attachment}
    return fields


def _challenge_value(c: SignInChallenge) -> dict[str, Any]:
    return {
        "challenge": {"B": c.challenge},
        "factor": {"S": c.factor_id},
        "status": {"S": c.status},
        "created": {"N": str(c.created_at)},
        "expires": {"N": str(c.expires_at)},
        "uv": {"S": c.user_verification},
    }


def to_item(item: dict[str, Any] | None) -> PasskeyItem:
    item = item or {}
    passkeys, challenges, receipts = {}, {}, {}
    for name, value in item.items():
        if name.startswith("k_") and "M" in value:
            m = value["M"]
            p = Passkey(
                id=m["id"]["S"],
                status=m["status"]["S"],
                label=m["label"]["S"],
                rp_id=m["rp"]["S"],
                created_at=int(m["created_at"]["N"]),
                origins=tuple(o["S"] for o in m.get("origins", {}).get("L", [])),
                expires_at=int(m["expires_at"]["N"]) if "expires_at" in m else None,
                challenge=bytes(m["challenge"]["B"]) if "challenge" in m else b"",
                user_verification=m.get("uv", {}).get("S", "preferred"),
                credential_id=bytes(m["cred"]["B"]) if "cred" in m else b"",
                public_key=bytes(m["key"]["B"]) if "key" in m else b"",
                algorithm=int(m.get("alg", {}).get("N", 0)),
                sign_count=int(m.get("count", {}).get("N", 0)),
                transports=tuple(t["S"] for t in m.get("transports", {}).get("L", [])),
                bound_at=int(m["bound_at"]["N"]) if "bound_at" in m else None,
                user_verified=m.get("user_verified", {}).get("BOOL", False),
                backup_eligible=m.get("be", {}).get("BOOL", False),
                backed_up=m.get("bs", {}).get("BOOL", False),
                attachment=m.get("attachment", {}).get("S"),
            )
            passkeys[p.id] = p
        elif name.startswith("pc_") and "M" in value:
            m = value["M"]
            challenges[name[3:]] = SignInChallenge(
                id=name[3:],
                challenge=bytes(m["challenge"]["B"]),
                factor_id=m["factor"]["S"],
                status=m["status"]["S"],
                created_at=int(m["created"]["N"]),
                expires_at=int(m["expires"]["N"]),
                user_verification=m.get("uv", {}).get("S", "preferred"),
                responded_at=int(m["responded"]["N"]) if "responded" in m else None,
            )
        elif name.startswith("r_") and "N" in value:
            receipts[name] = int(value["N"])
    return PasskeyItem(
        item.get("identity", {}).get("S"),
        item.get("service", {}).get("S"),
        passkeys,
        challenges,
        receipts,
        int(item["entity_at"]["N"]) if "entity_at" in item else None,
    )
