"""The v1 dialect of the passkey service, for the page (chalicelib/passkeys/routes.py): a number
verified by SMS registers a passkey with the receipt of that check (spent by the registration),
then signs in with it; answers in v1's shape, receipts as every approval's.

The relying party is the request's host unless OTP_PASSKEY_RP_ID names one; the origins are
the page's own, OTP_ALLOWED_ORIGINS and OTP_PASSKEY_ORIGINS (docs/passkeys.md)."""

from __future__ import annotations

import logging
import re
from concurrent.futures import Future
from typing import Any, Callable

from chalicelib import concurrency, errors, telemetry
from chalicelib.passkeys.models import (
    InvalidReceipt,
    RelyingParty,
    TooManyPasskeyRequests,
    amr,
)
from chalicelib.passkeys.webauthn import CeremonyRefused

log = logging.getLogger("verify")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_HOST = re.compile(r"(?P<host>localhost|[0-9.]+|\[[0-9a-f:]+\]|([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*"
                   r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?P<port>:[0-9]{1,5})?", re.ASCII)


def page_party(config: Any, headers: Any) -> RelyingParty:
    """The page's relying party for a request with ``headers`` (its Host, X-Forwarded-Proto)."""
    settings = config.passkeys
    host = (headers.get("host") or "").strip().lower()
    match = _HOST.fullmatch(host)
    if match is None:
        raise errors.InvalidRequest("The request's Host is not a host name.")
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip().lower()
    own = f"{scheme}://{host}"
    rp_id = settings.rp_id or match.group("host").strip("[]")
    if not settings.rp_id and (":" in rp_id or rp_id.replace(".", "").isdigit()):
        # WebAuthn's relying party id is a domain: browsers refuse an IP address (SecurityError).
        raise errors.InvalidRequest("Passkeys need a domain name, not an IP address: open the page at "
                                    f"http://localhost{match.group('port') or ''} "
                                    "(or set OTP_PASSKEY_RP_ID).")
    origins = frozenset({own, *config.allowed_origins, *settings.origins})
    return RelyingParty(rp_id, settings.rp_name or config.brand_name, origins, settings.user_verification)


def _credential(body: dict[str, Any]) -> dict[str, Any]:
    if set(body) != {"credential"} or not isinstance(body["credential"], dict):
        raise errors.InvalidRequest("Send {\"credential\": <the PublicKeyCredential's toJSON()>}.")
    return body["credential"]


class PageCeremonies:
    def __init__(self, get_passkeys: Callable[[], Any], get_receipts: Callable[[], Any],
                 get_config: Callable[[], Any], limit: Callable[[str, str | None, float, Any], None]) -> None:
        self._passkeys = get_passkeys
        self._receipts = get_receipts
        self._config = get_config
        self._limit = limit  # (ip, number key or None, now, settings): the public door's counters

    def _count(self, ip: str, number: str | None) -> Any:
        passkeys = self._passkeys()
        key = passkeys.identity_key(number) if number else None
        self._limit(ip, key, passkeys.now(), self._config().passkeys)
        return passkeys

    def register(self, body: dict[str, Any], ip: str, headers: Any) -> dict[str, Any]:
        from chalicelib.factors import InvalidReceipt as NotOurs
        from chalicelib.factors import check_receipt

        if set(body) != {"receipt"}:
            raise errors.InvalidRequest("Send {\"receipt\": <POST /v1/verifications/check's receipt>}.")
        passkeys = self._passkeys()
        try:
            claims = check_receipt(self._receipts(), body["receipt"], passkeys.now())
        except NotOurs as exc:
            raise InvalidReceipt(f"The receipt is not valid: {exc}.") from None
        number = claims["phone_number"]
        if not _E164.fullmatch(number):  # an email address's receipt has no phone_number: refused above
            raise InvalidReceipt()
        self._count(ip, number)
        _, options = passkeys.register(number, number, "Passkey", page_party(self._config(), headers),
                                       receipt=(claims["jti"], int(claims["exp"])))
        return {"public_key": options}

    def _counting(self, ip: str) -> tuple[Any, Future[Any], Callable[[], None]]:
        """(the service, the per-network count under way, the gate that waits for it): the
        count's write goes out while the ceremony reads its item, and is settled (a 429 if it
        is full) before the ceremony's own write."""
        passkeys = self._passkeys()
        counted = concurrency.submit(self._limit, ip, None, passkeys.now(), self._config().passkeys)
        return passkeys, counted, lambda: concurrency.settle(counted)

    def verify(self, body: dict[str, Any], ip: str, headers: Any) -> dict[str, Any]:
        credential, rp = _credential(body), page_party(self._config(), headers)
        passkeys, counted, gate = self._counting(ip)
        try:
            number, passkey = passkeys.verify_registration(credential, rp, gate)
        finally:
            concurrency.wait_quietly(counted)
        return {"status": "verified", "to": number, "factor_id": passkey.id}

    def challenge(self, body: dict[str, Any], ip: str, headers: Any) -> dict[str, Any]:
        if set(body) - {"to"}:
            raise errors.InvalidRequest("Send {\"to\": \"+1...\"}, or {} for a discoverable passkey.")
        number = body.get("to")
        if number is not None and (not isinstance(number, str) or not _E164.fullmatch(number)):
            raise errors.InvalidPhoneNumber("'to' must be a number in E.164 form, such as +14155552671.")
        passkeys = self._count(ip, number)
        _, _, options = passkeys.challenge(number, None, page_party(self._config(), headers))
        return {"public_key": options}

    def approve(self, body: dict[str, Any], ip: str, headers: Any) -> dict[str, Any]:
        credential, rp = _credential(body), page_party(self._config(), headers)
        passkeys, counted, gate = self._counting(ip)
        try:
            approval = passkeys.approve(credential, rp, gate)
        finally:
            concurrency.wait_quietly(counted)
        if approval.passkey.rp_id != rp.id:  # the rpIdHash check refused it already; said twice
            from chalicelib.passkeys.models import PasskeyRefused

            raise PasskeyRefused(CeremonyRefused("rpId", "the passkey is another relying party's"))
        return {"status": "approved", "to": approval.identity, "factor_id": approval.passkey.id,
                "receipt": self._receipt(approval, passkeys.now())}

    def _receipt(self, approval: Any, now: float) -> str | None:
        """The approval's receipt: ``sub`` and ``phone_number`` the number, ``amr`` how the user
        proved it (swk/hwk, user), ``passkey_bound_at`` when the passkey was bound to the number
        (by an SMS check then; numbers are recycled). No ``phone_number_verified``: no code went
        to the number now, so it registers no other passkey (check_receipt)."""
        from chalicelib.factors import ReceiptUnavailable

        signer = self._receipts()
        if not signer.enabled:
            return None
        try:
            return signer.sign(subject=approval.identity, phone_number=None,
                               amr=amr(approval.passkey, approval.user_verified), jti=approval.challenge_id,
                               now=now, extra_claims={"phone_number": approval.identity,
                                                      "passkey_bound_at": approval.passkey.bound_at,
                                                      "factor_id": approval.passkey.id})
        except ReceiptUnavailable:
            log.error("receipt not signed for passkey factor=%s: KMS unavailable", approval.passkey.id[-16:])
            telemetry.metric("ReceiptFailures")
            return None


__all__ = ["PageCeremonies", "TooManyPasskeyRequests", "page_party"]
