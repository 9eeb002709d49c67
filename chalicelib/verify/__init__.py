"""Phone and email verification: start, check, the store, limits and counters, routing, sending,
channel choice, live codes and the attempts log.

Its public face: the names below (``__all__``), imported on first use; every other module
here is its internals (docs/architecture.md, tests/unit/test_architecture.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.verify.rate_buckets import Bucket as Bucket
    from chalicelib.verify.rate_buckets import BucketCount as BucketCount
    from chalicelib.verify.models import CHANNELS as CHANNELS
    from chalicelib.verify.models import REQUEST_CHANNELS as REQUEST_CHANNELS
    from chalicelib.verify.models import CheckRequest as CheckRequest
    from chalicelib.verify.models import StartRequest as StartRequest
    from chalicelib.verify.models import Verification as Verification
    from chalicelib.verify.models import valid_locale as valid_locale
    from chalicelib.verify.items import to_verification as to_verification
    from chalicelib.verify.attempts import DAY as DAY
    from chalicelib.verify.attempts import Attempt as Attempt
    from chalicelib.verify.attempts import attempt_sid as attempt_sid

_EXPORTS = {
    "Bucket": "chalicelib.verify.rate_buckets",
    "BucketCount": "chalicelib.verify.rate_buckets",
    "CHANNELS": "chalicelib.verify.models",
    "REQUEST_CHANNELS": "chalicelib.verify.models",
    "CheckRequest": "chalicelib.verify.models",
    "StartRequest": "chalicelib.verify.models",
    "Verification": "chalicelib.verify.models",
    "valid_locale": "chalicelib.verify.models",
    "to_verification": "chalicelib.verify.items",
    "DAY": "chalicelib.verify.attempts",
    "Attempt": "chalicelib.verify.attempts",
    "attempt_sid": "chalicelib.verify.attempts",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
