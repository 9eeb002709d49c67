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

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.deploy import layers  # noqa: E402
# The layer's steps are scripts/deploy/layers.py's, shared with the API's receipts layer.
from scripts.deploy.layers import (  # noqa: E402
    ARCHITECTURES as ARCHITECTURES, RUNTIME_SHIPS as RUNTIME_SHIPS, download_command as download_command,
    layer_requirements as layer_requirements, layer_zip as layer_zip, runtime as runtime,
)
from scripts.deploy.stage import function_name, stage_variables  # noqa: E402

FUNCTION = "cognito_sms"  # app.py's @app.lambda_function name
RESOURCE = "CognitoSms"  # as chalice package names it
LAYER_RESOURCE = "CognitoSdkLayer"
KEY_RESOURCE = "CognitoKey"
REQUIREMENTS = "requirements-cognito.txt"


def enabled(stage: str) -> bool:
    return bool(stage_variables(stage).get("OTP_HOOK_COGNITO_KEY_ID"))


def build(out: Path, arch: str = "x86_64") -> str:
    size = layers.build(out, REQUIREMENTS, arch)
    return f"{out}: the Cognito trigger's layer for {runtime()} on {arch} ({size} bytes)"


def layer_name(stage: str) -> str:
    return f"{function_name(stage)}-encryption-sdk"


def publish(lambda_client: Any, stage: str, body: bytes, arch: str = "x86_64") -> str:
    """The layer's ARN: its latest version when it holds these bytes, else a new version."""
    return layers.publish(lambda_client, layer_name(stage), "aws-encryption-sdk for the Cognito trigger",
                          body, arch)


def record_layer(stage: str, arn: str) -> bool:
    """Put the layer's ARN in the stage's ``lambda_functions.cognito_sms.layers`` (what
    `chalice deploy` reads); True when the file changed."""
    return layers.record_layer(stage, FUNCTION, arn)


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


def _publish(lambda_client: Any, stage: str, body: bytes, arch: str) -> str:
    arn = publish(lambda_client, stage, body, arch)
    changed = record_layer(stage, arn)
    return f"Cognito trigger's layer {arn}" + (" (recorded in .chalice/config.json)" if changed else "")


def main(argv: list[str] | None = None) -> int:
    return layers.main(argv, __doc__.splitlines()[0], enabled=enabled, build=build, publish=_publish,
                       off=lambda stage: f"stage {stage} has no OTP_HOOK_COGNITO_KEY_ID: no Cognito trigger, "
                                         "no layer")


if __name__ == "__main__":
    sys.exit(main())
