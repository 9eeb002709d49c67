"""A software authenticator for the passkey tests: what a browser's create() and get() give
(``PublicKeyCredential.toJSON()``), made with ``cryptography`` and cbor2 (dev dependencies),
for ES256, EdDSA and RS256 keys, with the flags and counter a test chooses."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _int_bytes(n: int) -> bytes:
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


@dataclass
class SoftAuthenticator:
    alg: int = -7  # -7 ES256, -8 EdDSA, -257 RS256
    origin: str = "http://localhost:8000"
    rp_id: str = "localhost"
    sign_count: int = 0  # the next assertion's counter is this + step (0 stays 0: synced passkeys)
    step: int = 1
    uv: bool = True
    attachment: str = "platform"
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    user_handle: bytes | None = None

    def __post_init__(self) -> None:
        if self.alg == -7:
            self.key: Any = ec.generate_private_key(ec.SECP256R1())
        elif self.alg == -8:
            self.key = ed25519.Ed25519PrivateKey.generate()
        else:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def cose_key(self) -> bytes:
        public = self.key.public_key()
        if self.alg == -7:
            numbers = public.public_numbers()
            return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                                -3: numbers.y.to_bytes(32, "big")})
        if self.alg == -8:
            from cryptography.hazmat.primitives import serialization
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor2.dumps({1: 1, 3: -8, -1: 6, -2: raw})
        numbers = public.public_numbers()
        return cbor2.dumps({1: 3, 3: -257, -1: _int_bytes(numbers.n), -2: _int_bytes(numbers.e)})

    def sign(self, data: bytes) -> bytes:
        if self.alg == -7:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == -8:
            return self.key.sign(data)
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def _flags(self, extra: int = 0) -> int:
        return UP | (UV if self.uv else 0) | BE | BS | extra

    def client_data(self, ceremony: str, challenge: str, origin: str | None = None) -> bytes:
        return json.dumps({"type": ceremony, "challenge": challenge, "origin": origin or self.origin,
                           "crossOrigin": False}, separators=(",", ":")).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
               flags: int | None = None, fmt: str = "none") -> dict[str, Any]:
        """``options``: the creation options' JSON (``publicKey``)."""
        rp_hash = hashlib.sha256((rp_id or options.get("rp", {}).get("id") or self.rp_id).encode()).digest()
        if options.get("user"):
            self.user_handle = unb64url(options["user"]["id"])
        auth_data = (rp_hash + bytes([self._flags(AT) if flags is None else flags])
                     + self.sign_count.to_bytes(4, "big") + bytes(16)
                     + len(self.credential_id).to_bytes(2, "big") + self.credential_id + self.cose_key())
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": {}, "authData": auth_data})
        client = self.client_data("webauthn.create", options["challenge"], origin)
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                "authenticatorAttachment": self.attachment, "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client),
                             "attestationObject": b64url(attestation), "transports": ["internal", "hybrid"]}}

    def get(self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
            flags: int | None = None, count: int | None = None) -> dict[str, Any]:
        """``options``: the request options' JSON (``publicKey``). The counter moves by ``step``
        (unless it is 0 and stays so); ``count`` forces one."""
        if count is None:
            self.sign_count = self.sign_count + self.step if self.sign_count or self.step else 0
            count = self.sign_count
        rp_hash = hashlib.sha256((rp_id or options.get("rpId") or self.rp_id).encode()).digest()
        auth_data = rp_hash + bytes([self._flags() if flags is None else flags]) + count.to_bytes(4, "big")
        client = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.sign(auth_data + hashlib.sha256(client).digest())
        return {"id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
                "authenticatorAttachment": self.attachment, "clientExtensionResults": {},
                "response": {"clientDataJSON": b64url(client), "authenticatorData": b64url(auth_data),
                             "signature": b64url(signature),
                             "userHandle": b64url(self.user_handle) if self.user_handle else None}}
