"""Authenticator apps (TOTP): the factors, their challenges and limits, the v1 routes.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.totp.service import ALGORITHM as ALGORITHM
    from chalicelib.totp.service import DIGITS as DIGITS
    from chalicelib.totp.service import MAX_SKEW as MAX_SKEW
    from chalicelib.totp.service import PERIOD as PERIOD
    from chalicelib.totp.service import CodeRequest as CodeRequest
    from chalicelib.totp.challenges import EntityService as EntityService
    from chalicelib.totp.store import VERIFIED as VERIFIED

_EXPORTS = {
    "ALGORITHM": "chalicelib.totp.service",
    "DIGITS": "chalicelib.totp.service",
    "MAX_SKEW": "chalicelib.totp.service",
    "PERIOD": "chalicelib.totp.service",
    "CodeRequest": "chalicelib.totp.service",
    "EntityService": "chalicelib.totp.challenges",
    "VERIFIED": "chalicelib.totp.store",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
