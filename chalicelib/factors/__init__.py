"""What the factors (TOTP now, passkeys next) share: entities and their factors, receipts.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.factors.binding import ReceiptBinding as ReceiptBinding
    from chalicelib.factors.binding import parse_binding as parse_binding
    from chalicelib.factors.entities import APPROVED as APPROVED
    from chalicelib.factors.entities import EXPIRED as EXPIRED
    from chalicelib.factors.entities import PENDING as PENDING
    from chalicelib.factors.entities import Challenge as Challenge
    from chalicelib.factors.entities import ChallengeChange as ChallengeChange
    from chalicelib.factors.entities import ChallengeEnded as ChallengeEnded
    from chalicelib.factors.entities import EntityEntry as EntityEntry
    from chalicelib.factors.entities import EntityIndex as EntityIndex
    from chalicelib.factors.entities import TooManyEntities as TooManyEntities
    from chalicelib.factors.entities import challenge_attribute as challenge_attribute
    from chalicelib.factors.entities import challenge_terms as challenge_terms
    from chalicelib.factors.entities import challenge_value as challenge_value
    from chalicelib.factors.entities import hidden_details as hidden_details
    from chalicelib.factors.entities import prunes as prunes
    from chalicelib.factors.entities import to_challenges as to_challenges
    from chalicelib.factors.entities import to_prune as to_prune
    from chalicelib.factors.receipt_check import InvalidReceipt as InvalidReceipt
    from chalicelib.factors.receipt_check import check_receipt as check_receipt
    from chalicelib.factors.receipts import AMR_TOTP as AMR_TOTP
    from chalicelib.factors.receipts import ReceiptSigner as ReceiptSigner
    from chalicelib.factors.receipts import ReceiptUnavailable as ReceiptUnavailable
    from chalicelib.factors.sid_links import SidLinks as SidLinks

_EXPORTS = {
    "ReceiptBinding": "chalicelib.factors.binding",
    "parse_binding": "chalicelib.factors.binding",
    "APPROVED": "chalicelib.factors.entities",
    "EXPIRED": "chalicelib.factors.entities",
    "PENDING": "chalicelib.factors.entities",
    "Challenge": "chalicelib.factors.entities",
    "ChallengeChange": "chalicelib.factors.entities",
    "ChallengeEnded": "chalicelib.factors.entities",
    "EntityEntry": "chalicelib.factors.entities",
    "EntityIndex": "chalicelib.factors.entities",
    "TooManyEntities": "chalicelib.factors.entities",
    "challenge_attribute": "chalicelib.factors.entities",
    "challenge_terms": "chalicelib.factors.entities",
    "challenge_value": "chalicelib.factors.entities",
    "hidden_details": "chalicelib.factors.entities",
    "prunes": "chalicelib.factors.entities",
    "to_challenges": "chalicelib.factors.entities",
    "to_prune": "chalicelib.factors.entities",
    "InvalidReceipt": "chalicelib.factors.receipt_check",
    "check_receipt": "chalicelib.factors.receipt_check",
    "AMR_TOTP": "chalicelib.factors.receipts",
    "ReceiptSigner": "chalicelib.factors.receipts",
    "ReceiptUnavailable": "chalicelib.factors.receipts",
    "SidLinks": "chalicelib.factors.sid_links",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
