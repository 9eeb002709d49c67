"""What `make deploy` ensures before `chalice deploy`, and what it sets after it.

    python scripts/provision.py before --stage dev   # the table and the secret
    python scripts/provision.py after --stage dev    # API Gateway stage throttling

Idempotent: a second run changes nothing. The table is created if missing (on-demand, TTL on
``expires_at``, point-in-time recovery and server-side encryption with the AWS managed KMS
key); an existing table is checked and its TTL, PITR and SSE fixed, never dropped or
recreated. The secret (an SSM SecureString) is created with a random value on the first
deploy and never overwritten. Names come from the stage's variables in .chalice/config.json.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.create_table import ensure_table  # noqa: E402

# Per-stage API Gateway throttling (requests per second, burst), applied after deploy.
THROTTLING = {"dev": (10, 20), "prod": (100, 200)}

# API Gateway's own answers (a path that does not exist, its throttling, its faults) in the
# contract's shape. $context.error.messageString is API Gateway's message, already quoted.
GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
    "RESOURCE_NOT_FOUND": ("404", "not_found"),
    "THROTTLED": ("429", "throttled"),
    "QUOTA_EXCEEDED": ("429", "quota_exceeded"),
    "INVALID_API_KEY": ("403", "invalid_api_key"),
    "DEFAULT_4XX": (None, "invalid_request"),
    "DEFAULT_5XX": (None, "internal_error"),
}


def gateway_response_template(code: str) -> str:
    return '{"error": {"code": "%s", "message": $context.error.messageString}}' % code


def stage_variables(stage: str) -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if stage not in config["stages"]:
        raise SystemExit(f"unknown stage {stage!r}; stages: {', '.join(config['stages'])}")
    return {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}


def ensure_protections(client: Any, table: str) -> list[str]:
    """Point-in-time recovery and KMS server-side encryption on an existing table."""
    done = []
    backups = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        done.append("point-in-time recovery enabled")
    else:
        done.append("point-in-time recovery already on")
    sse = client.describe_table(TableName=table)["Table"].get("SSEDescription", {})
    if sse.get("Status") not in ("ENABLED", "ENABLING"):
        client.update_table(TableName=table, SSESpecification={"Enabled": True, "SSEType": "KMS"})
        done.append("server-side encryption (KMS) enabled")
    else:
        done.append("server-side encryption already on")
    return done


def ensure_secret(ssm: Any, name: str) -> str:
    try:
        ssm.get_parameter(Name=name)
        return f"secret {name} exists (kept)"
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
    try:
        ssm.put_parameter(
            Name=name,
            Type="SecureString",
            Value=secrets.token_urlsafe(48),
            Overwrite=False,
            Description="phone-verify server secret (keys every code MAC); rotate with care",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterAlreadyExists":  # a concurrent deploy
            return f"secret {name} exists (kept)"
        raise
    return f"secret {name} created"


def before(stage: str, dynamodb: Any, ssm: Any) -> list[str]:
    variables = stage_variables(stage)
    table = variables["OTP_TABLE_NAME"]
    done = ensure_table(dynamodb, table, encrypted=True)
    done += ensure_protections(dynamodb, table)
    if "OTP_SECRET_PARAMETER" in variables:
        done.append(ensure_secret(ssm, variables["OTP_SECRET_PARAMETER"]))
    return done


def after(stage: str, apigateway: Any) -> list[str]:
    deployed = ROOT / ".chalice" / "deployed" / f"{stage}.json"
    if not deployed.exists():
        return [f"no {deployed}: nothing deployed for {stage}"]
    resources = json.loads(deployed.read_text())["resources"]
    api = next((r for r in resources if r.get("resource_type") == "rest_api"), None)
    if api is None:
        return ["no REST API in the deployment"]
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    api_stage = config["stages"][stage].get("api_gateway_stage", "api")
    rate, burst = THROTTLING.get(stage, (10, 20))
    apigateway.update_stage(
        restApiId=api["rest_api_id"],
        stageName=api_stage,
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
        ],
    )
    for response_type, (status, code) in GATEWAY_RESPONSES.items():
        params = {"restApiId": api["rest_api_id"], "responseType": response_type,
                  "responseTemplates": {"application/json": gateway_response_template(code)}}
        if status:
            params["statusCode"] = status
        apigateway.put_gateway_response(**params)
    return [f"API Gateway stage {api_stage}: throttling {rate} requests/s, burst {burst}",
            "API Gateway's own error answers use the contract's shape",
            f"URL: {api.get('rest_api_url', '(see chalice url)')}"]


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["before", "after"])
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    if args.step == "before":
        lines = before(args.stage, boto3.client("dynamodb"), boto3.client("ssm"))
    else:
        lines = after(args.stage, boto3.client("apigateway"))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
