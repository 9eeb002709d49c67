"""Credentials as Twilio apps hold them (issue 29): the account SID with an auth token, as
``Client(account_sid, auth_token)`` sends it, and API keys limited to some Services.

The auth token is Twilio's: 32 hex characters, a primary and, while a rotation is under way, a
secondary (https://www.twilio.com/docs/iam/api/authtoken: "promote" makes the secondary the
primary). Here it is derived, never stored: ``HMAC(identity key, "auth-token", generation)``,
and the table keeps only which generations are live (credentials.py). A request with a
credential that has no permission on a Service answers 403 20403
(https://www.twilio.com/docs/api/errors/20403); a wrong credential 401 20003
(https://www.twilio.com/docs/api/errors/20003).
"""

from __future__ import annotations

import json
import logging
import re

import pytest

from chalicelib import wiring
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER
from tests.unit.test_twilio_v2 import FORM, basic, call, key, new_service, twilio_error  # noqa: F401  (key: fixture)


def as_account(token: dict) -> dict:
    """The credentials dict ``call`` takes, holding the account SID and its auth token."""
    return {"api_key_sid": token["account_sid"], "api_key_secret": token["auth_token"]}


def token_cli(action: str, *flags: str) -> dict:
    """As an operator runs it: `python scripts/keys/api_keys.py auth-token ACTION --stage test`."""
    from scripts.keys.api_keys import auth_token

    return auth_token("test", action, secondary="--secondary" in flags)


def expire_cache(monkeypatch, seconds: float | None = None) -> None:
    """The door's clock moved past its cache bound (a revocation is seen within it), or by
    ``seconds`` (past MISS_REFRESH_SECONDS: a credential made moments ago is read)."""
    from chalicelib.twilio_v2 import credentials

    authenticator = wiring.get_twilio().authenticator
    now = authenticator._monotonic()
    monkeypatch.setattr(authenticator, "_monotonic", lambda: now + (seconds or credentials.CACHE_SECONDS))


@pytest.fixture
def token(aws):
    return token_cli("create")


# -- the auth token -----------------------------------------------------------------------------


def test_the_auth_token_is_32_hex_shown_once_and_nothing_of_it_is_stored(client, token):
    import boto3

    from tests.conftest import TABLE

    assert set(token) == {"account_sid", "auth_token", "role"} and token["role"] == "primary"
    assert re.fullmatch(r"AC[0-9a-f]{32}", token["account_sid"]) and re.fullmatch(r"[0-9a-f]{32}", token["auth_token"])
    assert token["account_sid"] == wiring.get_twilio().account_sid
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "v2#keys"}})["Item"]
    assert token["auth_token"] not in json.dumps(item)  # only which generation is live
    with pytest.raises(SystemExit, match="already has an auth token"):
        token_cli("create")  # never shown again: a second create is refused, rotate makes another


def test_account_sid_and_auth_token_drive_a_start_and_a_check_on_any_service(client, token, outbox):
    account = as_account(token)
    service = new_service(client, account)
    status, started, _ = call(client, account, "POST", f"/v2/Services/{service['sid']}/Verifications",
                              {"To": NUMBER, "Channel": "sms"})
    assert status == 201 and started["account_sid"] == token["account_sid"], started
    status, checked, _ = call(client, account, "POST", f"/v2/Services/{service['sid']}/VerificationCheck",
                              {"To": NUMBER, "Code": last_code(outbox)})
    assert status == 200 and checked["status"] == "approved", checked
    status, listed, _ = call(client, account, "GET", "/v2/Services")
    assert status == 200 and service["sid"] in [s["sid"] for s in listed["services"]]


