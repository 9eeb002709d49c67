"""WebAuthn's two ceremonies checked as Level 2/3 requires, for attestation "none" (no
certificate chain: the relying party asks for none, so the browser sends none).

The browser's JSON (``PublicKeyCredential.toJSON()``: binary fields as base64url) goes in,
and each check that fails raises ``CeremonyRefused`` naming it (``check``: type, challenge,
origin, rpId, flags, signature, attestation, credential). The challenge is compared here
with the one the caller stored; finding that stored challenge (its single use, its expiry)
is the service's work (chalicelib/passkeys/service.py), from ``client_data`` below.

    registration  clientDataJSON {type "webauthn.create", challenge, origin}, then the
                  attestation object {fmt "none", attStmt {}, authData}: rpIdHash, UP (and
                  UV when required), AT with the credential id and its COSE key
    assertion     clientDataJSON {type "webauthn.get", ...}, authenticatorData (rpIdHash,
                  flags), the signature over authenticatorData || SHA-256(clientDataJSON)
                  with the stored key, and the sign counter (``CounterRegressed``)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from chalicelib.passkeys import cbor, cose

CREATE, GET = "webauthn.create", "webauthn.get"
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80
MAX_CREDENTIAL_ID = 1023  # WebAuthn Level 3's bound
MAX_FIELD = 16384  # characters of one base64url field: a passkey's are far smaller
TRANSPORTS = ("ble", "hybrid", "internal", "nfc", "smart-card", "usb")
_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}", re.ASCII)


class CeremonyRefused(ValueError):
    """A check failed; ``check`` names which (the v1 message says it, v2 answers 60xxx)."""

    def __init__(self, check: str, message: str) -> None:
        super().__init__(message)
        self.check = check


class CounterRegressed(CeremonyRefused):
    """The sign counter did not go up: two authenticators hold the key (a clone)."""

    def __init__(self, stored: int, received: int) -> None:
        super().__init__("counter", f"the sign counter went back ({received} after {stored})")
        self.stored, self.received = stored, received


def b64url_decode(value: object, field: str) -> bytes:
    """base64url, padded or not (toJSON() pads none; some SDK payloads do)."""
    if not isinstance(value, str) or len(value) > MAX_FIELD or not _B64URL.fullmatch(value):
        raise CeremonyRefused("format", f"'{field}' must be a base64url string")
    try:
        return base64.urlsafe_b64decode(value.rstrip("=") + "=" * (-len(value.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise CeremonyRefused("format", f"'{field}' must be a base64url string") from None


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ClientData:
    raw: bytes
    type: str
    challenge: bytes
    origin: str
    cross_origin: bool


@dataclass(frozen=True)
class AuthenticatorData:
    raw: bytes
    rp_id_hash: bytes
    flags: int
    sign_count: int
    aaguid: bytes = b""
    credential_id: bytes = b""
    public_key: bytes = b""  # the COSE key's CBOR, as the authenticator encoded it

    @property
    def user_verified(self) -> bool:
        return bool(self.flags & UV)

    @property
    def backup_eligible(self) -> bool:
        return bool(self.flags & BE)

    @property
    def backed_up(self) -> bool:
        return bool(self.flags & BS)


@dataclass(frozen=True)
class NewCredential:
    """What a registration stores (all public)."""

    credential_id: bytes
    public_key: bytes  # COSE_Key CBOR
    algorithm: int
    sign_count: int
    transports: tuple[str, ...]
    user_verified: bool
    backup_eligible: bool
    backed_up: bool
    aaguid: bytes
    attachment: str | None


@dataclass(frozen=True)
class Assertion:
    credential_id: bytes
    sign_count: int
    user_verified: bool
    backed_up: bool
    user_handle: bytes | None


def _response(credential: object) -> dict[str, Any]:
    if not isinstance(credential, dict):
        raise CeremonyRefused("format", "the credential must be a JSON object")
    if (credential.get("type") or "public-key") != "public-key":  # the SDKs send null for absent
        raise CeremonyRefused("type", "the credential's type must be \"public-key\"")
    response = credential.get("response")
    if not isinstance(response, dict):
        raise CeremonyRefused("format", "'response' must be a JSON object")
    return response


def credential_id(credential: dict[str, Any]) -> bytes:
    """rawId, which ``id`` must equal (both base64url of the same bytes)."""
    raw = b64url_decode(credential.get("rawId") or credential.get("id"), "rawId")
    if credential.get("id") is not None and b64url_decode(credential["id"], "id") != raw:
        raise CeremonyRefused("credential", "'id' and 'rawId' differ")
    if not 1 <= len(raw) <= MAX_CREDENTIAL_ID:
        raise CeremonyRefused("credential", "the credential id is empty or too long")
    return raw


def client_data(credential: object, ceremony: str) -> ClientData:
    """The parsed clientDataJSON of a create() (``CREATE``) or get() (``GET``) result, its type
    checked: the service reads the challenge from it to find what it stored."""
    response = _response(credential)
    raw = b64url_decode(response.get("clientDataJSON"), "clientDataJSON")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CeremonyRefused("format", "clientDataJSON is not JSON") from None
    if not isinstance(data, dict):
        raise CeremonyRefused("format", "clientDataJSON is not a JSON object")
    if data.get("type") != ceremony:
        raise CeremonyRefused("type", f"clientDataJSON's type is not \"{ceremony}\"")
    origin = data.get("origin")
    if not isinstance(origin, str):
        raise CeremonyRefused("origin", "clientDataJSON has no origin")
    challenge = b64url_decode(data.get("challenge"), "challenge")
    return ClientData(raw, ceremony, challenge, origin, data.get("crossOrigin") is True)


def _check_client(client: ClientData, challenge: bytes, origins: Collection[str]) -> None:
    if not hmac.compare_digest(client.challenge, challenge):
        raise CeremonyRefused("challenge", "the challenge is not the one issued")
    if client.origin not in origins:
        raise CeremonyRefused("origin", f"the origin {client.origin[:100]!r} is not the relying party's")
    if client.cross_origin:
        raise CeremonyRefused("origin", "a cross-origin iframe's ceremony is not accepted")


def parse_authenticator_data(raw: bytes, *, attested: bool) -> AuthenticatorData:
    """rpIdHash(32) flags(1) signCount(4) [aaguid(16) idLength(2) id key] [extensions]."""
    if len(raw) < 37:
        raise CeremonyRefused("format", "authenticator data is too short")
    rp_id_hash, flags, count = raw[:32], raw[32], int.from_bytes(raw[33:37], "big")
    if flags & BS and not flags & BE:
        raise CeremonyRefused("flags", "backed up but not backup eligible")
    offset, aaguid, cred_id, key = 37, b"", b"", b""
    if attested:
        if not flags & AT:
            raise CeremonyRefused("flags", "no attested credential data (AT) in a registration")
        if len(raw) < offset + 18:
            raise CeremonyRefused("format", "attested credential data is truncated")
        aaguid, length = raw[37:53], int.from_bytes(raw[53:55], "big")
        offset = 55 + length
        if not 1 <= length <= MAX_CREDENTIAL_ID or offset > len(raw):
            raise CeremonyRefused("format", "the credential id is truncated or too long")
        cred_id = raw[55:offset]
        try:
            _, end = cbor.decode_prefix(raw, offset)
        except cbor.CborError as exc:
            raise CeremonyRefused("format", f"the credential's public key: {exc}") from None
        key, offset = raw[offset:end], end
    elif flags & AT:
        raise CeremonyRefused("flags", "attested credential data (AT) in an assertion")
    if flags & ED:
        try:
            _, offset = cbor.decode_prefix(raw, offset)
        except cbor.CborError as exc:
            raise CeremonyRefused("format", f"the extensions: {exc}") from None
    if offset != len(raw):
        raise CeremonyRefused("format", "bytes after the authenticator data")
    return AuthenticatorData(raw, rp_id_hash, flags, count, aaguid, cred_id, key)


def _check_authenticator(data: AuthenticatorData, rp_id: str, user_verification: str) -> None:
    if not hmac.compare_digest(data.rp_id_hash, hashlib.sha256(rp_id.encode("utf-8")).digest()):
        raise CeremonyRefused("rpId", "the rpIdHash is not the relying party's")
    if not data.flags & UP:
        raise CeremonyRefused("flags", "user presence (UP) is not set")
    if user_verification == "required" and not data.flags & UV:
        raise CeremonyRefused("flags", "user verification (UV) is required and was not performed")


def verify_registration(credential: dict[str, Any], *, challenge: bytes, origins: Collection[str],
                        rp_id: str, user_verification: str = "preferred") -> NewCredential:
    """A create() result, for the challenge the service issued."""
    response = _response(credential)
    _check_client(client_data(credential, CREATE), challenge, origins)
    try:
        attestation = cbor.decode(b64url_decode(response.get("attestationObject"), "attestationObject"))
    except cbor.CborError as exc:
        raise CeremonyRefused("format", f"the attestation object is not CBOR: {exc}") from None
    if not isinstance(attestation, dict) or not isinstance(attestation.get("authData"), bytes):
        raise CeremonyRefused("format", "the attestation object has no authData")
    if attestation.get("fmt") != "none" or attestation.get("attStmt") != {}:
        raise CeremonyRefused("attestation", "only attestation \"none\" is accepted (it is what this "
                                             "relying party asks for)")
    data = parse_authenticator_data(attestation["authData"], attested=True)
    _check_authenticator(data, rp_id, user_verification)
    if credential_id(credential) != data.credential_id:
        raise CeremonyRefused("credential", "rawId is not the authenticator data's credential id")
    try:
        key = cose.parse_key(data.public_key)
    except cose.UnsupportedKey as exc:
        raise CeremonyRefused("algorithm", str(exc)) from None
    transports = response.get("transports") or []
    if not isinstance(transports, list):
        raise CeremonyRefused("format", "'transports' must be a list")
    attachment = credential.get("authenticatorAttachment")
    return NewCredential(
        data.credential_id, data.public_key, key.alg, data.sign_count,
        tuple(sorted({t for t in transports if t in TRANSPORTS})), data.user_verified,
        data.backup_eligible, data.backed_up, data.aaguid,
        attachment if attachment in ("platform", "cross-platform") else None)


def verify_assertion(credential: dict[str, Any], *, challenge: bytes, origins: Collection[str], rp_id: str,
                     public_key: bytes, sign_count: int, user_verification: str = "preferred") -> Assertion:
    """A get() result, for the issued challenge and the stored credential (its key and counter).
    The counter is checked last, after the signature: a forged assertion is refused as one."""
    response = _response(credential)
    client = client_data(credential, GET)
    _check_client(client, challenge, origins)
    data = parse_authenticator_data(b64url_decode(response.get("authenticatorData"), "authenticatorData"),
                                    attested=False)
    _check_authenticator(data, rp_id, user_verification)
    signature = b64url_decode(response.get("signature"), "signature")
    signed = data.raw + hashlib.sha256(client.raw).digest()
    if not cose.parse_key(public_key).verify(signature, signed):
        raise CeremonyRefused("signature", "the signature does not verify with the passkey's public key")
    if (sign_count or data.sign_count) and data.sign_count <= sign_count:
        raise CounterRegressed(sign_count, data.sign_count)  # both 0 (synced passkeys): nothing to compare
    handle = response.get("userHandle")
    return Assertion(credential_id(credential), data.sign_count, data.user_verified, data.backed_up,
                     b64url_decode(handle, "userHandle") if handle else None)
