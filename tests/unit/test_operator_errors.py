"""What an operator sees when a prerequisite is missing: one line that names it, a non-zero exit,
no traceback (docs/going-live.md). The scripts run as `make` runs them, in a subprocess with an
environment that has no AWS credentials (the home, config and credentials files empty; no
instance metadata), and on moto where a stage's resources are needed. And a Chalice stage of any
name is one of the four kinds by its own OTP_STAGE, so `make api-key STAGE=staging` works."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, TEST_STAGE
from tests.unit.test_twilio_v2 import call

PYTHON = sys.executable


def _bare(tmp_path, **extra: str) -> dict[str, str]:
    """No AWS anything: what a new laptop has (PATH kept, so the interpreter runs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTP_", "SMS_"))}
    return {**env, "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true",
            **extra}


# Where each command lives in scripts/ (deploy/, keys/: issue 30), by the name the ids use.
SCRIPTS = {"provision.py": "deploy/provision.py", "api_keys.py": "keys/api_keys.py"}


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, str(ROOT / "scripts" / SCRIPTS[script]), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _without_test_stage(monkeypatch) -> None:
    """The `aws` fixture sets the test stage's variables; a script for another stage reads its own."""
    for name in [*TEST_STAGE["environment_variables"], "OTP_RECEIPT_KEY_IDS", "OTP_TOTP_KEY_ID"]:
        monkeypatch.delenv(name, raising=False)


def _one_line(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize("argv", [
    ["provision.py", "before", "--stage", "dev"], ["provision.py", "secret", "--stage", "prod"],
    ["provision.py", "stream", "--stage", "dev"], ["provision.py", "after", "--stage", "dev"],
    ["provision.py", "credentials"],
    ["api_keys.py", "create", "--stage", "dev"], ["api_keys.py", "list", "--stage", "prod"],
    ["api_keys.py", "auth-token", "create", "--stage", "dev"],
], ids=" ".join)
def test_without_credentials_each_aws_step_says_so_in_one_line(tmp_path, argv):
    _one_line(_run(*argv, env=_bare(tmp_path, AWS_DEFAULT_REGION="eu-west-1")),
              "No AWS credentials", "aws configure")


@pytest.mark.parametrize("argv", [["provision.py", "before", "--stage", "dev"],
                                  ["api_keys.py", "create", "--stage", "dev"]], ids=" ".join)
def test_without_a_region_each_aws_step_names_the_variable(tmp_path, argv):
    result = _run(*argv, env=_bare(tmp_path, AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="x"))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "No AWS region configured" in result.stderr and "AWS_DEFAULT_REGION" in result.stderr


def test_the_make_targets_that_call_aws_check_the_credentials_first():
    """`make destroy` runs chalice itself: the credentials' check comes before it (make -n
    prints the commands; the stamps are named old, so nothing would be installed)."""
    stamps = [f"--old-file=.venv/{name}" for name in (".python-al2023", ".installed-run-al2023",
                                                       ".installed-al2023")]
    for target in ("destroy", "deploy"):
        commands = subprocess.run(["make", "-n", *stamps, target, "STAGE=dev"], cwd=ROOT, capture_output=True,
                                  text=True, timeout=30).stdout
        # make deploy runs chalice's command line through scripts/deploy/chalice_deploy.py
        chalice = commands.index("chalice_deploy.py deploy" if target == "deploy" else "chalice ")
        assert "scripts/deploy/provision.py credentials" in commands[:chalice] or \
            "scripts/deploy/provision.py before" in commands[:chalice], commands


def test_a_stage_whose_secret_was_never_made_says_which_and_how(aws, monkeypatch, capsys):
    """The dev stage on moto, its SSM parameters missing: `make api-key` names them and the
    command that makes them."""
    import scripts.keys.api_keys as api_keys

    _without_test_stage(monkeypatch)
    assert api_keys.main(["create", "--stage", "dev"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "/phone-verify/dev/otp-secret" in err and "make deploy STAGE=dev" in err and "make secret" in err


def test_a_stage_with_its_secret_but_no_table_says_to_deploy(aws, monkeypatch, capsys):
    import boto3

    import scripts.keys.api_keys as api_keys

    _without_test_stage(monkeypatch)
    ssm = boto3.client("ssm")
    for name in ("otp-secret", "otp-identity-key"):
        ssm.put_parameter(Name=f"/phone-verify/dev/{name}", Value="k" * 40, Type="SecureString")
    assert api_keys.main(["create", "--stage", "dev"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "make deploy STAGE=dev" in err


def test_aws_refusing_the_credentials_is_one_line(capsys):
    from botocore.exceptions import ClientError

    from scripts.deploy.aws_access import one_line

    with pytest.raises(SystemExit) as stopped, one_line():
        raise ClientError({"Error": {"Code": "ExpiredToken", "Message": "The security token included in the "
                                     "request is expired"}}, "GetCallerIdentity")
    assert stopped.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "ExpiredToken" in err and "aws sso login" in err


def test_a_bug_keeps_its_traceback():
    """Only AWS's and botocore's errors are turned into a line: anything else is a bug, shown whole."""
    from scripts.deploy.aws_access import one_line

    with pytest.raises(KeyError), one_line():
        raise KeyError("a bug")


# -- any stage name ----------------------------------------------------------------------------


def _with_stage(monkeypatch, name: str, like: str, **variables: str) -> None:
    """.chalice/config.json with one more stage, a copy of ``like``'s with ``variables`` over it."""
    import scripts.deploy.stage as stage_file  # where every script reads the stage

    real = stage_file.chalice_config()

    def config() -> dict:
        copied = json.loads(json.dumps(real))
        stage = copied["stages"][like]
        stage["environment_variables"].update(variables)
        copied["stages"][name] = stage
        return copied

    monkeypatch.setattr(stage_file, "chalice_config", config)


def test_a_stage_named_staging_makes_keys_that_work(aws, client, monkeypatch):
    """`staging`, a copy of the test stage (OTP_STAGE=test): its key authenticates on the API."""
    from scripts.keys.api_keys import create

    _with_stage(monkeypatch, "staging", "test")
    monkeypatch.delenv("OTP_STAGE")  # the stage's own OTP_STAGE decides, not the shell's
    made = create("staging", "staging-backend")
    status, body, _ = call(client, made, "GET", "/v2/Services")
    assert status == 200, body


def test_a_stage_named_eu_prod_is_a_prod_stage(aws, monkeypatch, capsys):
    """`eu-prod`, a copy of prod with its own table and parameters, on moto: `create` works, and
    its config is prod's (the countries' list is required there)."""
    import boto3

    import scripts.keys.api_keys as api_keys
    from scripts.deploy.create_table import ensure_table

    _without_test_stage(monkeypatch)
    _with_stage(monkeypatch, "eu-prod", "prod", OTP_TABLE_NAME="phone-verify-eu-prod",
                OTP_SECRET_PARAMETER="/phone-verify/eu-prod/otp-secret",
                OTP_IDENTITY_SECRET_PARAMETER="/phone-verify/eu-prod/otp-identity-key",
                OTP_ALLOWED_COUNTRIES="FR,DE")
    ssm = boto3.client("ssm")
    for name in ("otp-secret", "otp-identity-key"):
        ssm.put_parameter(Name=f"/phone-verify/eu-prod/{name}", Value="k" * 40, Type="SecureString")
    ensure_table(boto3.client("dynamodb"), "phone-verify-eu-prod", encrypted=True)
    assert api_keys.main(["create", "--stage", "eu-prod", "--name", "eu"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["api_key_sid"].startswith("SK")
    assert api_keys.main(["list", "--stage", "eu-prod"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["name"] == "eu"


def test_a_stage_whose_kind_is_not_one_of_the_four_says_so(monkeypatch):
    from scripts.deploy.provision import stage_kind

    _with_stage(monkeypatch, "staging", "dev", OTP_STAGE="staging")
    with pytest.raises(SystemExit) as stopped:
        stage_kind("staging")
    assert "OTP_STAGE" in str(stopped.value) and "local, test, dev, prod" in str(stopped.value)
    _with_stage(monkeypatch, "prod", "prod")
    assert stage_kind("prod") == "prod"