@pytest.mark.parametrize("credentials", ["wrong-token", "another-account", "no-token-yet", "token-as-key-secret"])
def test_a_wrong_token_is_20003_and_counted_like_a_wrong_key(client, key, credentials, monkeypatch):
    from chalicelib import telemetry

    token = token_cli("create") if credentials != "no-token-yet" else {
        "account_sid": key["account_sid"], "auth_token": "0" * 32}
    wrong = {"wrong-token": basic(token["account_sid"], token["auth_token"][:-1] + ("0" if token["auth_token"][-1] != "0" else "1")),
             "another-account": basic("AC" + "0" * 32, token["auth_token"]),
             "no-token-yet": basic(token["account_sid"], token["auth_token"]),
             "token-as-key-secret": basic(key["api_key_sid"], token["auth_token"])}[credentials]
    counted = []
    monkeypatch.setattr(telemetry, "metric", lambda name, *a, **k: counted.append(name))
    status, body, _ = call(client, key, "GET", "/v2/Services", headers=wrong)
    assert (status, body) == (401, {"code": 20003, "message": "Authenticate", "status": 401,
                                    "more_info": "https://www.twilio.com/docs/errors/20003"})
    assert counted == ["AuthenticationFailures"]
    authenticator = wiring.get_twilio().authenticator
    assert sum(count for _, count in authenticator._failures.values()) == 1


def test_a_flood_of_wrong_tokens_does_not_lock_out_the_good_one(client, token, monkeypatch):
    from chalicelib.twilio_v2.credentials import FAILURES_PER_MINUTE

    authenticator = wiring.get_twilio().authenticator
    clock = [6000.0]
    monkeypatch.setattr(authenticator, "_monotonic", lambda: clock[0])
    account = as_account(token)
    assert call(client, account, "GET", "/v2/Services")[0] == 200
    reads = []
    wiring.get_service()._store._client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(params["Key"]["pk"]["S"]))
    flood = FAILURES_PER_MINUTE + 20
    for i in range(flood):
        clock[0] += 1.1
        wrong = basic(token["account_sid"], f"{i:032x}")
        assert call(client, account, "GET", "/v2/Services", headers=wrong)[0] == 401
    assert reads.count("v2#keys") <= FAILURES_PER_MINUTE + 1 < flood  # the flood stops re-reading
    assert call(client, account, "GET", "/v2/Services")[0] == 200  # the good token, same source


def test_a_rotation_accepts_both_tokens_until_promote_then_only_the_new_one(client, token, monkeypatch):
    old = as_account(token)
    secondary = token_cli("rotate")
    assert secondary["role"] == "secondary" and secondary["auth_token"] != token["auth_token"]
    new = as_account(secondary)
    assert call(client, new, "GET", "/v2/Services")[0] == 200  # at once: an unknown token re-reads
    assert call(client, old, "GET", "/v2/Services")[0] == 200  # both while the rotation is under way
    with pytest.raises(SystemExit, match="rotation is under way"):
        token_cli("rotate")
    assert token_cli("promote") == {"account_sid": token["account_sid"], "promoted": True}
    expire_cache(monkeypatch)
    assert call(client, new, "GET", "/v2/Services")[0] == 200
    status, body, _ = call(client, old, "GET", "/v2/Services")
    assert status == 401 and twilio_error(body) == 20003  # the rotated-out token stops working


def test_a_dropped_secondary_and_a_revoked_token_stop_working(client, token, monkeypatch):
    secondary = token_cli("rotate")
    assert token_cli("revoke", "--secondary") == {"account_sid": token["account_sid"], "revoked": ["secondary"]}
    expire_cache(monkeypatch)
    assert call(client, as_account(secondary), "GET", "/v2/Services")[0] == 401
    assert call(client, as_account(token), "GET", "/v2/Services")[0] == 200
    assert token_cli("revoke") == {"account_sid": token["account_sid"], "revoked": ["primary"]}
    expire_cache(monkeypatch, 2 * 30.0)
    assert call(client, as_account(token), "GET", "/v2/Services")[0] == 401
    again = token_cli("create")  # a new generation: never the revoked token again
    assert again["auth_token"] not in (token["auth_token"], secondary["auth_token"])
    expire_cache(monkeypatch, 1.5)  # a second later (the miss re-read's bound)
    assert call(client, as_account(again), "GET", "/v2/Services")[0] == 200


def test_a_retried_token_write_recognises_its_own_success(aws, monkeypatch):
    """botocore retries a write whose answer was lost: the retry finds its own write (the
    ``wid`` token, chalicelib/dynamodb.py) and is the success it was, not 'already has an
    auth token' (tests/faults.py's ``lost``: the write lands, its answer is dropped)."""
    import boto3

    from tests.faults import Faults

    faults, real = Faults(), boto3.client
    monkeypatch.setattr(boto3, "client", lambda name, *a, **k: faults.attach(real(name, *a, **k))
                        if name == "dynamodb" else real(name, *a, **k))
    for action, flags in (("create", ()), ("rotate", ()), ("promote", ()), ("rotate", ()), ("revoke", ("--secondary",)),
                          ("revoke", ())):
        faults.arm("UpdateItem", "lost")
        made = token_cli(action, *flags)
        assert faults.hit[-1] == ("UpdateItem", "lost"), action
        assert made["account_sid"].startswith("AC"), made
    assert token_cli("create")["role"] == "primary"  # each write landed once: all revoked now


