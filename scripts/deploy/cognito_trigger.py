"""Amazon Cognito's CustomSMSSender trigger in the stack (docs/deploying.md): its layer (the AWS
Encryption SDK and `cryptography`, which the API's zip never holds), its KMS key, its function's
resources in `make package`'s template, and how to attach it to a user pool.

    python scripts/deploy/cognito_trigger.py build --out build/dev/cognito-layer.zip [--arch x86_64]
    python scripts/deploy/cognito_trigger.py publish --stage dev --zip build/dev/cognito-layer.zip
    python scripts/deploy/cognito_trigger.py enabled --stage dev   # exit 0 when the stage has it

A stage has the trigger when its OTP_HOOK_COGNITO_KEY_ID is set (chalicelib/settings/hooks.py);
app.py then defines the ``cognito_sms`` function, whose `lambda_functions` entry in
.chalice/config.json names its own role's policy (.chalice/policy-<stage>-cognito.json) and the
layer. The layer is built from requirements-cognito.txt (`make lock` exports it from uv.lock,
with hashes) by ``pip download --platform manylinux2014_<arch> --only-binary=:all:`` for the
Lambda's Python, without what the Lambda runtime ships (boto3 and its dependencies), into a zip
whose bytes depend only on the wheels (fixed dates and order), so that `publish` publishes a new
version only when they changed; it records the version's ARN in the stage's `layers` before
`chalice deploy` reads it. `make package` puts the same zip in the template as an
``AWS::Serverless::LayerVersion`` (SAM makes it an ``AWS::Lambda::LayerVersion``)."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.deploy import stage as _stage  # noqa: E402
from scripts.deploy.stage import function_name, stage_variables  # noqa: E402

FUNCTION = "cognito_sms"  # app.py's @app.lambda_function name
RESOURCE = "CognitoSms"  # as chalice package names it
LAYER_RESOURCE = "CognitoSdkLayer"
KEY_RESOURCE = "CognitoKey"
REQUIREMENTS = "requirements-cognito.txt"
# What the Lambda Python runtime ships (boto3 and what it needs): left out of the layer.
RUNTIME_SHIPS = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                           "urllib3"})
ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64"}  # pip's manylinux arch -> Lambda's name
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def enabled(stage: str) -> bool:
    return bool(stage_variables(stage).get("OTP_HOOK_COGNITO_KEY_ID"))


def runtime() -> str:
    return f"python3.{sys.version_info.minor}"  # the Lambda's runtime is the Python that packages


def layer_requirements(text: str) -> str:
    """requirements-cognito.txt without the packages the runtime ships (each entry is its line
    and the hash lines that continue it)."""
    kept, keep = [], True
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            keep = re.split(r"[=<>!~;\s]", line, maxsplit=1)[0].lower() not in RUNTIME_SHIPS
        if keep and not line.startswith("#"):
            kept.append(line)
    return "\n".join(kept) + "\n"


def download_command(requirements: Path, dest: Path, arch: str = "x86_64") -> list[str]:
    """The wheels for the Lambda's platform, checked against uv.lock's hashes."""
    if arch not in ARCHITECTURES:
        raise SystemExit(f"LAYER_ARCH must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    return [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--require-hashes", "--only-binary=:all:", "--platform", f"manylinux2014_{arch}",
            "--implementation", "cp", "--python-version", f"3.{sys.version_info.minor}",
            "--dest", str(dest), "-r", str(requirements)]


def layer_zip(wheels: list[Path]) -> bytes:
    """The wheels unpacked under python/ (where Lambda puts a layer's Python packages on the
    path), with fixed dates and order: the same wheels make the same bytes."""
    entries: dict[str, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if not name.endswith("/") and ".dist-info/RECORD" not in name:
                    entries[f"python/{name}"] = archive.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, _FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return out.getvalue()


def build(out: Path, arch: str = "x86_64") -> str:
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "layer.txt"
        requirements.write_text(layer_requirements((_stage.ROOT / REQUIREMENTS).read_text()))
        wheels = Path(tmp) / "wheels"
        subprocess.run(download_command(requirements, wheels, arch), check=True)
        body = layer_zip(sorted(wheels.glob("*.whl")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    return f"{out}: the Cognito trigger's layer for {runtime()} on {arch} ({len(body)} bytes)"


def layer_name(stage: str) -> str:
    return f"{function_name(stage)}-encryption-sdk"


def publish(lambda_client: Any, stage: str, body: bytes, arch: str = "x86_64") -> str:
    """The layer's ARN: its latest version when it holds these bytes, else a new version."""
    digest = hashlib.sha256(body).hexdigest()
    versions = lambda_client.list_layer_versions(LayerName=layer_name(stage)).get("LayerVersions", [])
    latest = max(versions, key=lambda v: v["Version"], default=None)
    if latest is not None and latest.get("Description", "").endswith(digest):
        return str(latest["LayerVersionArn"])
    published = lambda_client.publish_layer_version(
        LayerName=layer_name(stage), Content={"ZipFile": body}, CompatibleRuntimes=[runtime()],
        CompatibleArchitectures=[ARCHITECTURES[arch]], LicenseInfo="Apache-2.0",
        Description=f"aws-encryption-sdk for the Cognito trigger, sha256 {digest}")
    return str(published["LayerVersionArn"])


