"""The stage's KMS keys, created once and never deleted (a deleted key would void every
receipt in flight, or every enrolled authenticator's secret):

- ``alias/phone-verify-<stage>-receipts``: ECC_NIST_P256, SIGN_VERIFY, signs the receipts
  (ES256); its private half never leaves KMS.
- ``alias/phone-verify-<stage>-totp``: SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, encrypts the TOTP
  factors' secrets, with the factor's id as encryption context.

Both functions are idempotent and return the alias name, which is what the stage's
OTP_RECEIPT_KEY_IDS / OTP_TOTP_KEY_ID name. Used by `make deploy` and `make run`.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def receipt_alias(stage: str) -> str:
    return f"alias/phone-verify-{stage}-receipts"


def totp_alias(stage: str) -> str:
    return f"alias/phone-verify-{stage}-totp"


def ensure_receipt_key(kms: Any, stage: str) -> str:
    return _ensure_key(kms, receipt_alias(stage), "ECC_NIST_P256", "SIGN_VERIFY",
                       f"phone-verify {stage}: signs verification receipts (ES256)", stage)


def ensure_totp_key(kms: Any, stage: str) -> str:
    return _ensure_key(kms, totp_alias(stage), "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT",
                       f"phone-verify {stage}: encrypts TOTP factor secrets", stage)


def _ensure_key(kms: Any, alias: str, spec: str, usage: str, description: str, stage: str) -> str:
    existing = _describe(kms, alias)
    if existing is None:
        key_id = kms.create_key(
            KeySpec=spec, KeyUsage=usage, Description=description,
            Tags=[{"TagKey": "project", "TagValue": "phone-verify"}, {"TagKey": "stage", "TagValue": stage}],
        )["KeyMetadata"]["KeyId"]
        try:
            kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "AlreadyExistsException":
                raise
            # Another deploy created the alias between our describe and create: its key is
            # the stage's; ours signed or encrypted nothing, so it is scheduled for deletion.
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
        existing = _describe(kms, alias)
    if existing is None:
        raise RuntimeError(f"{alias} could not be created")
    if existing.get("KeySpec") != spec or existing.get("KeyUsage") != usage:
        raise RuntimeError(f"{alias} names a {existing.get('KeySpec')}/{existing.get('KeyUsage')} key, "
                           f"not {spec}/{usage}: point the alias at the right key or remove it")
    if existing.get("KeyState") not in ("Enabled",):
        raise RuntimeError(f"{alias} names a key in state {existing.get('KeyState')}: enable it")
    return alias


def _describe(kms: Any, alias: str) -> dict[str, Any] | None:
    try:
        return kms.describe_key(KeyId=alias)["KeyMetadata"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotFoundException":
            return None
        raise
