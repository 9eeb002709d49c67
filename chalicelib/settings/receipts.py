"""The receipts' settings (chalicelib/factors/receipts.py): issuer, audience, lifetime, KMS keys."""

from __future__ import annotations

import re
from typing import Mapping, TypedDict

from chalicelib.errors import ConfigError
from chalicelib.settings.env import _KMS_KEY_ID, _choice, _int, _str


_URL = re.compile(r"(https?)://([A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?", re.ASCII)
_LOOPBACK = ("localhost", "127.0.0.1")


class ReceiptSettings(TypedDict):
    public_url: str
    callback_base_url: str | None
    receipt_audience: str
    receipt_ttl_seconds: int
    receipt_key_ids: tuple[str, ...]
    receipt_signing: str


def receipt_settings(env: Mapping[str, str], stage: str) -> ReceiptSettings:
    """OTP_PUBLIC_URL (the receipts' issuer), OTP_RECEIPT_AUDIENCE, OTP_RECEIPT_TTL_SECONDS,
    OTP_RECEIPT_KEY_IDS and OTP_RECEIPT_SIGNING (``kms``: one KMS Sign per receipt; ``minute_key``:
    a key per minute certified by KMS, chalicelib/factors/minute_keys.py). Deployed stages always
    sign: without OTP_RECEIPT_KEY_IDS they use the key `make deploy` creates
    (alias/phone-verify-<stage>-receipts); without OTP_PUBLIC_URL (unknown until the first
    deploy) the issuer is urn:phone-verify:<stage>. The local and test stages without a key
    answer without a receipt (`make run` makes one)."""
    deployed = stage not in ("local", "test")
    given = _str(env, "OTP_PUBLIC_URL")
    if given is None:
        url = f"urn:phone-verify:{stage}" if deployed else "http://localhost:8000"
    else:
        # The one reading of OTP_PUBLIC_URL: the receipts' issuer and the base of the delivery
        # callbacks' URLs (providers POST there, so http only on loopback, and never deployed).
        match = _URL.fullmatch(given)
        if match is None:
            raise ConfigError(
                f"OTP_PUBLIC_URL must be a URL such as https://verify.example.com, got {given!r}"
            )
        if match.group(1) == "http" and (deployed or match.group(2) not in _LOOPBACK):
            raise ConfigError(
                f"OTP_PUBLIC_URL must be https in the {stage!r} stage (http only on localhost or 127.0.0.1 "
                "in local and test)"
            )
        url = given.rstrip("/")
    audience = _str(env, "OTP_RECEIPT_AUDIENCE") or url
    if len(audience) > 256 or not audience.isprintable():
        raise ConfigError("OTP_RECEIPT_AUDIENCE must be at most 256 printable characters")
    key_ids = tuple(k.strip() for k in (_str(env, "OTP_RECEIPT_KEY_IDS") or "").split(",") if k.strip())
    for key_id in key_ids:
        if not _KMS_KEY_ID.fullmatch(key_id):
            raise ConfigError(
                f"OTP_RECEIPT_KEY_IDS has {key_id!r}: use KMS key ids, key ARNs or alias/... names"
            )
    if len(set(key_ids)) != len(key_ids):
        raise ConfigError("OTP_RECEIPT_KEY_IDS names a key twice")
    if not key_ids and deployed:
        key_ids = (f"alias/phone-verify-{stage}-receipts",)  # scripts/keys/kms.py receipt_alias
    signing = _choice(env, "OTP_RECEIPT_SIGNING", ("kms", "minute_key"), "kms")
    if signing == "minute_key" and not key_ids:
        raise ConfigError("OTP_RECEIPT_SIGNING=minute_key needs OTP_RECEIPT_KEY_IDS: the KMS key that "
                          "certifies each minute's signing key")
    return {
        "public_url": url,
        "callback_base_url": url if given is not None else None,
        "receipt_audience": audience,
        "receipt_ttl_seconds": _int(env, "OTP_RECEIPT_TTL_SECONDS", 300, 30, 3600),
        "receipt_key_ids": key_ids,
        "receipt_signing": signing,
    }
