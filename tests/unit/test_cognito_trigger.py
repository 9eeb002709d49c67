"""The Cognito CustomSMSSender trigger in the stack (scripts/deploy/cognito_trigger.py): its layer's
build command (offline: the command, the requirements it reads, the zip it makes, and the
Makefile's dry runs), its publication, its key, its resources in `make package`'s template, and
what `make deploy` prints to attach it to a user pool."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from scripts.deploy import cognito_trigger, package_template
from tests.conftest import ROOT
from tests.unit.test_makefile import OLD

KEY = "alias/phone-verify-prod-cognito"


def _with_cognito(monkeypatch, key: str = KEY):
    for module in (package_template, cognito_trigger):
        original = module.stage_variables
        monkeypatch.setattr(module, "stage_variables",
                            lambda stage, original=original: {**original(stage), "OTP_HOOK_COGNITO_KEY_ID": key})


# -- the layer -----------------------------------------------------------------------------------

def test_the_layer_is_downloaded_for_the_lambdas_platform_with_uv_locks_hashes(tmp_path):
    command = cognito_trigger.download_command(tmp_path / "r.txt", tmp_path / "wheels", "aarch64")
    joined = " ".join(command)
    assert command[1:4] == ["-m", "pip", "download"]
    for part in ("--platform manylinux2014_aarch64", "--only-binary=:all:", "--require-hashes", "--no-deps",
                 "--implementation cp", "--python-version 3.13"):
        assert part in joined, part
    with pytest.raises(SystemExit, match="LAYER_ARCH"):
        cognito_trigger.download_command(tmp_path / "r.txt", tmp_path, "i386")


def test_the_layer_holds_the_sdk_and_cryptography_but_not_what_the_runtime_ships():
    text = cognito_trigger.layer_requirements((ROOT / "requirements-cognito.txt").read_text())
    names = {line.split("==")[0] for line in text.splitlines() if line and not line.startswith(" ")}
    assert {"aws-encryption-sdk", "cryptography", "cffi", "attrs", "wrapt"} <= names
    assert not names & {"boto3", "botocore", "s3transfer", "urllib3"}
    assert text.count("--hash=sha256:") >= len(names)  # every entry keeps its hashes


def test_the_apis_requirements_hold_no_cryptography():
    api = (ROOT / "requirements.txt").read_text().lower()
    assert "cryptography" not in api and "aws-encryption-sdk" not in api


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
    return path


def test_the_layer_zip_puts_packages_under_python_and_is_the_same_bytes_twice(tmp_path):
    wheels = [_wheel(tmp_path / "a-1-py3-none-any.whl", {"a/__init__.py": b"x = 1\n",
                                                          "a-1.dist-info/RECORD": b"junk"}),
              _wheel(tmp_path / "b-1-cp313-manylinux2014_x86_64.whl", {"b/_b.so": b"\x7fELF"})]
    first = cognito_trigger.layer_zip(wheels)
    assert first == cognito_trigger.layer_zip(wheels)
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert names == ["python/a/__init__.py", "python/b/_b.so"]


def _dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *OLD, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_cognito_layer_builds_for_the_architecture_asked():
    assert ("scripts/deploy/cognito_trigger.py build --arch aarch64 --out build/dev/cognito-layer.zip"
            in _dry_run("cognito-layer", "STAGE=dev", "LAYER_ARCH=aarch64"))


def test_make_deploy_publishes_the_layer_before_chalice_deploy_and_package_writes_it_beside_the_template():
    deploy = _dry_run("deploy", "STAGE=dev")
    publish = deploy.index("cognito_trigger.py publish --stage dev")
    assert deploy.index("cognito_trigger.py enabled --stage dev") < publish < deploy.index("chalice_deploy.py deploy")
    package = _dry_run("package", "STAGE=dev")
    build = package.index("cognito_trigger.py build --arch x86_64 --out build/dev/out/cognito-layer.zip")
    assert package.index("chalice package") < build < package.index("cfn-lint")


# -- publishing and recording the layer -------------------------------------------------------

def test_a_layer_is_published_once_per_content_and_recorded_for_chalice(aws, tmp_path, monkeypatch):
    import shutil

    import boto3

    from scripts.deploy import stage as stage_file

    shutil.copytree(ROOT / ".chalice", tmp_path / ".chalice", ignore=shutil.ignore_patterns("deployed"))
    monkeypatch.setattr(stage_file, "ROOT", tmp_path)
    client = boto3.client("lambda")
    first = cognito_trigger.publish(client, "dev", b"PK-layer-one")
    assert cognito_trigger.publish(client, "dev", b"PK-layer-one") == first  # no new version
    second = cognito_trigger.publish(client, "dev", b"PK-layer-two")
    assert second != first and second.endswith(":2")
    assert cognito_trigger.record_layer("dev", second) and not cognito_trigger.record_layer("dev", second)
    config = json.loads((tmp_path / ".chalice" / "config.json").read_text())
    functions = config["stages"]["dev"]["lambda_functions"]
    assert functions["cognito_sms"]["layers"] == [second]
    assert functions["cognito_sms"]["iam_policy_file"] == "policy-dev-cognito.json"
    assert "layers" not in functions["delivery_status"]  # attached to the trigger's function only


def test_the_stages_key_lets_cognito_encrypt_for_this_account_only(aws, monkeypatch):
    import boto3

    import scripts.deploy.provision as provision

    kms = boto3.client("kms")
    original = provision.stage_variables
    monkeypatch.setattr(provision, "stage_variables", lambda stage: {
        **original(stage), **({"OTP_HOOK_COGNITO_KEY_ID": "alias/phone-verify-dev-cognito"} if stage == "dev" else {})})
    done = provision.cognito_key("dev", kms, boto3.client("sts"))
    assert done == provision.cognito_key("dev", kms, boto3.client("sts"))  # idempotent
    assert done == ["Cognito key alias/phone-verify-dev-cognito ready"]
    key = kms.describe_key(KeyId="alias/phone-verify-dev-cognito")["KeyMetadata"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    [cognito] = [s for s in policy["Statement"] if s["Principal"].get("Service") == "cognito-idp.amazonaws.com"]
    assert sorted(cognito["Action"]) == ["kms:CreateGrant", "kms:Encrypt"]  # never Decrypt
    assert cognito["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert provision.cognito_key("prod", kms, None) == []  # a stage without the trigger makes no key


def test_deploy_prints_how_to_attach_the_trigger_to_a_user_pool():
    lines = cognito_trigger.attach_instructions(
        "dev", "arn:aws:lambda:eu-west-1:123456789012:function:phone-verify-dev-cognito_sms",
        "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    text = "\n".join(lines)
    assert "aws lambda add-permission --function-name phone-verify-dev-cognito_sms" in text
    assert "--principal cognito-idp.amazonaws.com" in text
    assert ("CustomSMSSender={LambdaVersion=V1_0,LambdaArn=arn:aws:lambda:eu-west-1:123456789012:function:"
            "phone-verify-dev-cognito_sms},KMSKeyID=arn:aws:kms:") in text


# -- make package's template ----------------------------------------------------------------

def test_a_stage_without_the_trigger_packages_none_of_it():
    merged = package_template.resources("prod")["Resources"]
    assert not {"CognitoSms", "CognitoKey", "CognitoSdkLayer"} & set(merged)


def test_a_stage_with_the_trigger_packages_its_key_layer_function_and_own_role(monkeypatch):
    _with_cognito(monkeypatch)
    merged = package_template.resources("prod")
    resources = merged["Resources"]
    layer = resources["CognitoSdkLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"  # SAM: an AWS::Lambda::LayerVersion
    assert layer["Properties"]["ContentUri"] == "./cognito-layer.zip"
    function = resources["CognitoSms"]
    assert function["Properties"]["Layers"] == [{"Ref": "CognitoSdkLayer"}]
    assert function["Properties"]["FunctionName"] == "phone-verify-prod-cognito_sms"
    assert "Layers" not in resources["APIHandler"].get("Properties", {})  # the API has no layer
    assert resources["CognitoKey"]["Properties"]["EnableKeyRotation"] is True
    assert resources["CognitoKeyAlias"]["Properties"]["AliasName"] == KEY
    statements = resources["CognitoSmsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [decrypt] = [s for s in statements if "kms:Decrypt" in s["Action"]]
    assert decrypt["Condition"] == {"ForAnyValue:StringEquals": {"kms:ResourceAliases": KEY}}
    api = resources["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert not any(KEY in json.dumps(s) for s in api)  # only the trigger's role may decrypt codes
    skips = {s["id"] for s in function["Metadata"]["checkov"]["skip"]}
    assert {"CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_173"} <= skips
    assert merged["Outputs"]["CognitoSmsFunctionArn"] == {"Value": {"Fn::GetAtt": ["CognitoSms", "Arn"]}}