def record_layer(stage: str, arn: str) -> bool:
    """Put the layer's ARN in the stage's ``lambda_functions.cognito_sms.layers`` (what
    `chalice deploy` reads); True when the file changed."""
    path = _stage.ROOT / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    function = config["stages"][stage].setdefault("lambda_functions", {}).setdefault(FUNCTION, {})
    if function.get("layers") == [arn]:
        return False
    function["layers"] = [arn]
    path.write_text(json.dumps(config, indent=2) + "\n")
    return True


def attach_instructions(stage: str, function_arn: str, key_arn: str) -> list[str]:
    """What `make deploy` prints: the two calls that attach the trigger to a user pool."""
    name = f"{function_name(stage)}-{FUNCTION}"
    return [
        f"Cognito trigger {name} ({function_arn}) decrypts with {key_arn}. To attach it to a user pool:",
        f"  aws lambda add-permission --function-name {name} --statement-id cognito-<pool-id> "
        "--action lambda:InvokeFunction --principal cognito-idp.amazonaws.com "
        "--source-arn arn:aws:cognito-idp:<region>:<account>:userpool/<pool-id>",
        "  aws cognito-idp update-user-pool --user-pool-id <pool-id> --lambda-config "
        f"'CustomSMSSender={{LambdaVersion=V1_0,LambdaArn={function_arn}}},KMSKeyID={key_arn}' "
        "(update-user-pool resets what it is not given: pass the pool's other settings too; "
        "docs/deploying.md#amazon-cognitos-customsmssender-trigger)",
    ]


def template_additions(stage: str, role_policy: dict, log_retention: int) -> dict:
    """`make package`'s resources for the trigger: its key (Cognito may encrypt, for this
    account's pools), the layer, its function's name, layer, log group and role."""
    from scripts.keys.kms import cognito_alias, cognito_key_policy

    policy = json.loads(json.dumps(cognito_key_policy("${AWS::AccountId}", "${AWS::Partition}")))
    for statement in policy["Statement"]:
        if "AWS" in statement["Principal"]:
            statement["Principal"]["AWS"] = {"Fn::Sub": statement["Principal"]["AWS"]}
        if "Condition" in statement:
            statement["Condition"]["StringEquals"]["aws:SourceAccount"] = {"Ref": "AWS::AccountId"}
    name = f"{function_name(stage)}-{FUNCTION}"
    retained = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    return {
        "Resources": {
            KEY_RESOURCE: {"Type": "AWS::KMS::Key", "Properties": {
                "Description": f"phone-verify {stage}: Cognito encrypts the CustomSMSSender trigger's codes",
                "EnableKeyRotation": True, "KeyPolicy": policy}},
            "CognitoKeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
                "AliasName": cognito_alias(stage), "TargetKeyId": {"Ref": KEY_RESOURCE}}},
            LAYER_RESOURCE: {"Type": "AWS::Serverless::LayerVersion", "Properties": {
                "LayerName": layer_name(stage), "ContentUri": "./cognito-layer.zip",
                "CompatibleRuntimes": [runtime()], "RetentionPolicy": "Delete",
                "Description": "aws-encryption-sdk and cryptography for the Cognito trigger"}},
            RESOURCE: {"DependsOn": [f"{RESOURCE}LogGroup", "CognitoKeyAlias"], "Properties": {
                "FunctionName": name, "Layers": [{"Ref": LAYER_RESOURCE}]}},
            f"{RESOURCE}LogGroup": {"Type": "AWS::Logs::LogGroup", **retained, "Properties": {
                "LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": log_retention}},
            f"{RESOURCE}Role": {"Properties": {"Policies": [
                {"PolicyName": f"{RESOURCE}RolePolicy", "PolicyDocument": role_policy}]}},
        },
        "Outputs": {
            "CognitoSmsFunctionArn": {"Value": {"Fn::GetAtt": [RESOURCE, "Arn"]}},
            "CognitoKeyArn": {"Value": {"Fn::GetAtt": [KEY_RESOURCE, "Arn"]}},
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["build", "publish", "enabled"])
    parser.add_argument("--stage")
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--zip", type=Path)
    args = parser.parse_args(argv)
    if args.step == "enabled":
        return 0 if enabled(args.stage) else 1
    if args.step == "build":
        print(build(args.out, args.arch))
        return 0
    if not enabled(args.stage):
        print(f"stage {args.stage} has no OTP_HOOK_COGNITO_KEY_ID: no Cognito trigger, no layer")
        return 0
    import boto3

    arn = publish(boto3.client("lambda"), args.stage, args.zip.read_bytes(), args.arch)
    changed = record_layer(args.stage, arn)
    print(f"Cognito trigger's layer {arn}" + (" (recorded in .chalice/config.json)" if changed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