def test_the_token_can_sign_webhooks_as_twilio_does(client, token):
    """Twilio signs its webhooks with the auth token (X-Twilio-Signature: HMAC-SHA1 of the URL
    and the sorted parameters). The service can recompute its token to sign; twilio-python's
    own RequestValidator accepts the signature."""
    from twilio.request_validator import RequestValidator

    authenticator = wiring.get_twilio().authenticator
    from chalicelib.twilio_v2.credentials import twilio_signature

    signing = authenticator.signing_token()
    assert signing == token["auth_token"]
    url, params = "https://app.example.com/hooks/verify?x=1", {"VerificationSid": "VE" + "1" * 32, "Status": "approved"}
    assert RequestValidator(token["auth_token"]).validate(url, params, twilio_signature(signing, url, params))


def test_nothing_logs_or_echoes_the_token(client, token, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = basic(token["account_sid"], token["auth_token"][::-1])
    for headers in (basic(token["account_sid"], token["auth_token"]), wrong):
        for method, path in (("GET", "/v2/Services"), ("GET", "/v2/Services/VA" + "0" * 32),
                             ("POST", "/v2/Services/VA" + "0" * 32 + "/Verifications"), ("GET", "/v2/Nope")):
            response = client.http.request(method, path, headers=headers, body=b"To=x")
            seen = response.body.decode() + json.dumps(dict(response.headers))
            assert token["auth_token"] not in seen and token["auth_token"][::-1] not in seen
            assert headers["authorization"].split()[1] not in seen
    logged = caplog.text
    assert token["auth_token"] not in logged and token["auth_token"][::-1] not in logged


# -- API keys limited to some Services ----------------------------------------------------------


def test_a_service_limited_key_works_on_its_service_and_gets_20403_on_another(configured, key, outbox, monkeypatch):
    from scripts.keys.api_keys import create

    client = configured(OTP_ATTEMPTS="true")  # Attempts are in scope too

    mine, other = new_service(client, key, FriendlyName="Mine"), new_service(client, key, FriendlyName="Other")
    limited = create("test", "limited", services=[mine["sid"]])
    assert set(limited) == {"account_sid", "api_key_sid", "api_key_secret", "services"}
    assert limited["services"] == [mine["sid"]]
    expire_cache(monkeypatch, 1.5)  # a second later: the new key is read (MISS_REFRESH_SECONDS)
    path = f"/v2/Services/{mine['sid']}"
    assert call(client, limited, "GET", path)[0] == 200
    status, started, _ = call(client, limited, "POST", path + "/Verifications", {"To": NUMBER, "Channel": "sms"})
    assert status == 201, started
    status, checked, _ = call(client, limited, "POST", path + "/VerificationCheck", {"To": NUMBER, "Code": last_code(outbox)})
    assert status == 200 and checked["status"] == "approved"

    sent = len(outbox)
    foreign = f"/v2/Services/{other['sid']}"
    for method, suffix, form in (("GET", "", None), ("POST", "", {"FriendlyName": "Mine now"}), ("DELETE", "", None),
                                 ("POST", "/Verifications", {"To": OTHER_NUMBER, "Channel": "sms"}),
                                 ("POST", "/VerificationCheck", {"To": OTHER_NUMBER, "Code": "123456"}),
                                 ("POST", "/Entities", {"Identity": "user-0001"})):
        status, body, _ = call(client, limited, method, foreign + suffix, form)
        assert status == 403 and twilio_error(body) == 20403, (method, suffix, body)
    assert len(outbox) == sent  # nothing was sent for the other Service
    assert call(client, key, "GET", foreign)[1]["friendly_name"] == "Other"  # nor changed
    # The account's own resources: its Services only, no new one, Attempts of its Services only.
    status, listed, _ = call(client, limited, "GET", "/v2/Services")
    assert status == 200 and [s["sid"] for s in listed["services"]] == [mine["sid"]]
    status, body, _ = call(client, limited, "POST", "/v2/Services", {"FriendlyName": "Another"})
    assert status == 403 and twilio_error(body) == 20403
    assert call(client, limited, "GET", "/v2/Attempts")[0] == 403
    assert call(client, limited, "GET", "/v2/Attempts?VerifyServiceSid=" + other["sid"])[0] == 403
    assert call(client, limited, "GET", "/v2/Attempts?VerifyServiceSid=" + mine["sid"])[0] == 200
    status, summary, _ = call(client, limited, "GET", "/v2/Attempts/Summary?VerifyServiceSid=" + mine["sid"])
    assert status == 200 and summary["total_attempts"] == 1, summary
    status, attempts, _ = call(client, key, "GET", "/v2/Attempts")  # the account's key sees both
    assert status == 200 and len(attempts["attempts"]) == 1
    assert call(client, limited, "GET", "/v2/Attempts/" + attempts["attempts"][0]["sid"])[0] == 200
    assert call(client, key, "POST", foreign + "/Verifications", {"To": OTHER_NUMBER, "Channel": "sms"})[0] == 201
    status, theirs, _ = call(client, key, "GET", "/v2/Attempts?VerifyServiceSid=" + other["sid"])
    status, body, _ = call(client, limited, "GET", "/v2/Attempts/" + theirs["attempts"][0]["sid"])
    assert status == 404 and twilio_error(body) == 20404  # another Service's attempt: as if none


def test_an_unlimited_key_still_acts_on_every_service(client, key):
    from scripts.keys.api_keys import main

    service = new_service(client, key)
    assert call(client, key, "GET", f"/v2/Services/{service['sid']}")[0] == 200
    assert main(["list", "--stage", "test"]) == 0  # lists the limits (none) with the keys


def test_the_key_script_refuses_a_malformed_or_unknown_service(client, key, capsys):
    """A typo never makes a key that can do nothing: --services must name live Services."""
    from scripts.keys.api_keys import main

    with pytest.raises(SystemExit, match="not a Service SID.*VA123"):
        main(["create", "--stage", "test", "--services", "VA123"])
    with pytest.raises(SystemExit, match="no such Service"):
        main(["create", "--stage", "test", "--services", "VA" + "f" * 32])
    service = new_service(client, key)
    assert main(["create", "--stage", "test", "--services", f"{service['sid']},{service['sid']}"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["services"] == [service["sid"]]


# -- the script's errors: the token's commands as the key's ------------------------------------


@pytest.mark.parametrize("argv", [["create"], ["auth-token", "create"], ["auth-token", "rotate"]], ids=" ".join)
def test_the_token_commands_refuse_a_stage_without_a_secret_as_the_key_commands_do(aws, monkeypatch, capsys, argv):
    import scripts.keys.api_keys as api_keys

    real = api_keys.stage_variables
    monkeypatch.setattr(api_keys, "stage_variables", lambda stage: {
        k: v for k, v in real(stage).items() if "SECRET" not in k})
    for name in ("OTP_SECRET", "OTP_IDENTITY_SECRET", "OTP_SECRET_PARAMETER", "OTP_IDENTITY_SECRET_PARAMETER"):
        monkeypatch.delenv(name, raising=False)
    assert api_keys.main([*argv, "--stage", "test"]) == 1  # one line, no traceback
    err = capsys.readouterr().err
    assert "OTP_SECRET" in err and "'test' stage" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["create"], ["list"], ["auth-token", "create"], ["auth-token", "promote"]],
                         ids=" ".join)
def test_without_aws_credentials_every_command_says_so_without_a_traceback(aws, monkeypatch, capsys, argv):
    """NoCredentialsError reading the stage's secret (SSM) or its table: one line that says
    what to check, exit 1 (chalicelib/settings/parameters.py answers ParametersUnavailable)."""
    import scripts.keys.api_keys as api_keys
    from chalicelib.settings import parameters

    def unavailable(*_):
        raise parameters.ParametersUnavailable(retry_after=1)

    monkeypatch.setattr(parameters, "load_server_secrets", unavailable)
    assert api_keys.main([*argv, "--stage", "test"]) == 1
    err = capsys.readouterr().err
    assert "AWS credentials and the region" in err and "Traceback" not in err
