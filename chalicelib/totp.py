"""Authenticator-app factors (TOTP, RFC 6238 with pyotp): enroll, confirm, challenge, list,
delete. The secret is encrypted by KMS before it is stored (encryption context: the factor's
id), so a table dump holds no secret; a code is accepted once (``last_step`` condition) and
wrong codes are counted per identity and window, as for SMS codes.
"""

from __future__ import annotations

import hmac
import io
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

from chalicelib import errors, telemetry
from chalicelib.codes import CodeHasher, parse_code
from chalicelib.config import Config
from chalicelib.models import InvalidRequest, decode_json_object
from chalicelib.receipts import AMR_TOTP, ReceiptSigner, ReceiptUnavailable
from chalicelib.dynamodb import ConditionFailed
from chalicelib.totp_store import (
    UNVERIFIED,
    VERIFIED,
    DynamoDBTotpStore,
    IdentityItem,
    TotpFactor,
    _to_identity,
)

log = logging.getLogger("verify")

DIGITS, PERIOD, ALGORITHM = 6, 30, "SHA1"
_IDENTITY = re.compile(r"[A-Za-z0-9._@:-]{1,128}", re.ASCII)
_FACTOR_ID = re.compile(r"YF[0-9a-f]{48}", re.ASCII)


class TotpUnavailable(errors.ServiceUnavailable):
    """KMS could not encrypt or decrypt a factor's secret."""


@dataclass(frozen=True)
class Enrollment:
    factor: TotpFactor
    identity: str
    secret: str
    uri: str
    qr_svg: str


# -- requests --------------------------------------------------------------------------------


def parse_identity(raw: object) -> str:
    if not isinstance(raw, str) or not _IDENTITY.fullmatch(raw):
        raise InvalidRequest("'identity' must be 1-128 characters of A-Z a-z 0-9 . _ @ : -")
    return raw


def parse_enroll_request(raw: bytes | None) -> tuple[str, str | None]:
    body = decode_json_object(raw)
    _only(body, ("identity", "label"))
    label = body.get("label")
    if label is not None and (
        not isinstance(label, str) or not 1 <= len(label) <= 64 or not label.isprintable()
    ):
        raise InvalidRequest("'label' must be 1-64 printable characters.")
    return parse_identity(body.get("identity")), label


def parse_code_request(raw: bytes | None, *, challenge: bool) -> tuple[object, str | None, str | None]:
    """(code, identity, factor_id); the code is parsed by the caller, before any lookup."""
    body = decode_json_object(raw)
    _only(body, ("code", "identity", "factor_id") if challenge else ("code",))
    if "code" not in body:
        raise InvalidRequest("'code' is required.")
    if not challenge:
        return body["code"], None, None
    if ("identity" in body) == ("factor_id" in body):
        raise InvalidRequest("Give exactly one of 'identity' and 'factor_id'.")
    factor_id = body.get("factor_id")
    if factor_id is not None and not isinstance(factor_id, str):
        raise InvalidRequest("'factor_id' must be a string.")
    identity = parse_identity(body["identity"]) if "identity" in body else None
    return body["code"], identity, factor_id


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown[:5])}.")


def split_factor_id(raw: object) -> str:
    """The identity key inside a factor id; an id of the wrong shape is simply not found."""
    if not isinstance(raw, str) or not _FACTOR_ID.fullmatch(raw):
        raise errors.FactorNotFound()
    return raw[2:34]


# -- the use cases ---------------------------------------------------------------------------


