"""Shared fixtures: moto-backed AWS, the Chalice test client, a controllable clock."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any, Iterator

import moto.core.models  # noqa: F401  (see below)
import pytest

from chalicelib import wiring

# moto intercepts botocore through a handler it adds to botocore's BUILTIN_HANDLERS when
# moto.core.models is first imported; a boto3 session made before that (by a live server's
# fixture, tests/live.py) never has it, and the `aws` fixture keeps boto3's default session
# (reset_boto3_session False), so a unit test run after an integration test in one worker
# would call real AWS. Imported here, before any test makes a session, whatever the order.

ROOT = Path(__file__).resolve().parent.parent
TEST_STAGE = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["test"]
TABLE = TEST_STAGE["environment_variables"]["OTP_TABLE_NAME"]

# moto intercepts botocore in-process; an endpoint override would send calls past it.
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_name]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
)


def reset_app() -> None:
    """Forget the per-container objects, so the next request reads the environment again."""
    wiring.reset()


class FakeClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def stage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test stage's variables, set for the whole test (not only inside a request)."""
    for name, value in TEST_STAGE["environment_variables"].items():
        monkeypatch.setenv(name, value)


@functools.cache
def _unused_rsa_key() -> Any:
    from moto.kms.utils import RSAPrivateKey

    return RSAPrivateKey(key_size=2048)


def _moto_key_material(key_spec: str) -> Any:
    """moto gives every KMS key an RSA-2048 private key, which it uses only to sign with RSA
    key specs; making one costs 20-50 ms, and each test creates the stage's symmetric TOTP
    key. Symmetric keys get one made once; every asymmetric key still gets its own."""
    from moto.kms.utils import KeySpec, generate_private_key

    if key_spec in KeySpec.ecc_key_specs() or key_spec.startswith("RSA_"):
        return generate_private_key(key_spec)
    return _unused_rsa_key()


@pytest.fixture
def aws(stage_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import moto.kms.models
    from moto import mock_aws

    monkeypatch.setattr(moto.kms.models, "generate_private_key", _moto_key_material)
    # boto3's default session is kept from test to test (moto replaces it by default): its
    # loader's cache of the service models then spares each test's clients 50 ms of JSON.
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        import boto3

        from scripts.deploy.create_table import ATTEMPTS_INDEX, ATTRIBUTES, STREAM, TTL_ATTRIBUTE
        from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

        # The table as scripts/deploy/create_table.py makes it (tests/unit/test_provision.py tests
        # that script), in two calls instead of its idempotent describe-and-wait steps.
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName=TABLE, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=ATTRIBUTES, GlobalSecondaryIndexes=[ATTEMPTS_INDEX],
            BillingMode="PAY_PER_REQUEST", StreamSpecification=STREAM)
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        # As deployed: the receipts' signing key (moto's KMS signs ES256 with real ECDSA).
        kms = boto3.client("kms")
        monkeypatch.setenv("OTP_RECEIPT_KEY_IDS", ensure_receipt_key(kms, "test"))
        monkeypatch.setenv("OTP_TOTP_KEY_ID", ensure_totp_key(kms, "test"))
        reset_app()
        yield
        reset_app()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(aws: None, clock: FakeClock, monkeypatch: pytest.MonkeyPatch):
    svc = wiring.get_service()
    monkeypatch.setattr(svc, "_clock", clock)
    return svc


@pytest.fixture
def client(service):
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as test_client:
        yield test_client


@pytest.fixture
def outbox():
    from chalicelib.channels.providers.console import OUTBOX

    OUTBOX.clear()
    return OUTBOX


def last_code(outbox, length: int = 6) -> str:
    """The code in the newest console message (the first run of `length` digits)."""
    import re

    match = re.search(rf"\b[0-9]{{{length}}}\b", outbox[0]["body"], re.ASCII)
    assert match, outbox[0]["body"]
    return match.group(0)


@pytest.fixture
def configured(aws, clock, monkeypatch):
    """A test client for the test stage plus the given variables, calling from ``ip``."""
    from chalice.local import LambdaEventConverter
    from chalice.test import Client

    import app as app_module

    def make(**env: str):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_app()
        service = wiring.get_service()
        monkeypatch.setattr(service, "_clock", clock)
        return Client(app_module.app, stage_name="test", project_dir=str(ROOT))

    def from_ip(ip: str) -> None:
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)

    make.from_ip = from_ip
    return make
