"""schemathesis with Twilio's whole OpenAPI document for Verify v2 (all 57 operations of
twilio/twilio-oai's twilio_verify_v2.json, vendored unmodified in tests/data/twilio-oai) against
the served API with an API key. The one change, made at test time, adds the error answers
Twilio's document leaves out, in Twilio's error shape (tests/integration/twilio_oai.py
``with_twilio_errors``). Checks: no 5xx and no 403; every status, body and content type as
that document gives them (a success body validates against the document's schema, an error is
Twilio's shape); every SID field of an answer matches the document's pattern for it
(tests/integration/twilio_oai_checks.py). The operations this service does not offer answer
the catch-all's documented 20404 or 405 (chalicelib/twilio_v2/unserved.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration import twilio_oai
from tests.integration.conftest import unique_number
from tests.integration.test_twilio_sdks import fresh_auth_token, make_key
from tests.live import moto_kms

# unsupported_method: a method the document does not give a path is 405 with Allow (on every
# path of the 57 operations, served or not); allow_header_conformance: that Allow lists the
# document's methods for it.
CHECKS = ("not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance,"
          "unsupported_method,allow_header_conformance,twilio_error_shape,twilio_sids,twilio_fields")
IDENTITY = "fuzz-identity-0001"
# deterministic; at most 6 generated cases per operation and phase (TWILIO_OAI_MAX_EXAMPLES and
# TWILIO_OAI_SEED explore further: 60 examples, 5,660 cases, found nothing more)
SEED = os.environ.get("TWILIO_OAI_SEED", "20261130")
EXAMPLES = os.environ.get("TWILIO_OAI_MAX_EXAMPLES", "6")


@pytest.fixture(scope="module")
def server(serve, dynamodb_endpoint):
    fresh_auth_token(dynamodb_endpoint)  # a Webhook is signed with it: none is made without one
    with moto_kms("test") as kms:  # the TOTP resources need the stage's KMS key
        yield serve(OTP_ATTEMPTS="true", OTP_TWILIO_WEBHOOKS="true", OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="1000",
                    OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW="1000", OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="100000",
                    **kms)


def real_resources(client, service: str) -> dict[str, str]:
    """A pending verification, its attempt, a verified factor and its pending challenge in the
    default Service, so the operations that name them get past 404 (schemathesis fuzzes them:
    it may cancel or delete them, then they answer 404 like any unknown SID)."""
    import pyotp

    verify = client.verify.v2.services(service)
    verification = verify.verifications.create(to=unique_number(761), channel="sms")
    user = verify.entities(IDENTITY)
    factor = user.new_factors.create(friendly_name="probe", factor_type="totp")
    user.factors(factor.sid).update(auth_payload=pyotp.TOTP(factor.binding["secret"]).now())
    challenge = user.challenges.create(factor_sid=factor.sid)
    # The default Service has no Webhooks (the stage's configuration): a Service of its own.
    hooked = client.verify.v2.services.create(friendly_name="Hooks").sid
    webhook = client.verify.v2.services(hooked).webhooks.create(
        friendly_name="probe", event_types=["*"], webhook_url="https://backend.example.com/hooks")
    return {"VE": verification.sid, "YF": factor.sid, "YC": challenge.sid,
            "VL": verification.send_code_attempts[0]["attempt_sid"], "VA_HOOKS": hooked, "YW": webhook.sid}


def long_sid_prefixes(sids: dict[str, str]) -> list[str]:
    """The SID prefixes this service still makes with more than 32 hex digits (VE and YF until
    issue 29's 34-character SIDs land): the document's pattern for them is relaxed for this run,
    and the run says so. Once they are 34 characters, nothing is relaxed (TWILIO_OAI_STRICT_SIDS=1:
    never relaxed, to see which fields fail for their length alone)."""
    if os.environ.get("TWILIO_OAI_STRICT_SIDS"):
        return []
    return sorted(prefix for prefix, sid in sids.items() if len(sid) != 34)


def config(service: str, sids: dict[str, str]) -> str:
    """schemathesis.toml: the real identifiers, per operation where the name is shared."""
    per_path = {"/v2/Services/{Sid}": service, "/v2/Services/{ServiceSid}/Verifications/{Sid}": sids["VE"],
                "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors/{Sid}": sids["YF"],
                "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{Sid}": sids["YC"],
                "/v2/Attempts/{Sid}": sids["VL"]}
    # The undeclared methods tried on each path: API Gateway's (a REST API takes no TRACE or
    # QUERY: those never reach the function deployed, and chalice's local server answers them
    # itself); HEAD has no body to check.
    text = ('[phases.coverage]\nunexpected-methods = ["get", "put", "post", "delete", "options", "patch"]\n\n'
            f'[parameters]\n"path.ServiceSid" = "{service}"\n"path.Identity" = "{IDENTITY}"\n')
    for path, sid in per_path.items():
        text += f'\n[[operations]]\ninclude-path = "{path}"\nparameters = {{ "path.Sid" = "{sid}" }}\n'
    hooks = "/v2/Services/{ServiceSid}/Webhooks"
    text += (f'\n[[operations]]\ninclude-path = "{hooks}"\n'
             f'parameters = {{ "path.ServiceSid" = "{sids["VA_HOOKS"]}" }}\n'
             f'\n[[operations]]\ninclude-path = "{hooks}/{{Sid}}"\n'
             f'parameters = {{ "path.ServiceSid" = "{sids["VA_HOOKS"]}", "path.Sid" = "{sids["YW"]}" }}\n')
    return text


def test_the_document_is_twilios_whole_one():
    spec = twilio_oai.load()
    assert len(twilio_oai.operations(spec)) == 57 and "x-test-transformation" not in spec
    added = twilio_oai.with_twilio_errors(spec)
    for method, path, _ in twilio_oai.operations(added):
        responses = added["paths"][path][method.lower()]["responses"]
        assert set(twilio_oai.ERROR_STATUSES) <= set(responses) and "403" not in responses, (method, path)


def test_schemathesis_with_twilios_document_finds_nothing(server, dynamodb_endpoint, tmp_path):
    from twilio.rest import Client

    key = make_key(dynamodb_endpoint)
    client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
    client.verify.base_url = server.url
    # Real identifiers, so the operations get past 404: the default Service (the stage's: it
    # cannot be updated or deleted, so fuzzing it leaves it there), one identity and what
    # real_resources makes.
    default = client.verify.v2.services.list(limit=1)[0].sid
    sids = real_resources(client, default)
    long = long_sid_prefixes({k: v for k, v in sids.items() if k in ("VE", "YF", "YC", "VL")})
    print(f"SID prefixes still longer than Twilio's 34 characters (patterns relaxed): {long or 'none'}")
    spec = twilio_oai.relax_long_sids(twilio_oai.with_twilio_errors(twilio_oai.load()), long)
    path = twilio_oai.write(spec, tmp_path / "twilio_verify_v2.json")
    (tmp_path / "schemathesis.toml").write_text(config(default, sids))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(ROOT / "tests" / "integration" / "twilio_oai_checks.py"),
           "TWILIO_OAI_SPEC": str(path), "PYTHONPATH": str(ROOT)}
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(schemathesis), "run", str(path), "--url", server.url,
         "--auth", f"{key['api_key_sid']}:{key['api_key_secret']}",
         "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
         "--seed", SEED, "--max-examples", EXAMPLES, "--workers", "1", "--request-timeout", "20"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, env=env,
    )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)  # the whole report
    summary = run.stdout[-12000:]
    print(f"{tmp_path / 'schemathesis.out'}\n{summary}")
    assert run.returncode == 0, summary + run.stderr[-2000:]
    assert re.search(r"\b57 (selected|operations)|Tested: 57|57 tested", run.stdout), summary
