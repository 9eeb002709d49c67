"""A conversion is counted on its attempt's own Service (issue 28 item 1), on dynalite too:
the conditions chalicelib/verify/attempts.py writes for the stage's own app ("" as ``svc``) and for a
Service must hold on both DynamoDB implementations the tests use (moto in tests/unit)."""

from __future__ import annotations

import boto3
import pytest

from chalicelib.verify.attempts import AttemptLog
from chalicelib.verify.models import SendAttempt, Verification
from tests.conftest import TABLE

DAY = 20_000
SERVICE = "VA" + "0" * 32


@pytest.mark.parametrize("scope,other", [("", SERVICE), (SERVICE, "")])
def test_a_conversion_counts_on_its_attempts_own_service_only(dynamodb_endpoint, scope, other):
    client = boto3.client("dynamodb", endpoint_url=dynamodb_endpoint)
    log = AttemptLog(client, TABLE)
    day = DAY + len(scope)
    at_ms = day * 86_400_000
    verification = Verification("VE" + str(len(scope) % 10) * 48, "+14155552671", "sms", "mac", 1, 2, at_ms, 1, 0, 5,
                                sends=(SendAttempt("sms", "console", at_ms),), scope=scope)
    log.record(verification, "US", scope).settle()

    def converted() -> int:  # this test's attempt only (dynalite is shared by the module)
        return log.counts([day], lambda *_: True).converted

    def attempt():
        return log.of_verification(verification.id)[0]

    for write in log.conversions(verification, "US", other):  # another Service's: nothing
        write()
    assert converted() == 0 and not attempt().converted
    for write in log.conversions(verification, "US", scope) * 2:  # its own (and a retry): once
        write()
    assert converted() == 1 and attempt().converted
