"""schemathesis with Twilio's own OpenAPI document for Verify v2 (tests/data/twilio-oai:
twilio/twilio-oai's twilio_verify_v2.json, filtered to the operations this service implements
by filter.py there) against the served API with an API key: no 5xx, and every status, body and
content type as the document gives them (errors in Twilio's error shape)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_twilio_sdks import make_key
from tests.live import moto_kms

SPEC = ROOT / "tests" / "data" / "twilio-oai" / "twilio_verify_v2.json"
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


@pytest.fixture(scope="module")
def server(serve):
    with moto_kms("test") as kms:  # the TOTP resources need the stage's KMS key
        yield serve(OTP_ATTEMPTS="true", OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="1000",
                    OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW="1000", OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="100000", **kms)


def test_schemathesis_with_twilios_document_finds_nothing(server, dynamodb_endpoint, tmp_path):
    from twilio.rest import Client

    key = make_key(dynamodb_endpoint)
    client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
    client.verify.base_url = server.url
    # Real identifiers, so the operations get past 404: the default Service (the stage's: it
    # cannot be updated or deleted, so fuzzing it leaves it there) and one identity.
    default = client.verify.v2.services.list(limit=1)[0].sid
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\n"path.ServiceSid" = "{default}"\n"path.Identity" = "fuzz-identity-0001"\n\n'
        f'[[operations]]\ninclude-path = "/v2/Services/{{Sid}}"\nparameters = {{ "path.Sid" = "{default}" }}\n')
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(schemathesis), "run", str(SPEC), "--url", server.url,
         "--auth", f"{key['api_key_sid']}:{key['api_key_secret']}",
         "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
         "--seed", "20261130", "--max-examples", "10", "--workers", "1", "--request-timeout", "20"],
        capture_output=True, text=True, timeout=480, cwd=tmp_path,
    )
    summary = run.stdout[-8000:]
    print(summary)
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert "Tested: 20" in run.stdout, summary  # every operation of the filtered document
