"""Passkeys (WebAuthn): the verifier (pure Python), the passkey factors and their challenges,
the v1 routes for the page; /v2's Passkeys routes are a wire layer over the same service.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.passkeys.models import Approval as Approval
    from chalicelib.passkeys.models import ChallengeNotFound as ChallengeNotFound
    from chalicelib.passkeys.models import CounterWentBack as CounterWentBack
    from chalicelib.passkeys.models import NoPasskey as NoPasskey
    from chalicelib.passkeys.models import PasskeyRefused as PasskeyRefused
    from chalicelib.passkeys.service import PasskeyService as PasskeyService
    from chalicelib.passkeys.models import ReceiptUsed as ReceiptUsed
    from chalicelib.passkeys.models import RelyingParty as RelyingParty
    from chalicelib.passkeys.models import TooManyPasskeys as TooManyPasskeys
    from chalicelib.passkeys.models import amr as amr
    from chalicelib.passkeys.models import Passkey as Passkey
    from chalicelib.passkeys.webauthn import CeremonyRefused as CeremonyRefused
    from chalicelib.passkeys.webauthn import CounterRegressed as CounterRegressed
    from chalicelib.passkeys.webauthn import verify_assertion as verify_assertion
    from chalicelib.passkeys.webauthn import verify_registration as verify_registration

_EXPORTS = {
    "Approval": "chalicelib.passkeys.models",
    "ChallengeNotFound": "chalicelib.passkeys.models",
    "CounterWentBack": "chalicelib.passkeys.models",
    "NoPasskey": "chalicelib.passkeys.models",
    "PasskeyRefused": "chalicelib.passkeys.models",
    "PasskeyService": "chalicelib.passkeys.service",
    "ReceiptUsed": "chalicelib.passkeys.models",
    "RelyingParty": "chalicelib.passkeys.models",
    "TooManyPasskeys": "chalicelib.passkeys.models",
    "amr": "chalicelib.passkeys.models",
    "Passkey": "chalicelib.passkeys.models",
    "CeremonyRefused": "chalicelib.passkeys.webauthn",
    "CounterRegressed": "chalicelib.passkeys.webauthn",
    "verify_assertion": "chalicelib.passkeys.webauthn",
    "verify_registration": "chalicelib.passkeys.webauthn",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
