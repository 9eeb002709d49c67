"""Authenticator-app factors (TOTP, RFC 6238 with pyotp): enroll, confirm, challenge, list,
delete. The secret is encrypted by KMS before it is stored (encryption context: the factor's
id), so a table dump holds no secret; a code is accepted once (``last_step`` condition), and
wrong codes (replays included) slow down and finally suspend a factor (chalicelib/totp/limits.py).
"""

from __future__ import annotations

import hmac
import io
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.totp import limits as totp_limits
from chalicelib.codes import CodeHasher, parse_code
from chalicelib.config import Config
from chalicelib.errors import InvalidRequest
from chalicelib.factors import ReceiptBinding, parse_binding
from chalicelib.http import decode_json_object
from chalicelib.factors import AMR_TOTP, ReceiptSigner, ReceiptUnavailable
from chalicelib.dynamodb import ConditionFailed
from chalicelib.factors import ChallengeChange, to_prune
from chalicelib.totp.store import (
    UNVERIFIED,
    VERIFIED,
    DynamoDBTotpStore,
    Expected,
    IdentityItem,
    TotpFactor,
    _to_identity,
)

log = logging.getLogger("verify")
# Decisions retried after a concurrent write changed the counters. Each retry means another
# request's write landed, so the loop ends well before this under any real contention.
MAX_DECISIONS = 25

DIGITS, PERIOD, ALGORITHM = 6, 30, "SHA1"
MAX_SKEW = 2  # a factor's window at most (as OTP_TOTP_WINDOW and Twilio's Config.Skew)
_IDENTITY = re.compile(r"[A-Za-z0-9._@:-]{1,128}", re.ASCII)
# How the v2 layer names a Service's user to this module (twilio_v2/totp.py): v1 may not.
_SCOPED = re.compile(r"VA[0-9a-f]{32}:", re.ASCII)
_FACTOR_ID = re.compile(r"YF[0-9a-f]{48}", re.ASCII)  # before 34-character SIDs: the identity key inside
_FACTOR_SID = re.compile(r"YF[0-9a-f]{32}", re.ASCII)  # Twilio's pattern (chalicelib/factors/sid_links.py)


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
    if _SCOPED.match(raw):
        raise InvalidRequest("'identity' may not begin with a v2 Service's SID and ':' (its users' names).")
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


@dataclass(frozen=True)
class CodeRequest:
    code: object  # parsed by the service, before any lookup
    identity: str | None = None
    factor_id: str | None = None
    device_ip: str | None = None  # the end user's network (totp_limits.parse_device_ip)
    binding: ReceiptBinding | None = None  # nonce and purpose, carried into the receipt


def parse_code_request(raw: bytes | None, *, challenge: bool) -> CodeRequest:
    body = decode_json_object(raw)
    _only(body, ("code", "identity", "factor_id", "device_ip", "nonce", "purpose") if challenge
          else ("code", "device_ip"))
    if "code" not in body:
        raise InvalidRequest("'code' is required.")
    device_ip = totp_limits.parse_device_ip(body.get("device_ip"))
    if not challenge:
        return CodeRequest(body["code"], device_ip=device_ip)
    if ("identity" in body) == ("factor_id" in body):
        raise InvalidRequest("Give exactly one of 'identity' and 'factor_id'.")
    factor_id = body.get("factor_id")
    if factor_id is not None and not isinstance(factor_id, str):
        raise InvalidRequest("'factor_id' must be a string.")
    identity = parse_identity(body["identity"]) if "identity" in body else None
    return CodeRequest(body["code"], identity, factor_id, device_ip, parse_binding(body))


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidRequest(f"Unknown field(s): {', '.join(unknown[:5])}.")


def new_factor_sid() -> str:
    """Twilio's 34 characters, random: v1 finds the factor's item by the SID's lookup item."""
    return "YF" + secrets.token_hex(16)


def split_factor_id(raw: object) -> str:
    """The identity key inside a 50-character factor id (made before 34-character SIDs, and
    kept for ever: factors do not expire); any other value is simply not found here
    (``TotpService.factor_key`` reads both)."""
    if not isinstance(raw, str) or not _FACTOR_ID.fullmatch(raw):
        raise errors.FactorNotFound()
    return raw[2:34]


# -- the use cases ---------------------------------------------------------------------------


