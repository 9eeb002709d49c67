"""Twilio's official SDKs, unchanged, against this service served over HTTP (scripts/local/serve.py,
as `make run` serves it) and dynalite: the switch README's "Moving from Twilio Verify" shows,
a base URL and an API key. twilio-python (requirements-dev.txt) runs in this process;
twilio-node (installed into .deps by `make test`) runs tests/integration/twilio_node_*.js
(twilio_node_otp.js and twilio_node_common.js are their helpers: the TOTP code, the code printed
to the log and the error a call failed with; not flows).

How the SDKs are pointed at us, from their source: twilio-python's Domain.absolute_url joins
``client.verify.base_url`` and the ``/v2/...`` path (twilio/base/domain.py); twilio-node's
Domain.absoluteUrl does the same with ``client.verify.baseUrl`` (lib/base/Domain.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.integration.conftest import unique_number
from tests.live import moto_kms

NODE_SDK = ROOT / ".deps" / "node_modules" / "twilio"


@pytest.fixture(scope="module")
def server(serve):
    return serve()


def make_key(dynamodb_endpoint: str) -> dict:
    """As an operator makes one: `python scripts/keys/api_keys.py create --stage test`."""
    env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    out = subprocess.run([sys.executable, "scripts/keys/api_keys.py", "create", "--stage", "test", "--name", "sdk"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # one JSON object and nothing else on stdout


@pytest.fixture(scope="module")
def key(dynamodb_endpoint):
    return make_key(dynamodb_endpoint)


def sdk(server, key):
    from twilio.rest import Client

    client = Client(key["api_key_sid"], key["api_key_secret"], key["account_sid"])
    client.verify.base_url = server.url  # deployed: https://<api-id>.execute-api.<region>.amazonaws.com/api
    return client


def test_twilio_python_drives_the_documented_flow(server, key):
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    service = client.verify.v2.services.create(friendly_name="Acme", code_length=8)
    assert service.sid.startswith("VA") and service.code_length == 8
    to = unique_number(120)
    verification = client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    assert verification.status == "pending" and verification.valid is False
    assert "Acme" in server.last_sms(to)
    code = server.last_code(to, 8)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    check = client.verify.v2.services(service.sid).verification_checks.create(to=to, code=wrong)
    assert (check.status, check.valid) == ("pending", False)
    check = client.verify.v2.services(service.sid).verification_checks.create(verification_sid=verification.sid,
                                                                                  code=code)
    assert (check.status, check.valid) == ("approved", True)
    with pytest.raises(TwilioRestException) as gone:
        client.verify.v2.services(service.sid).verifications(verification.sid).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_twilio_python_by_the_34_character_sid(server, key):
    """Issue 29: start, fetch by the SID, check by VerificationSid, approve by SID; every SID
    matches the pattern of Twilio's own document (an app's CHAR(34) column and validation)."""
    import re

    document = json.loads((ROOT / "tests/data/twilio-oai/twilio_verify_v2.json").read_text())
    schema = document["components"]["schemas"]["verify.v2.service.verification"]
    pattern = schema["properties"]["sid"]["pattern"]
    client = sdk(server, key)
    verify = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Sids").sid)
    to, other = unique_number(140), unique_number(141)
    started = verify.verifications.create(to=to, channel="sms")
    assert re.fullmatch(pattern.strip("^$"), started.sid) and len(started.sid) == 34
    fetched = verify.verifications(started.sid).fetch()
    assert (fetched.sid, fetched.status) == (started.sid, "pending")
    code = server.last_code(to)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert verify.verification_checks.create(verification_sid=started.sid, code=wrong).status == "pending"
    check = verify.verification_checks.create(verification_sid=started.sid, code=code)
    assert (check.sid, check.status, check.valid) == (started.sid, "approved", True)
    second = verify.verifications.create(to=other, channel="sms")
    approved = verify.verifications(second.sid).update(status="approved")
    assert (approved.sid, approved.status) == (second.sid, "approved") and len(approved.sid) == 34


def test_twilio_python_a_reload_is_a_resend_and_the_first_code_approves(server, key):
    """Issue 29: the quickstarts start again on a reload of the verify page; Twilio answers 201
    with the same SID, and the code of the first SMS (they arrive late) still approves."""
    client = sdk(server, key)
    verify = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Reload").sid)
    to = unique_number(127)
    first = verify.verifications.create(to=to, channel="sms")
    code = server.last_code(to)
    again = verify.verifications.create(to=to, channel="sms")  # within a second: no wait on v2
    assert again.sid == first.sid and len(again.send_code_attempts) == 2
    check = verify.verification_checks.create(to=to, code=code)
    assert (check.status, check.valid, check.sid) == ("approved", True, first.sid)


def test_twilio_python_cancel_max_attempts_and_a_second_service(server, key):
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    first = client.verify.v2.services.create(friendly_name="First")
    second = client.verify.v2.services.create(friendly_name="Second")
    to = unique_number(121)
    verification = client.verify.v2.services(first.sid).verifications.create(to=to, channel="sms")
    canceled = client.verify.v2.services(first.sid).verifications(verification.sid).update(status="canceled")
    assert canceled.status == "canceled"

    other = client.verify.v2.services(second.sid).verifications.create(to=to, channel="sms")
    with pytest.raises(TwilioRestException) as foreign:  # a Service sees its own verifications only
        client.verify.v2.services(first.sid).verifications(other.sid).fetch()
    assert foreign.value.code == 20404
    wrong = f"{(int(server.last_code(to)) + 1) % 10**6:06d}"
    for _ in range(5):
        assert client.verify.v2.services(second.sid).verification_checks.create(to=to, code=wrong).valid is False
    with pytest.raises(TwilioRestException) as attempts:
        client.verify.v2.services(second.sid).verification_checks.create(to=to, code=wrong)
    assert (attempts.value.status, attempts.value.code) == (429, 60202)
    names = [s.friendly_name for s in client.verify.v2.services.list(page_size=1)]  # follows next_page_url
    assert {"Verify", "First", "Second"} <= set(names)


def test_twilio_python_another_services_sid_is_20404_and_changes_nothing(server, key):
    """Issue 28 item 1 through the official client, unchanged: Service B names Service A's
    verification by SID (check with the right code, fetch, cancel): each 20404; A then
    approves it with that code."""
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    first = client.verify.v2.services.create(friendly_name="First")
    second = client.verify.v2.services.create(friendly_name="Second")
    to = unique_number(126)
    verification = client.verify.v2.services(first.sid).verifications.create(to=to, channel="sms")
    code = server.last_code(to)
    other = client.verify.v2.services(second.sid)
    for call in (lambda: other.verification_checks.create(verification_sid=verification.sid, code=code),
                 lambda: other.verifications(verification.sid).fetch(),
                 lambda: other.verifications(verification.sid).update(status="canceled")):
        with pytest.raises(TwilioRestException) as foreign:
            call()
        assert (foreign.value.status, foreign.value.code) == (404, 20404)
    check = client.verify.v2.services(first.sid).verification_checks.create(verification_sid=verification.sid,
                                                                                code=code)
    assert (check.status, check.valid) == ("approved", True)


def test_twilio_python_wrong_credentials_and_a_revoked_key(server, key, dynamodb_endpoint):
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    client = Client(key["api_key_sid"], "wrong" + key["api_key_secret"][5:], key["account_sid"])
    client.verify.base_url = server.url
    with pytest.raises(TwilioRestException) as refused:  # (list() raises a plain TwilioException)
        client.verify.v2.services.create(friendly_name="Nope")
    assert (refused.value.status, refused.value.code) == (401, 20003)

    revoked = make_key(dynamodb_endpoint)
    assert sdk(server, revoked).verify.v2.services.list(limit=1)
    env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    subprocess.run([sys.executable, "scripts/keys/api_keys.py", "revoke", "--stage", "test", "--sid", revoked["api_key_sid"]],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    # The server forks per request (as Lambda's containers come and go): the revocation is
    # seen by the next request; a warm container sees it within the keys' cache bound (30 s).
    with pytest.raises(TwilioRestException) as refused:
        sdk(server, revoked).verify.v2.services.create(friendly_name="Nope")
    assert refused.value.code == 20003
    listed = subprocess.run([sys.executable, "scripts/keys/api_keys.py", "list", "--stage", "test"], cwd=ROOT, env=env,
                            check=True, capture_output=True, text=True).stdout.splitlines()
    assert any(json.loads(line)["api_key_sid"] == revoked["api_key_sid"] and json.loads(line)["revoked_at"]
               for line in listed)


def api_keys(dynamodb_endpoint: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python scripts/keys/api_keys.py ARGS --stage test`, as an operator runs it."""
    env = {**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}
    return subprocess.run([sys.executable, "scripts/keys/api_keys.py", *args, "--stage", "test"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=check)


def fresh_auth_token(dynamodb_endpoint: str) -> dict:
    """The account's auth token, made anew (`auth-token create`; any earlier one revoked first:
    the table is the session's)."""
    api_keys(dynamodb_endpoint, "auth-token", "revoke", check=False)
    return json.loads(api_keys(dynamodb_endpoint, "auth-token", "create").stdout)


def test_twilio_python_with_the_account_sid_and_auth_token(server, dynamodb_endpoint):
    """Client(account_sid, auth_token), as most apps and Twilio's own quickstarts hold it."""
    from twilio.base.exceptions import TwilioRestException
    from twilio.rest import Client

    token = fresh_auth_token(dynamodb_endpoint)

    def account(auth_token: str) -> Client:
        client = Client(token["account_sid"], auth_token)
        client.verify.base_url = server.url
        return client

    verify = account(token["auth_token"]).verify.v2
    service = verify.services.create(friendly_name="Token App")
    to = unique_number(126)
    assert verify.services(service.sid).verifications.create(to=to, channel="sms").status == "pending"
    check = verify.services(service.sid).verification_checks.create(to=to, code=server.last_code(to))
    assert (check.status, check.valid) == ("approved", True)
    with pytest.raises(TwilioRestException) as refused:
        account("0" * 32).verify.v2.services.create(friendly_name="Nope")
    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert "0" * 32 not in str(refused.value) and token["auth_token"] not in server.log_path.read_text()

    # Rotation as Twilio's: a secondary beside the primary, then promote; the server forks per
    # request, so each change is seen by the next request (a warm container: within 30 s).
    secondary = json.loads(api_keys(dynamodb_endpoint, "auth-token", "rotate").stdout)["auth_token"]
    for auth_token in (token["auth_token"], secondary):
        assert account(auth_token).verify.v2.services(service.sid).fetch().friendly_name == "Token App"
    api_keys(dynamodb_endpoint, "auth-token", "promote")
    assert account(secondary).verify.v2.services(service.sid).fetch().sid == service.sid
    with pytest.raises(TwilioRestException) as refused:
        account(token["auth_token"]).verify.v2.services(service.sid).fetch()
    assert refused.value.code == 20003  # the rotated-out token
    api_keys(dynamodb_endpoint, "auth-token", "revoke")
    with pytest.raises(TwilioRestException) as refused:
        account(secondary).verify.v2.services(service.sid).fetch()
    assert refused.value.code == 20003  # revoked


def test_twilio_python_with_a_key_limited_to_one_service(server, key, dynamodb_endpoint):
    from twilio.base.exceptions import TwilioRestException

    mine = sdk(server, key).verify.v2.services.create(friendly_name="Mine")
    other = sdk(server, key).verify.v2.services.create(friendly_name="Other")
    limited = json.loads(api_keys(dynamodb_endpoint, "create", "--name", "limited", "--services", mine.sid).stdout)
    verify = sdk(server, limited).verify.v2
    to = unique_number(127)
    assert verify.services(mine.sid).verifications.create(to=to, channel="sms").status == "pending"
    check = verify.services(mine.sid).verification_checks.create(to=to, code=server.last_code(to))
    assert check.status == "approved"
    with pytest.raises(TwilioRestException) as refused:
        verify.services(other.sid).verifications.create(to=unique_number(128), channel="sms")
    assert (refused.value.status, refused.value.code) == (403, 20403)
    assert [s.sid for s in verify.services.list()] == [mine.sid]


@pytest.fixture(scope="module")
def totp_server(serve):
    """The server with the stage's TOTP key (KMS: moto's server, as `make run` has it) and
    the Attempts log (OTP_ATTEMPTS=true)."""
    with moto_kms("test") as kms:
        yield serve(OTP_ATTEMPTS="true", **kms)


def test_twilio_python_enrolls_a_totp_factor_and_approves_a_challenge(totp_server, key):
    import time

    import pyotp

    client = sdk(totp_server, key)
    service = client.verify.v2.services.create(friendly_name="Acme TOTP")
    entity = client.verify.v2.services(service.sid).entities.create(identity="user-0042-sdk")
    entity_factors = client.verify.v2.services(service.sid).entities(entity.identity)
    created = entity_factors.new_factors.create(friendly_name="Alice's phone", factor_type="totp")
    assert created.status == "unverified" and created.binding["uri"].startswith("otpauth://totp/")
    assert len(created.sid) == 34 and len(entity.sid) == 34  # Twilio's SIDs (issue 29)
    totp = pyotp.TOTP(created.binding["secret"])
    factor = entity_factors.factors(created.sid).update(auth_payload=totp.now())
    assert factor.status == "verified"
    # The confirming code is used; the next step's code is inside the window (OTP_TOTP_WINDOW=1).
    challenge = entity_factors.challenges.create(factor_sid=created.sid, auth_payload=totp.at(time.time() + 30))
    assert challenge.status == "approved"


def test_twilio_python_drives_every_totp_resource(totp_server, key):
    """Issue 29: every TOTP operation of Twilio's document through twilio-python, unchanged:
    an entity created, fetched and listed before it has a factor; a pending challenge fetched,
    listed and approved by its update's AuthPayload; the entity deleted with its factors."""
    import time

    import pyotp
    from twilio.base.exceptions import TwilioRestException

    client = sdk(totp_server, key)
    service = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Acme Entities").sid)
    entity = service.entities.create(identity="user-0043-sdk")
    assert service.entities("user-0043-sdk").fetch().sid == entity.sid  # no factor yet
    assert [e.identity for e in service.entities.list()] == ["user-0043-sdk"]
    user = service.entities("user-0043-sdk")
    created = user.new_factors.create(friendly_name="Alice's phone", factor_type="totp")
    totp = pyotp.TOTP(created.binding["secret"])
    assert user.factors(created.sid).update(auth_payload=totp.now()).status == "verified"
    renamed = user.factors(created.sid).update(friendly_name="Work phone")
    assert renamed.friendly_name == "Work phone" and renamed.status == "verified"
    challenge = user.challenges.create(factor_sid=created.sid)
    assert challenge.status == "pending" and len(challenge.sid) == 34
    assert user.challenges(challenge.sid).fetch().status == "pending"
    assert [c.sid for c in user.challenges.list(factor_sid=created.sid, status="pending")] == [challenge.sid]
    # The confirming code is used; the next step's code is inside the window (OTP_TOTP_WINDOW=1).
    approved = user.challenges(challenge.sid).update(auth_payload=totp.at(time.time() + 30))
    assert approved.status == "approved"
    assert [c.status for c in user.challenges.list()] == ["approved"]
    assert user.delete() is True
    with pytest.raises(TwilioRestException) as refused:
        user.factors(created.sid).fetch()
    assert refused.value.status == 404 and refused.value.code == 20404
    assert service.entities.list() == []


def test_twilio_python_lists_and_summarises_attempts(totp_server, key):
    client = sdk(totp_server, key)
    service = client.verify.v2.services.create(friendly_name="Conversions")
    converted, unconverted = unique_number(123), unique_number(124)
    started = client.verify.v2.services(service.sid).verifications.create(to=converted, channel="sms")
    client.verify.v2.services(service.sid).verifications.create(to=unconverted, channel="sms")
    check = client.verify.v2.services(service.sid).verification_checks.create(
        to=converted, code=totp_server.last_code(converted))
    assert check.status == "approved"
    attempts = client.verify.v2.verification_attempts.list(verify_service_sid=service.sid)
    assert {(a.channel_data["to"], a.conversion_status) for a in attempts} == {
        (converted, "converted"), (unconverted, "unconverted")}
    assert [a.sid for a in attempts if a.verification_sid == started.sid] == [started.send_code_attempts[0]["attempt_sid"]]
    summary = client.verify.v2.verification_attempts_summary().fetch(verify_service_sid=service.sid)
    assert (summary.total_attempts, summary.total_converted, summary.total_unconverted) == (2, 1, 1)
    assert summary.conversion_rate_percentage == "50.00"


def _node(script: str, server, key: dict, **env: str) -> dict:
    if shutil.which("node") is None or not NODE_SDK.exists():
        pytest.fail("twilio-node is missing: run `make test` (it installs it into .deps/)")
    environ = {**os.environ, "API_URL": server.url, "SERVER_LOG": str(server.log_path),
               "TWILIO_ACCOUNT_SID": key["account_sid"], "API_KEY_SID": key["api_key_sid"],
               "API_KEY_SECRET": key["api_key_secret"], "NODE_PATH": str(ROOT / ".deps" / "node_modules"), **env}
    run = subprocess.run(["node", str(ROOT / "tests" / "integration" / script)], env=environ,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_twilio_node_drives_the_documented_flow(server, key):
    seen = _node("twilio_node_flow.js", server, key, TO=unique_number(122))
    assert seen == {"created": "pending", "wrong": [False, "pending"], "right": [True, "approved"], "fetched": 20404,
                    "canceled": "canceled", "max_attempts": 60202, "bad_key": 20003}


def test_twilio_node_with_the_account_sid_and_auth_token(server, dynamodb_endpoint):
    token = fresh_auth_token(dynamodb_endpoint)
    seen = _node("twilio_node_token.js", server, {"account_sid": token["account_sid"], "api_key_sid": "",
                                                    "api_key_secret": ""},
                 AUTH_TOKEN=token["auth_token"], TO=unique_number(129))
    assert seen == {"created": "pending", "right": [True, "approved"], "bad_token": 20003}


def test_twilio_node_services_apart_totp_attempts_and_a_revoked_key(totp_server, key, dynamodb_endpoint):
    revoked = make_key(dynamodb_endpoint)
    subprocess.run([sys.executable, "scripts/keys/api_keys.py", "revoke", "--stage", "test", "--sid", revoked["api_key_sid"]],
                   cwd=ROOT, env={**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint}, check=True,
                   capture_output=True)
    seen = _node("twilio_node_more.js", totp_server, key, TO=unique_number(125),
                 REVOKED_SID=revoked["api_key_sid"], REVOKED_SECRET=revoked["api_key_secret"])
    assert seen == {"foreign": 20404, "first_still_checks": "approved", "factor": "verified", "challenge": "approved",
                    "attempts": ["converted"], "summary": [1, 1, "100.00"], "revoked": 20003}


def test_twilio_node_drives_every_totp_resource(totp_server, key):
    """Issue 29: twilio-node, unchanged, through every TOTP operation of Twilio's document
    (tests/integration/twilio_node_totp.js), as twilio-python does above: the entity fetched and
    listed before it has a factor, a pending challenge fetched, listed and approved by its
    update's AuthPayload, the entity deleted with its factors (then 20404)."""
    seen = _node("twilio_node_totp.js", totp_server, key, IDENTITY="node-user-0043")
    assert seen == {"fetched": True, "listed": ["node-user-0043"], "new_factor": "unverified",
                    "factor": "verified", "challenge": ["pending", 34], "challenge_fetched": "pending",
                    "pending": [True], "approved": "approved", "challenges": ["approved"], "removed": True,
                    "gone": [404, 20404], "factor_gone": [404, 20404], "listed_after": []}


@pytest.fixture(scope="module")
def channels_server(serve):
    """WhatsApp and email on (the console provider prints them as it prints SMS), WhatsApp first
    for every country, and no resend interval, so a resend follows at once."""
    return serve(OTP_WHATSAPP_PROVIDER="console", OTP_EMAIL_PROVIDER="console",
                 OTP_CHANNEL_ORDER='{"*": "whatsapp,sms"}', OTP_RESEND_INTERVAL_SECONDS="0")


def test_twilio_python_sends_by_whatsapp_email_and_auto(channels_server, key):
    """Issue 24 through twilio-python, unchanged: Channel whatsapp, email and auto, and auto's
    resend after a WhatsApp nobody read (no `read` status came) moving to SMS."""
    client = sdk(channels_server, key)
    verify = client.verify.v2.services(client.verify.v2.services.list(limit=1)[0].sid)  # the default

    to = unique_number(130)
    sent = verify.verifications.create(to=to, channel="whatsapp")
    assert (sent.channel, sent.status) == ("whatsapp", "pending")
    code = channels_server.last_code(to, label="WhatsApp")
    assert verify.verification_checks.create(to=to, code=code).status == "approved"

    address = "ana@example.com"
    sent = verify.verifications.create(to=address, channel="email")
    assert (sent.channel, sent.to) == ("email", address)
    code = channels_server.last_code(address, label="email")
    assert verify.verification_checks.create(to=address, code=code).valid is True

    to = unique_number(131)
    first = verify.verifications.create(to=to, channel="auto")
    assert first.channel == "whatsapp"
    resent = verify.verifications.create(to=to, channel="auto")  # the WhatsApp was not read
    assert resent.sid == first.sid and resent.channel == "sms"
    assert [a["channel"] for a in resent.send_code_attempts] == ["whatsapp", "sms"]
    code = channels_server.last_code(to)
    assert verify.verification_checks.create(verification_sid=first.sid, code=code).status == "approved"


def test_twilio_python_approves_fetches_and_cancels_by_number_and_checks_any_length(server, key):
    """Issue 29 through twilio-python, unchanged: Twilio's api-snippets
    (verify/verifications/approve-verification/approve-verification.6.x.py) approve with
    ``verifications('+15017122661').update(status='approved')``; the SDK puts the number in the
    path as given. A Code of another length than the Service's is a wrong guess (pending)."""
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    service = client.verify.v2.services.create(friendly_name="ByNumber")
    other = client.verify.v2.services.create(friendly_name="Elsewhere")
    to = unique_number(127)
    verification = client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    fetched = client.verify.v2.services(service.sid).verifications(to).fetch()
    assert (fetched.sid, fetched.status) == (verification.sid, "pending")
    with pytest.raises(TwilioRestException) as foreign:  # another Service's key for the number
        client.verify.v2.services(other.sid).verifications(to).update(status="approved")
    assert (foreign.value.status, foreign.value.code) == (404, 20404)
    miss = client.verify.v2.services(service.sid).verification_checks.create(to=to, code="1234")
    assert (miss.status, miss.valid) == ("pending", False)
    approved = client.verify.v2.services(service.sid).verifications(to).update(status="approved")
    assert (approved.sid, approved.status, approved.valid) == (verification.sid, "approved", True)
    again = client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms")
    canceled = client.verify.v2.services(service.sid).verifications(to).update(status="canceled")
    assert (canceled.sid, canceled.status) == (again.sid, "canceled")
    with pytest.raises(TwilioRestException) as gone:
        client.verify.v2.services(service.sid).verifications(to).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_twilio_node_approves_fetches_and_cancels_by_number_and_checks_any_length(server, key):
    seen = _node("twilio_node_by_number.js", server, key, TO=unique_number(128))
    assert seen == {"fetched": "pending", "same_sid": True, "foreign": 20404, "short_code": [False, "pending"],
                    "approved": "approved", "canceled": "canceled", "gone": 20404}