class TotpService:
    def __init__(
        self, config: Config, store: DynamoDBTotpStore, hasher: CodeHasher, kms: Callable[[], Any],
        receipts: ReceiptSigner, clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._settings = config.totp
        self._store = store
        self._hasher = hasher
        self._kms = kms
        self._receipts = receipts
        self._clock = clock

    def for_app(self, brand: str) -> TotpService:
        """The same rules for another app (a v2 Service): its name is the issuer the
        authenticator app shows. Its identities are its own by name (the v2 layer scopes them)."""
        import dataclasses

        config = dataclasses.replace(self._config, brand_name=brand)
        return TotpService(config, self._store, self._hasher, self._kms, self._receipts,
                           lambda: self._clock())

    @property
    def enabled(self) -> bool:
        return self._settings.key_id is not None

    @property
    def window(self) -> int:
        return self._settings.window

    def identity_key(self, identity: str) -> str:
        return self._hasher.identity_key(identity)

    def enroll(self, identity: str, label: str | None) -> Enrollment:
        import pyotp

        self._require_enabled()
        now = int(self._clock())
        identity_key = self._hasher.identity_key(identity)
        factor_id = "YF" + identity_key + secrets.token_hex(8)
        secret = pyotp.random_base32()  # 32 base32 characters: 160 bits from `secrets`
        factor = TotpFactor(
            id=factor_id, status=UNVERIFIED, label=label or identity,
            secret_ciphertext=self._encrypt(factor_id, secret), created_at=now,
            expires_at=now + self._settings.enroll_ttl_seconds, last_step=0,
        )
        for attempt in range(2):
            try:
                self._store.add(identity_key, identity, factor, self._settings.max_factors)
                break
            except ConditionFailed as exc:
                factors = _to_identity(identity_key, exc.item).factors.values()
                expired = [f.id for f in factors if not f.live(now)]
                if attempt or not expired:
                    raise errors.TooManyFactors() from None
                self._store.remove_expired(identity_key, expired, now)  # then try once more
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
            name=factor.label, issuer_name=self._config.brand_name)
        telemetry.note(factor=factor_id[-16:])
        return Enrollment(factor, identity, secret, uri, qr_svg(uri))

    def confirm(self, factor_id: str, raw_code: object) -> TotpFactor:
        code = parse_code(raw_code, DIGITS)  # format first: no lookup, no attempt used
        self._require_enabled()
        identity_key = split_factor_id(factor_id)
        item = self._store.load(identity_key)
        now = self._clock()
        factor = item.factors.get(factor_id)
        if factor is None or not factor.live(now):
            raise errors.FactorNotFound()
        if factor.status == VERIFIED:
            raise errors.FactorAlreadyVerified()
        self._accept(identity_key, item, [factor], code, now, confirm=True)
        return factor

    def challenge(
        self, raw_code: object, identity: str | None, factor_id: str | None
    ) -> tuple[str, str | None]:
        """(factor id, receipt or None if KMS could not sign)."""
        code = parse_code(raw_code, DIGITS)
        self._require_enabled()
        if factor_id is not None:
            identity_key = split_factor_id(factor_id)
        else:
            identity_key = self._hasher.identity_key(identity or "")
        item = self._store.load(identity_key)
        now = self._clock()
        candidates = [f for f in item.factors.values()
                      if f.status == VERIFIED and (factor_id is None or f.id == factor_id)]
        if not candidates:
            raise errors.FactorNotFound()
        matched, step = self._accept(identity_key, item, candidates, code, now, confirm=False)
        telemetry.metric("TotpApprovals")
        receipt = None
        try:
            receipt = self._receipts.sign(subject=item.identity or "", phone_number=None, amr=AMR_TOTP,
                                          jti=f"{matched.id}.{step}", now=now)
        except ReceiptUnavailable:
            log.error("receipt not signed for factor=%s: KMS unavailable", matched.id[-16:])
            telemetry.metric("ReceiptFailures")
        return matched.id, receipt

    def list(self, identity: str) -> list[TotpFactor]:
        self._require_enabled()
        now = self._clock()
        item = self._store.load(self._hasher.identity_key(identity))
        return sorted((f for f in item.factors.values() if f.live(now)), key=lambda f: (f.created_at, f.id))

    def delete(self, factor_id: str) -> None:
        self._require_enabled()
        try:
            self._store.delete(split_factor_id(factor_id), factor_id)
        except ConditionFailed:
            raise errors.FactorNotFound() from None

    def now(self) -> float:
        return self._clock()

    # -- codes ----------------------------------------------------------------------------

    def _accept(self, identity_key: str, item: IdentityItem, factors: Sequence[TotpFactor], code: str,
                now: float, *, confirm: bool) -> tuple[TotpFactor, int]:
        cfg, settings = self._config, self._settings
        window = int(now) // settings.attempt_window_seconds
        retry_after = max(1, (window + 1) * settings.attempt_window_seconds - int(now))
        if item.attempts_in(window) >= cfg.max_check_attempts:  # no KMS call once locked
            raise errors.MaxAttemptsReached(retry_after=retry_after)
        replayed = False
        for factor in factors:
            step = self._matching_step(factor, code, now)
            if step is None:
                continue
            if step <= factor.last_step:
                replayed = True
                continue
            try:
                self._store.accept(identity_key, factor.id, step, confirm=confirm, now=int(now),
                                   window=window, max_attempts=cfg.max_check_attempts)
                log.info("totp accepted factor=%s confirm=%s", factor.id[-16:], confirm)
                return factor, step
            except ConditionFailed as exc:
                current = _to_identity(identity_key, exc.item)
                if current.attempts_in(window) >= cfg.max_check_attempts:
                    raise errors.MaxAttemptsReached(retry_after=retry_after) from None
                now_factor = current.factors.get(factor.id)
                if now_factor is None or not now_factor.live(now):
                    raise errors.FactorNotFound() from None
                replayed = True  # a concurrent submission of this code won
        if replayed:
            # The right code, already used: refused, but not a guess, so not counted.
            remaining = max(0, cfg.max_check_attempts - item.attempts_in(window))
            raise errors.IncorrectCode(attempts_remaining=remaining)
        stale = [name for name in item.attempts if name != f"attempts_{window}"]
        try:
            count = self._store.count_failure(identity_key, window, cfg.max_check_attempts, stale)
        except ConditionFailed:
            raise errors.MaxAttemptsReached(retry_after=retry_after) from None
        log.info("totp incorrect code identity_key=%s attempts=%d", identity_key[:8], count)
        raise errors.IncorrectCode(attempts_remaining=max(0, cfg.max_check_attempts - count))

    def _matching_step(self, factor: TotpFactor, code: str, now: float) -> int | None:
        """The time step within the window whose code equals ``code`` (earliest unused
        first), compared in constant time; every candidate is computed."""
        import pyotp

        totp = pyotp.TOTP(self._decrypt(factor), digits=DIGITS, interval=PERIOD)
        current = int(now) // PERIOD
        steps = range(current - self._settings.window, current + self._settings.window + 1)
        matches = [step for step in steps
                   if hmac.compare_digest(totp.generate_otp(step).encode("ascii"), code.encode("ascii"))]
        unused = [step for step in matches if step > factor.last_step]
        return unused[0] if unused else (matches[-1] if matches else None)

    # -- KMS ------------------------------------------------------------------------------

    def _encrypt(self, factor_id: str, secret: str) -> bytes:
        answer = self._kms_call("encrypt", KeyId=self._settings.key_id, Plaintext=secret.encode("ascii"),
                                EncryptionContext={"factor_id": factor_id})
        return answer["CiphertextBlob"]

    def _decrypt(self, factor: TotpFactor) -> str:
        # KeyId pins the key: a ciphertext under any other key is refused by KMS.
        answer = self._kms_call("decrypt", KeyId=self._settings.key_id,
                                CiphertextBlob=factor.secret_ciphertext,
                                EncryptionContext={"factor_id": factor.id})
        return answer["Plaintext"].decode("ascii")

    def _kms_call(self, operation: str, **params: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self._kms(), operation)(**params)
        except (BotoCoreError, ClientError) as exc:
            if isinstance(exc, ClientError):
                code = exc.response.get("Error", {}).get("Code")
            else:
                code = type(exc).__name__
            log.error("KMS %s failed: %s", operation, code)
            raise TotpUnavailable() from None

    def _require_enabled(self) -> None:
        if self._settings.key_id is None:
            raise errors.NotFound("Authenticator factors are not enabled (set OTP_TOTP_KEY_ID).")


def qr_svg(uri: str) -> str:
    """The URI as an SVG QR code (PyQRCode: pure Python, small enough for the Lambda zip)."""
    import pyqrcode

    buffer = io.BytesIO()
    pyqrcode.create(uri, error="M", mode="binary").svg(buffer, scale=4, xmldecl=False, svgns=True)
    return buffer.getvalue().decode("ascii")


def factor_body(factor: TotpFactor) -> dict[str, Any]:
    return {"id": factor.id, "status": factor.status, "label": factor.label,
            "created_at": factor.created_at, "digits": DIGITS, "period": PERIOD, "algorithm": ALGORITHM}
