"""The stage's KMS keys, created once and never deleted (a deleted key would void every
receipt in flight, or every enrolled authenticator's secret):

- ``alias/phone-verify-<stage>-receipts``: ECC_NIST_P256, SIGN_VERIFY, signs the receipts
  (ES256); its private half never leaves KMS.
- ``alias/phone-verify-<stage>-totp``: SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT, encrypts the TOTP
  factors' secrets, with the factor's id as encryption context.
- ``alias/phone-verify-<stage>-cognito`` (only for a stage with OTP_HOOK_COGNITO_KEY_ID naming it):
  SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT; Amazon Cognito encrypts the codes it hands the
  CustomSMSSender trigger under it (its key policy lets cognito-idp.amazonaws.com encrypt, for
  this account's user pools only), and only the trigger's role may decrypt.

Both functions are idempotent and return the alias name, which is what the stage's
OTP_RECEIPT_KEY_IDS / OTP_TOTP_KEY_ID name. Used by `make deploy` and `make run`.

Rotating the receipts' key (docs/security.md, "Rotating the receipts' key"):
``python -m scripts.keys.kms rotate-receipts <stage>`` makes a new key sign from the next receipt on
(the alias is repointed; running containers notice it at their next Sign) and leaves the old key
under ``alias/phone-verify-<stage>-receipts-previous``, which the JWKS keeps publishing;
``python -m scripts.keys.kms retire-previous-receipts <stage>`` removes that alias once the receipts
signed before the rotation have expired.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def receipt_alias(stage: str) -> str:
    return f"alias/phone-verify-{stage}-receipts"


def previous_receipt_alias(stage: str) -> str:
    return receipt_alias(stage) + "-previous"  # chalicelib/factors/receipts.py PREVIOUS_SUFFIX


def totp_alias(stage: str) -> str:
    return f"alias/phone-verify-{stage}-totp"


def cognito_alias(stage: str) -> str:
    return f"alias/phone-verify-{stage}-cognito"


def cognito_key_policy(account: str, partition: str = "aws") -> dict[str, Any]:
    """The account administers the key (as KMS's default policy); Cognito may encrypt with it
    and make the grant it encrypts under, for user pools of this account only."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "CognitoEncryptsCodes", "Effect": "Allow",
         "Principal": {"Service": "cognito-idp.amazonaws.com"},
         "Action": ["kms:Encrypt", "kms:CreateGrant"], "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceAccount": account}}},
    ]}


def ensure_cognito_key(kms: Any, stage: str, account: str, partition: str = "aws") -> str:
    import json

    return _ensure_key(kms, cognito_alias(stage), "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT",
                       f"phone-verify {stage}: Cognito encrypts the CustomSMSSender trigger's codes", stage,
                       policy=json.dumps(cognito_key_policy(account, partition)))


def ensure_receipt_key(kms: Any, stage: str) -> str:
    return _ensure_key(kms, receipt_alias(stage), "ECC_NIST_P256", "SIGN_VERIFY",
                       f"phone-verify {stage}: signs verification receipts (ES256)", stage)


def ensure_totp_key(kms: Any, stage: str) -> str:
    return _ensure_key(kms, totp_alias(stage), "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT",
                       f"phone-verify {stage}: encrypts TOTP factor secrets", stage)


def rotate_receipt_key(kms: Any, stage: str) -> tuple[str, str]:
    """A new signing key behind the stage's alias; the old one stays published under the
    ``-previous`` alias. Returns (old key id, new key id)."""
    alias, previous = receipt_alias(stage), previous_receipt_alias(stage)
    current = _describe(kms, alias)
    if current is None:
        raise RuntimeError(f"{alias} does not exist: make deploy creates it")
    new = kms.create_key(
        KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY",
        Description=f"phone-verify {stage}: signs verification receipts (ES256)",
        Tags=[{"TagKey": "project", "TagValue": "phone-verify"}, {"TagKey": "stage", "TagValue": stage}],
    )["KeyMetadata"]["KeyId"]
    # The old key is published under -previous before the alias moves, so that no moment
    # exists where a receipt in flight names a key the JWKS does not hold.
    if _describe(kms, previous) is None:
        kms.create_alias(AliasName=previous, TargetKeyId=current["KeyId"])
    else:
        kms.update_alias(AliasName=previous, TargetKeyId=current["KeyId"])
    kms.update_alias(AliasName=alias, TargetKeyId=new)
    return current["KeyId"], new


def retire_previous_receipt_key(kms: Any, stage: str) -> bool:
    """Stop publishing the key a rotation replaced (the key itself is kept). True if it was."""
    try:
        kms.delete_alias(AliasName=previous_receipt_alias(stage))
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NotFoundException":
            return False
        raise
    return True


def _ensure_key(kms: Any, alias: str, spec: str, usage: str, description: str, stage: str,
                policy: str | None = None) -> str:
    existing = _describe(kms, alias)
    if existing is None:
        key_id = kms.create_key(
            KeySpec=spec, KeyUsage=usage, Description=description, **({"Policy": policy} if policy else {}),
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


def main(argv: list[str]) -> int:
    import boto3

    if len(argv) != 2 or argv[0] not in ("rotate-receipts", "retire-previous-receipts"):
        print("usage: python -m scripts.keys.kms rotate-receipts|retire-previous-receipts <stage>")
        return 2
    kms = boto3.client("kms")
    if argv[0] == "rotate-receipts":
        old, new = rotate_receipt_key(kms, argv[1])
        print(f"{receipt_alias(argv[1])} now signs with {new}; {old} stays published as "
              f"{previous_receipt_alias(argv[1])} until retire-previous-receipts")
    else:
        retired = retire_previous_receipt_key(kms, argv[1])
        print(f"{previous_receipt_alias(argv[1])} {'removed' if retired else 'was not there'}")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
