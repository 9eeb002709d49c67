"""One-time codes: generation, strict parsing of what a user typed, and keyed MACs.

The table never holds a code. It holds ``HMAC(code key, number key, code)``, so a dump of
the table cannot be brute-forced offline without the secret, and a code issued for one number
is worthless for another.

Two keys, one job each (NIST SP 800-57 key separation): the code key (OTP_SECRET) keys code
MACs only, so rotating it voids pending codes and nothing else; the identity key
(OTP_IDENTITY_SECRET, the code key when unset) keys every other MAC: item keys, ids, SIDs, API
keys, send references.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Callable

from chalicelib.errors import InvalidCodeFormat

_CODE_PATTERNS: dict[int, re.Pattern[str]] = {}
_REFERENCE = re.compile(r"[0-9a-f]{66}", re.ASCII)


def new_code(length: int) -> str:
    """A uniformly random code of ``length`` ASCII digits, leading zeros kept."""
    return str(secrets.randbelow(10**length)).zfill(length)


def parse_code(raw: object, length: int) -> str:
    """Accept only a str of exactly ``length`` ASCII digits.

    Never ``int()`` a code: Python reads '１２３４５６', ' 12_34 ' and '+0123' as numbers.
    ``re.ASCII`` keeps ``[0-9]`` literal; fullmatch refuses the trailing newline ``$`` allows.
    """
    pattern = _CODE_PATTERNS.get(length)
    if pattern is None:
        pattern = _CODE_PATTERNS[length] = re.compile(f"[0-9]{{{length}}}", re.ASCII)
    if not isinstance(raw, str) or not pattern.fullmatch(raw):
        raise InvalidCodeFormat(f"The code must be a string of exactly {length} digits.")
    return raw


# Twilio's ``Code``: "the 4-10 character string being verified" (twilio_verify_v2's
# CreateVerificationCheck); ASCII letters and digits, as its custom codes are.
_TWILIO_CODE = re.compile(r"[0-9A-Za-z]{4,10}", re.ASCII)


def parse_twilio_code(raw: object) -> str:
    """v2's guess: 4 to 10 ASCII letters or digits, whatever the Service's code length. One
    of another length or with letters is a guess like any other, MACed and counted; it never
    matches (the code is the Service's length of digits). v1 keeps ``parse_code``."""
    if not isinstance(raw, str) or not _TWILIO_CODE.fullmatch(raw):
        raise InvalidCodeFormat("The code must be 4 to 10 ASCII letters or digits.")
    return raw


class CodeHasher:
    """Keyed hashes, each with its own purpose label: code MACs under the code key ``secret``,
    the rest under ``identity_key`` (``secret`` itself when None: one key for both jobs)."""

    def __init__(self, secret: bytes, identity_key: bytes | None = None) -> None:
        if len(secret) < 16 or (identity_key is not None and len(identity_key) < 16):
            raise ValueError("the server secret is too short")
        self._code_key = secret
        self._secret = secret if identity_key is None else identity_key

    def _mac(self, purpose: bytes, *parts: str, key: bytes | None = None) -> bytes:
        message = b"\x00".join([purpose, *(p.encode("utf-8") for p in parts)])
        return hmac.new(key or self._secret, message, hashlib.sha256).digest()

    def number_key(self, e164: str, scope: str = "") -> str:
        """A stable, non-reversible key for a phone number (the table's partition key). An
        app's ``scope`` (a v2 Service) gives the number another key, so each app's
        verifications of one number are apart; the default scope is the stage's own app."""
        if scope:
            return self._mac(b"number", e164, scope)[:16].hex()
        return self._mac(b"number", e164)[:16].hex()

    def derived_sid(self, prefix: str, purpose: str) -> str:
        """A stable Twilio-shaped SID (``prefix`` + 32 hex) that only this secret gives: the
        deployment's account SID and its default Service's."""
        return prefix + self._mac(b"sid", purpose)[:16].hex()

    def api_key_mac(self, key_sid: str, secret: str) -> str:
        """What the table keeps of an API key's secret: a keyed hash, never the secret."""
        return self._mac(b"api-key", key_sid, secret).hex()

    def auth_token(self, generation: int) -> str:
        """The account's auth token of one generation (Twilio's shape: 32 hex, 128 bits):
        derived, so the table keeps only which generations are live and the server can
        recompute the token to sign webhooks (twilio_v2/credentials.py)."""
        return self._mac(b"auth-token", str(generation))[:16].hex()

    def verification_id(self, number_key: str) -> str:
        """``VE`` + 32 hex (Twilio's ``^VE[0-9a-fA-F]{32}$``): a keyed permutation of the
        number key's first 8 bytes and 8 random bytes (``_sid_block``), so two ids of one number
        share nothing an outsider can link. It does not hold the whole number key: the store
        keeps a small lookup item from the SID to it (store.py ``link_sid``), read before a
        by-SID write. Only the server inverts it (a delivery reference carries the whole key
        and the nonce, and gives the SID back: ``read_send_reference``)."""
        return _new_id(bytes.fromhex(number_key), secrets.token_bytes(8), self._sid_block)

    def legacy_verification_id(self, number_key: str, nonce: str) -> str:
        """The 50-character id issued before 34-character SIDs (``VE`` + the number key masked
        by a pad + the nonce): still read wherever it is given (``number_key_of``) for as long
        as such a verification or its delivery references exist."""
        return "VE" + _xor_hex(number_key, self._pad(nonce)) + nonce

    def number_key_of(self, verification_id: str) -> str:
        """The number key inside a 50-character id (see models.require_verification_id); a
        34-character SID holds only part of it (the store's lookup item has the rest)."""
        masked, nonce = verification_id[2:34], verification_id[34:]
        return _xor_hex(masked, self._pad(nonce))

    def _pad(self, nonce: str) -> str:
        return self._mac(b"id-pad", nonce)[:16].hex()

    def _sid_block(self, left: bytes, right: bytes) -> bytes:
        """A keyed permutation of 16 bytes (8 + 8): four Feistel rounds of HMACs under the
        identity key (Luby-Rackoff), as ``_feistel`` below, with their own purpose label."""
        for step in range(1, 5):
            if step % 2:
                right = _xor(right, self._mac(b"sid-round", str(step), left.hex())[:8])
            else:
                left = _xor(left, self._mac(b"sid-round", str(step), right.hex())[:8])
        return left + right

    def send_reference(self, verification_id: str, index: int, number_key: str | None = None) -> str:
        """What a provider gets to name one send in its delivery receipt: no number, no code,
        nothing linkable to the verification id (or to the verification's other sends) without
        the secret; only this server can read it (and it carries a MAC, so a forged one is
        simply unknown). 66 lowercase hex characters: the index, the number key and the id's
        nonce enciphered together, the MAC. A 34-character SID's reference (``number_key``
        required: the SID holds only part of it) sets the index byte's top bit; a 50-character
        id's is as before, so references already sent read as they always did."""
        if len(verification_id) == 34:
            if number_key is None:
                raise ValueError("a 34-character SID's reference needs its number key")
            left, right = self._sid_unblock(bytes.fromhex(verification_id[2:]))
            tweak, key_bytes, nonce = 0x80 | index, bytes.fromhex(number_key), right
            if key_bytes[:8] != left:
                raise ValueError("the number key is not this SID's")
        else:
            tweak = index
            key_bytes = bytes.fromhex(self.number_key_of(verification_id))
            nonce = bytes.fromhex(verification_id[34:])
        body = f"{tweak:02x}{self._feistel(tweak, key_bytes, nonce).hex()}"
        return body + self._mac(b"ref", body)[:8].hex()

    def _sid_unblock(self, block: bytes) -> tuple[bytes, bytes]:
        left, right = block[:8], block[8:]
        for step in range(4, 0, -1):
            if step % 2:
                right = _xor(right, self._mac(b"sid-round", str(step), left.hex())[:8])
            else:
                left = _xor(left, self._mac(b"sid-round", str(step), right.hex())[:8])
        return left, right

    def _round(self, index: int, step: int, half: bytes, size: int) -> bytes:
        return self._mac(b"ref-round", f"{index}.{step}", half.hex())[:size]

    def _feistel(self, index: int, left: bytes, right: bytes) -> bytes:
        """A keyed permutation of (16-byte number key, 8-byte nonce): four Feistel rounds whose
        round functions are HMACs under the server secret (Luby-Rackoff), so every output bit
        depends on both halves and on the send's index."""
        right = _xor(right, self._round(index, 1, left, 8))
        left = _xor(left, self._round(index, 2, right, 16))
        right = _xor(right, self._round(index, 3, left, 8))
        left = _xor(left, self._round(index, 4, right, 16))
        return left + right

    def _unfeistel(self, index: int, block: bytes) -> tuple[bytes, bytes]:
        left, right = block[:16], block[16:]
        left = _xor(left, self._round(index, 4, right, 16))
        right = _xor(right, self._round(index, 3, left, 8))
        left = _xor(left, self._round(index, 2, right, 16))
        right = _xor(right, self._round(index, 1, left, 8))
        return left, right

    def read_send_reference(self, reference: object) -> tuple[str, str, int] | None:
        """(number key, verification id, send index) of a reference, or None if it is not one."""
        if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
            return None
        body, tag = reference[:50], reference[50:]
        if not hmac.compare_digest(self._mac(b"ref", body)[:8].hex().encode(), tag.encode()):
            return None
        tweak = int(body[:2], 16)
        key_bytes, nonce_bytes = self._unfeistel(tweak, bytes.fromhex(body[2:]))
        if tweak & 0x80:  # a 34-character SID's
            return key_bytes.hex(), _new_id(key_bytes, nonce_bytes, self._sid_block), tweak & 0x7F
        number_key, nonce = key_bytes.hex(), nonce_bytes.hex()
        return number_key, self.legacy_verification_id(number_key, nonce), tweak

    def identity_key(self, identity: str) -> str:
        """A stable, non-reversible key for an app's user id (TOTP factors' item key)."""
        return self._mac(b"identity", identity)[:16].hex()

    def source_key(self, network: str) -> str:
        """A non-reversible key for the end user's network (TOTP throttles, totp_limits.py)."""
        return self._mac(b"source", network)[:8].hex()

    def code_mac(self, number_key: str, code: str) -> str:
        """Bound to the number (via its key); the item holds only the current code's MAC,
        so a resend or a new verification kills every earlier code."""
        return self._mac(b"code", number_key, code, key=self._code_key).hex()


def _new_id(number_key: bytes, nonce: bytes, block: Callable[[bytes, bytes], bytes]) -> str:
    return "VE" + block(number_key[:8], nonce).hex()


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b))


def _xor_hex(a: str, b: str) -> str:
    return _xor(bytes.fromhex(a), bytes.fromhex(b)).hex()


def log_ref(verification_id: str) -> str:
    """What logs carry instead of a verification id: a short hash (the id is a bearer
    reference for the server routes; a log reader should not be able to use it)."""
    return hashlib.sha256(verification_id.encode("ascii", "replace")).hexdigest()[:16]


def macs_equal(a: str, b: str) -> bool:
    """Constant-time comparison on equal-length byte strings."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