class TotpService:
    def __init__(
        self, config: Config, store: DynamoDBTotpStore, hasher: CodeHasher, kms: Callable[[], Any],
        receipts: ReceiptSigner, clock: Callable[[], float] = time.time, scope: str | None = None,
    ) -> None:
        self._config = config
        self._scope = scope  # the v2 Service whose factors these are; None: the default Service (v1)
        self._settings = config.totp
        self._store = store
        self._hasher = hasher
        self._kms = kms
        self._receipts = receipts
        self._clock = clock

    def for_app(self, brand: str, scope: str) -> TotpService:
        """The same rules for another app (the v2 Service ``scope``, its SID): its name is the
        issuer the authenticator app shows. Its identities are its own by name (the v2 layer
        scopes them) and its items carry its SID, which every write's condition checks."""
        config = replace(self._config, brand_name=brand)
        return TotpService(config, self._store, self._hasher, self._kms, self._receipts,
                           lambda: self._clock(), scope)

    @property
    def enabled(self) -> bool:
        return self._settings.key_id is not None

    def window(self, factor: TotpFactor | None = None) -> int:
        """The time steps accepted either side of now: the factor's own skew, else the stage's."""
        if factor is not None and factor.skew is not None:
            return factor.skew
        return self._settings.window

    def identity_key(self, identity: str) -> str:
        return self._hasher.identity_key(identity)

    def factor_key(self, factor_id: object, identity: str | None = None) -> str:
        """The identity key of a factor's item: inside a 50-character id; for a 34-character
        SID, the key of ``identity`` (v2's path names it) or, named by the SID alone (v1), the
        SID's lookup item (one strongly consistent read). Either way the factor must then be in
        that item, of this Service (every write's condition and ``_ours``): a SID of another
        identity or Service is simply not found."""
        if isinstance(factor_id, str) and _FACTOR_SID.fullmatch(factor_id):
            if identity is not None:
                return self._hasher.identity_key(identity)
            link = self._store.resolve_sid(factor_id)
            if link is None:
                raise errors.FactorNotFound()
            return link[0]
        key = split_factor_id(factor_id)
        if identity is not None and key != self._hasher.identity_key(identity):
            raise errors.FactorNotFound()
        return key

    def enroll(self, identity: str, label: str | None, skew: int | None = None) -> Enrollment:
        """``skew``: the factor's window (0-2, MAX_SKEW); None keeps the stage's OTP_TOTP_WINDOW."""
        import pyotp

        if skew is not None and not 0 <= skew <= MAX_SKEW:
            raise InvalidRequest(f"'skew' must be 0-{MAX_SKEW}.")

        self._require_enabled()
        now = int(self._clock())
        identity_key = self._hasher.identity_key(identity)
        factor_id = new_factor_sid()
        secret = pyotp.random_base32()  # 32 base32 characters: 160 bits from `secrets`
        factor = TotpFactor(
            id=factor_id, status=UNVERIFIED, label=label or identity,
            secret_ciphertext=self._encrypt(factor_id, secret), created_at=now,
            expires_at=now + self._settings.enroll_ttl_seconds, last_step=0, skew=skew,
        )
        # The SID's lookup goes out with the factor's write (one wave); factors live for ever,
        # and so does it. Refused (too many factors), it is an orphan that names nothing.
        link = concurrency.submit(self._store.link_sid, factor_id, identity_key, self._scope, None)
        try:
            self._add(identity_key, identity, factor, now)
        except Exception:
            concurrency.wait_quietly(link)
            raise
        concurrency.settle(link)  # v1 names a factor by its SID alone: one it cannot find is no factor
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
            name=factor.label, issuer_name=self._config.brand_name)
        telemetry.note(factor=factor_id[-16:])
        return Enrollment(factor, identity, secret, uri, qr_svg(uri))

    def _add(self, identity_key: str, identity: str, factor: TotpFactor, now: int) -> None:
        for attempt in range(2):
            try:
                self._store.add(identity_key, identity, factor, self._settings.max_factors, self._scope)
                break
            except ConditionFailed as exc:
                factors = self._ours(identity_key, exc.item).factors.values()
                expired = [f.id for f in factors if not f.live(now)]
                if attempt or not expired:
                    raise errors.TooManyFactors() from None
                self._store.remove_expired(identity_key, expired, now, self._scope)  # then try once more

    def confirm(self, factor_id: str, request: CodeRequest) -> TotpFactor:
        """``request.identity``: the factor's identity when the caller names it (v2's path)."""
        code = parse_code(request.code, DIGITS)  # format first: no lookup, no attempt used
        self._require_enabled()
        identity_key = self.factor_key(factor_id, request.identity)
        item = self._load(identity_key)
        now = self._clock()
        factor = item.factors.get(factor_id)
        if factor is None or not factor.live(now):
            raise errors.FactorNotFound()
        if factor.status == VERIFIED:
            raise errors.FactorAlreadyVerified()
        self._accept(identity_key, item, {factor_id}, code, now, self._source(request), confirm=True)
        return factor

    def challenge(self, request: CodeRequest,
                  change: ChallengeChange | None = None) -> tuple[str, str | None]:
        """(factor id, receipt or None if KMS could not sign). ``change``: the v2 Challenge this
        code creates or answers, written by the same write that counts the code."""
        code = parse_code(request.code, DIGITS)
        self._require_enabled()
        if request.factor_id is not None:
            identity_key = self.factor_key(request.factor_id, request.identity)
        else:
            identity_key = self._hasher.identity_key(request.identity or "")
        item = self._load(identity_key)
        now = self._clock()
        verified = {f.id for f in item.factors.values()
                    if f.status == VERIFIED and request.factor_id in (None, f.id)}
        if not verified:
            raise errors.FactorNotFound()
        matched, step = self._accept(identity_key, item, verified, code, now, self._source(request),
                                     confirm=False, change=change)
        telemetry.metric("TotpApprovals")
        receipt = None
        try:
            receipt = self._receipts.sign(subject=item.identity or "", phone_number=None, amr=AMR_TOTP,
                                          jti=f"{matched.id}.{step}", now=now,
                                          extra_claims=request.binding.claims() if request.binding else None)
        except ReceiptUnavailable:
            log.error("receipt not signed for factor=%s: KMS unavailable", matched.id[-16:])
            telemetry.metric("ReceiptFailures")
        return matched.id, receipt

    def list(self, identity: str) -> list[TotpFactor]:
        self._require_enabled()
        now = self._clock()
        item = self._load(self._hasher.identity_key(identity))
        return sorted((f for f in item.factors.values() if f.live(now)), key=lambda f: (f.created_at, f.id))

    def reinstate(self, factor_id: str) -> TotpFactor:
        """The backend re-enables a (suspended) verified factor: its wrong-code count restarts."""
        self._require_enabled()
        identity_key = self.factor_key(factor_id)
        try:
            was_suspended = self._store.reinstate(identity_key, factor_id, self._scope)
        except ConditionFailed:
            raise errors.FactorNotFound() from None
        log.info("totp factor re-enabled factor=%s was_suspended=%s", factor_id[-16:], was_suspended)
        factor = self._load(identity_key).factors.get(factor_id)
        if factor is None:  # deleted just now
            raise errors.FactorNotFound()
        return factor

    def delete(self, factor_id: str, identity: str | None = None) -> None:
        self._require_enabled()
        identity_key = self.factor_key(factor_id, identity)
        try:
            self._store.delete(identity_key, factor_id, self._scope)
        except ConditionFailed:
            raise errors.FactorNotFound() from None

    def now(self) -> float:
        return self._clock()

    def _load(self, identity_key: str) -> IdentityItem:
        return self._ours(identity_key, self._store.load(identity_key))

    def _ours(self, identity_key: str, item: IdentityItem | dict[str, Any] | None) -> IdentityItem:
        """The item as this Service sees it: another Service's holds nothing for it (the
        writes' conditions refuse it too, whatever a read said)."""
        if not isinstance(item, IdentityItem):
            item = _to_identity(identity_key, item)
        return item if item.service == self._scope else IdentityItem(None, {}, {}, self._scope)
    # -- codes ----------------------------------------------------------------------------

    def _source(self, request: CodeRequest) -> str | None:
        return self._hasher.source_key(request.device_ip) if request.device_ip else None

    def _accept(self, identity_key: str, item: IdentityItem, factor_ids: set[str], code: str, now: float,
                source: str | None, *, confirm: bool, change: ChallengeChange | None = None,
                ) -> tuple[TotpFactor, int]:
        """Accept ``code`` for one of ``factor_ids`` or count it wrong on all of them. A replayed
        code (right, but already used) is counted and answered exactly as a wrong one."""
        steps: dict[str, Sequence[int]] = {}  # factor id -> steps whose code matches (KMS once each)
        for _ in range(MAX_DECISIONS):
            factors = [f for f in item.factors.values() if f.id in factor_ids and f.live(now)]
            live = [f for f in factors if not f.suspended]
            if not factors:
                raise errors.FactorNotFound()
            if not live:
                raise errors.FactorSuspended()
            if change is not None:  # a challenge no longer pending: no code compared, none counted
                change.check(item.challenges, now)
                change = replace(change, prune=tuple(to_prune(item.challenges))) if change.new else change
            wait = totp_limits.wait_seconds(item, live, source, now)
            if wait:  # decided before any KMS call or comparison
                raise errors.TotpRetryLater(retry_after=wait)
            fails, stale = totp_limits.source_fails(item, source, now)
            expected = Expected({f.id: f.fails for f in live}, source, fails, stale)
            replayed = None
            try:
                for factor in live:
                    if factor.id not in steps:
                        steps[factor.id] = self._matching_steps(factor, code, now)
                    unused = [step for step in steps[factor.id] if step > factor.last_step]
                    if unused:
                        self._store.accept(identity_key, factor.id, unused[0], confirm=confirm, now=int(now),
                                           expected=expected, scope=self._scope, challenge=change)
                        log.info("totp accepted factor=%s confirm=%s", factor.id[-16:], confirm)
                        return factor, unused[0]
                    if steps[factor.id]:
                        replayed = factor.id
                suspended = self._store.record_failure(
                    identity_key, expected, now=int(now), max_failures=self._settings.max_failures,
                    replayed=replayed, stale_sources=totp_limits.stale_sources(item, now), scope=self._scope,
                    challenge=change)
            except ConditionFailed as exc:  # a concurrent write changed the item: decide again
                item = self._ours(identity_key, exc.item)
                continue
            self._counted_failure(identity_key, item, live, replayed, suspended)
        raise errors.TotpRetryLater(retry_after=1)  # contention: nothing was compared for good

    def _counted_failure(self, identity_key: str, item: IdentityItem, live: Sequence[TotpFactor],
                         replayed: str | None, suspended: Sequence[str]) -> None:
        """After a wrong (or replayed) code was counted: log and metrics, then refuse. The
        suspension's event comes from the item's change (chalicelib/events/totp.py)."""
        fails = max(f.fails for f in live) + 1
        telemetry.metric("TotpIncorrectCodes")
        if replayed is not None:
            # Told apart only here, in the logs, a metric and on the item (replayed_at): the
            # answer and its timing are a wrong code's.
            log.warning("totp replayed code factor=%s", replayed[-16:])
            telemetry.metric("TotpReplays")
        log.info("totp incorrect code identity_key=%s consecutive=%d", identity_key[:8], fails)
        for factor_id in suspended:
            log.warning("totp factor suspended factor=%s after %d wrong codes", factor_id[-16:], fails)
            telemetry.metric("TotpFactorsSuspended")
        raise errors.IncorrectCode(attempts_remaining=max(0, self._settings.max_failures - fails))

    def _matching_steps(self, factor: TotpFactor, code: str, now: float) -> Sequence[int]:
        """The time steps within the window whose code equals ``code``, earliest first, compared
        in constant time; every candidate is computed."""
        import pyotp

        totp = pyotp.TOTP(self._decrypt(factor), digits=DIGITS, interval=PERIOD)
        current = int(now) // PERIOD
        window = self.window(factor)
        steps = range(current - window, current + window + 1)
        return [step for step in steps
                if hmac.compare_digest(totp.generate_otp(step).encode("ascii"), code.encode("ascii"))]

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
    """The URI as an SVG QR code: segno (pure Python, maintained, small enough for the Lambda
    zip), error correction M, byte mode, the 4-module quiet zone, 4 px per module. Imported here:
    only an enrolment draws one."""
    import segno

    buffer = io.BytesIO()
    segno.make(uri, error="m", mode="byte", micro=False, boost_error=False).save(
        buffer, kind="svg", scale=4, xmldecl=False, svgns=True, svgclass=None, lineclass=None)
    return buffer.getvalue().decode("ascii")


def factor_body(factor: TotpFactor) -> dict[str, Any]:
    return {"id": factor.id, "status": factor.status, "label": factor.label,
            "created_at": factor.created_at, "digits": DIGITS, "period": PERIOD, "algorithm": ALGORITHM,
            "suspended": factor.suspended, "consecutive_failures": factor.fails}
