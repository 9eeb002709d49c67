"""API Gateway access logs, a stage option (`"api_access_logs": true` in .chalice/config.json).

Requests API Gateway refuses itself (throttled, a missing API key, IAM) never reach the
function, so its logs cannot show them. An access log does: one JSON line per request, with the
route's template path (never the query string) and no body, into a log group kept when the
stack or the app is deleted. API Gateway writes it with the account's CloudWatch role (an
account-level, per-region setting, shared by every API of the account): set here if the account
has none, kept if it has one.

`make deploy`: ``ensure_access_logging`` (from scripts/deploy/provision.py after). `make package`:
``template_additions`` (from scripts/deploy/package_template.py).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from botocore.exceptions import ClientError

from scripts.deploy.log_groups import ensure_log_retention
from scripts.deploy.service_roles import ensure_service_role

# $context variables: docs.aws.amazon.com/apigateway/latest/developerguide/
# api-gateway-mapping-template-reference.html#context-variable-reference. resourcePath is the
# route's template (/v1/verifications/{verification_id}): no id, no query string, no body.
# No $context.error.message: for a path that is no route it repeats the request's
# Authorization header (as messageString does); errorResponseType names what was refused.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "requestTime": "$context.requestTimeEpoch",
    "ip": "$context.identity.sourceIp", "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath", "status": "$context.status",
    "responseLength": "$context.responseLength", "latencyMs": "$context.responseLatency",
    "errorResponseType": "$context.error.responseType",
    "integrationStatus": "$context.integration.status",
}, separators=(",", ":"))

ACCOUNT_ROLE = "phone-verify-apigateway-logs"
APIGATEWAY_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def enabled(stage_options: dict[str, Any]) -> bool:
    return stage_options.get("api_access_logs") is True


def log_group(function_name: str) -> str:
    return f"/aws/apigateway/{function_name}-access"


def role_policy(part: str) -> dict[str, Any]:
    # What AmazonAPIGatewayPushToCloudWatchLogs grants for writing, scoped to this app's access
    # log groups (docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html).
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
                   "logs:DescribeLogStreams", "logs:PutLogEvents"],
        "Resource": f"arn:{part}:logs:*:*:log-group:/aws/apigateway/phone-verify-*",
    }]}


def ensure_account_role(iam: Any, apigateway: Any, part: str,
                        sleep: Callable[[float], None] = time.sleep) -> tuple[str, list[str]]:
    """(the role's ARN, what was done). The account's CloudWatch role is set only if unset."""
    role_arn, created = ensure_service_role(
        iam, ACCOUNT_ROLE, APIGATEWAY_TRUST,
        "API Gateway writes access logs to CloudWatch Logs (phone-verify)",
        "apigateway-access-logs", role_policy(part))
    done = [f"created IAM role {ACCOUNT_ROLE}"] if created else []
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current:
        return role_arn, done + [f"API Gateway's account CloudWatch role: {current} (kept)"]
    for attempt in range(10):
        try:
            apigateway.update_account(patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": role_arn}])
            break
        except ClientError as exc:
            # A role created a moment ago is not yet assumable (IAM is eventually consistent).
            if not created or attempt == 9 or exc.response["Error"]["Code"] != "BadRequestException":
                raise
            sleep(3)
    return role_arn, done + [f"API Gateway's account CloudWatch role set to {ACCOUNT_ROLE}"]


def ensure_access_logging(on: bool, apigateway: Any, iam: Any, logs: Any, rest_api_id: str, api_stage: str,
                          group: str, retention_days: int, part: str) -> list[str]:
    """Turn the stage's access log on (role, log group with retention, stage setting) or off
    (the stage setting only: the log group and what it holds are kept)."""
    if not on:
        stage = apigateway.get_stage(restApiId=rest_api_id, stageName=api_stage)
        if not stage.get("accessLogSettings"):
            return []
        apigateway.update_stage(restApiId=rest_api_id, stageName=api_stage,
                                patchOperations=[{"op": "remove", "path": "/accessLogSettings"}])
        return [f"API Gateway access log off (log group {group} kept)"]
    role_arn, done = ensure_account_role(iam, apigateway, part)
    done.append(ensure_log_retention(logs, group, retention_days))
    account = role_arn.split(":")[4]  # the deployer's account, from the role it just read
    destination = f"arn:{part}:logs:{apigateway.meta.region_name}:{account}:log-group:{group}"
    apigateway.update_stage(restApiId=rest_api_id, stageName=api_stage, patchOperations=[
        {"op": "replace", "path": "/accessLogSettings/destinationArn", "value": destination},
        {"op": "replace", "path": "/accessLogSettings/format", "value": ACCESS_LOG_FORMAT},
    ])
    return done + [f"API Gateway access log on: {group} (JSON, no query strings, no bodies)"]


def template_additions(group: str, retention_days: int) -> dict[str, Any]:
    """The packaged stack's access log: the log group (retained), the account's role, and the
    API's AccessLogSetting (SAM AWS::Serverless::Api; its stage waits for the account role)."""
    role_arn = {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    return {"Resources": {
        "ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                              "UpdateReplacePolicy": "Retain",
                              "Properties": {"LogGroupName": group, "RetentionInDays": retention_days}},
        "ApiGatewayLogsRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": APIGATEWAY_TRUST,
            "Policies": [{"PolicyName": "apigateway-access-logs",
                          "PolicyDocument": {**role_policy("aws"), "Statement": [{
                              **role_policy("aws")["Statement"][0],
                              "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:*:*:log-group:"
                                                      "/aws/apigateway/phone-verify-*"}}]}}]}},
        # The account-level setting API Gateway needs before a stage may log: one per account and
        # region (a later stack's value replaces an earlier one; any role with these rights works).
        "ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account",
                              "Properties": {"CloudWatchRoleArn": role_arn}},
        "RestAPI": {"DependsOn": ["ApiGatewayAccount"], "Properties": {"AccessLogSetting": {
            "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}, "Format": ACCESS_LOG_FORMAT}}},
    }}
