"""scripts/keys/kms.py: the stage's KMS keys are created once, reused, and never replaced."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from scripts.keys.kms import ensure_receipt_key, ensure_totp_key


@pytest.fixture
def kms():
    with mock_aws():
        yield boto3.client("kms", region_name="us-east-1")


def test_the_receipt_key_is_an_ecc_p256_signing_key_behind_the_stages_alias(kms):
    alias = ensure_receipt_key(kms, "prod")
    assert alias == "alias/phone-verify-prod-receipts"
    meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"], meta["KeyState"]) == ("ECC_NIST_P256", "SIGN_VERIFY", "Enabled")


def test_the_totp_key_is_a_symmetric_encryption_key(kms):
    alias = ensure_totp_key(kms, "prod")
    assert alias == "alias/phone-verify-prod-totp"
    meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    assert (meta["KeySpec"], meta["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")


def test_a_second_run_keeps_the_key(kms):
    first = kms.describe_key(KeyId=ensure_receipt_key(kms, "dev"))["KeyMetadata"]["KeyId"]
    second = kms.describe_key(KeyId=ensure_receipt_key(kms, "dev"))["KeyMetadata"]["KeyId"]
    assert first == second
    assert len(kms.list_keys()["Keys"]) == 1


def test_stages_get_their_own_keys(kms):
    dev = kms.describe_key(KeyId=ensure_receipt_key(kms, "dev"))["KeyMetadata"]["KeyId"]
    prod = kms.describe_key(KeyId=ensure_receipt_key(kms, "prod"))["KeyMetadata"]["KeyId"]
    assert dev != prod


def test_an_alias_on_the_wrong_kind_of_key_is_refused_not_replaced(kms):
    wrong = kms.create_key(KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/phone-verify-prod-receipts", TargetKeyId=wrong)
    with pytest.raises(RuntimeError, match="ECC_NIST_P256/SIGN_VERIFY"):
        ensure_receipt_key(kms, "prod")
    assert kms.describe_key(KeyId="alias/phone-verify-prod-receipts")["KeyMetadata"]["KeyId"] == wrong
