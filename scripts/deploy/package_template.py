"""The resources `make package` merges into `chalice package`'s template, for a stage.

    python scripts/deploy/package_template.py STAGE > build/STAGE/resources.json

Merged into chalice's own resources: the API's throttling, its gateway responses (in its
body, so in its deployment) and `OpenApiVersion` (no implicit stage named `Stage`); the
function's fixed name and its log group with the stage's retention; the role's policy
(`.chalice/policy-STAGE.json`) with the partition, region and account of the stack.
Added: the verifications table (on-demand, TTL on expires_at, point-in-time recovery, KMS
encryption, retained when the stack is deleted), an SNS topic for alarms (an email
subscription when OTP_ALARM_EMAIL is set; encrypted with the stack's TopicsKey), and four
CloudWatch alarms on the service's EMF metrics (namespace PhoneVerify): provider failure rate,
sends per hour near the budget, the budget used up, conversion rate (approvals / verifications
started) dropping; the operator's dashboard (scripts/deploy/dashboard.py). checkov's findings:
scripts/deploy/template_checks.py. The secret parameter is made by
`make secret` (CloudFormation cannot create SecureString parameters).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from chalicelib.wiring import load_config  # noqa: E402
from chalicelib.telemetry import NAMESPACE, SERVICE  # noqa: E402
from scripts.deploy import dashboard  # noqa: E402
from scripts.deploy.snapstart import deep_merge, published_alias_additions  # noqa: E402
from scripts.deploy.create_table import ATTEMPTS_INDEX, ATTRIBUTES  # noqa: E402
from scripts.deploy.gateway_settings import GATEWAY_RESPONSES, gateway_response_template, throttling  # noqa: E402
from scripts.deploy.provision import (  # noqa: E402
    function_name,
    log_group_name,
    log_retention_days,
    stage_config,
    stage_variables,
)


def _metric(id_: str, name: str, period: int, **dimensions: str) -> dict:
    dims = [{"Name": "service", "Value": SERVICE}] + [{"Name": k, "Value": v} for k, v in dimensions.items()]
    return {"Id": id_, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims},
        "Period": period, "Stat": "Sum"}}


def _filled(*ids: str) -> list[dict]:
    """FILL(m, 0) for each metric: a period with no datapoint for one of them (no approvals, no
    deliveries) counts as zero, so that 100 % failures or zero approvals still breach."""
    return [{"Id": f"{id_}0", "Expression": f"FILL({id_}, 0)", "ReturnData": False} for id_ in ids]


def _in_stack(arn: str, scope: bool) -> str | dict:
    """An ARN from the policy file with the stack's partition (and, when ``scope``, the stack's
    region and account in place of the file's wildcards)."""
    if not arn.startswith("arn:aws:"):
        return arn
    _, _, service, region, account, rest = arn.split(":", 5)
    if scope:
        region = "${AWS::Region}" if region == "*" else region
        account = "${AWS::AccountId}" if account == "*" else account
    return {"Fn::Sub": ":".join(["arn", "${AWS::Partition}", service, region, account, rest])}


def role_policy(stage: str, file_name: str | None = None) -> dict:
    """.chalice/policy-STAGE.json (or ``file_name`` there) with the stack's ARNs."""
    policy = json.loads((ROOT / ".chalice" / (file_name or f"policy-{stage}.json")).read_text())
    for statement in policy["Statement"]:
        for key, scope in (("Resource", True), ("NotResource", False)):
            if key in statement:
                values = statement[key] if isinstance(statement[key], list) else [statement[key]]
                statement[key] = [_in_stack(v, scope) for v in values]
    return policy


def alarm_topic(stage: str, email: str | None) -> dict:
    properties: dict = {"TopicName": f"phone-verify-{stage}-alarms"}
    if email:
        # SNS mails a confirmation link; nothing is delivered until it is clicked.
        properties["Subscription"] = [{"Protocol": "email", "Endpoint": email}]
    return {"Type": "AWS::SNS::Topic", "Properties": properties}


def resources(stage: str, alarm_email: str | None = None) -> dict:
    variables = stage_variables(stage)
    config = load_config(variables)  # validates the stage too (its secret is an SSM name)
    budget = config.limits.sends_per_hour
    alarm = {"AlarmActions": [{"Ref": "AlarmTopic"}], "TreatMissingData": "notBreaching"}
    # SAM's GatewayResponses (AWS::Serverless::Api): StatusCode, ResponseParameters, ResponseTemplates;
    # SAM writes them into the body as x-amazon-apigateway-gateway-responses (samtranslator
    # model/api/api_generator.py _add_gateway_responses), so the API's deployment carries them.
    gateway_responses = {
        kind: {**({"StatusCode": status} if status else {}),
               "ResponseTemplates": {"application/json": gateway_response_template(code, message)}}
        for kind, (status, code, message) in GATEWAY_RESPONSES.items()
    }
    rate, burst = throttling(stage)
    merged = {
        "Resources": {
            # Merged into chalice's own API resource: the stage's throttling, API Gateway's own
            # answers, and OpenApiVersion (without it SAM also deploys to a stage named "Stage",
            # unthrottled; the swagger 2.0 body itself is left as it is).
            "RestAPI": {"Properties": {
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*",
                                    "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}],
                "GatewayResponses": gateway_responses,
                "OpenApiVersion": "3.0.1",
                "DefinitionBody": {"paths": {GREEDY: greedy_parameter()}},
            }},
            # The name chalice deploy gives it, so the role can name the log group without a cycle.
            "APIHandler": {"DependsOn": ["FunctionLogGroup"],
                           "Properties": {"FunctionName": function_name(stage)}},
            "ApiHandlerRole": {"Properties": {"Policies": [
                {"PolicyName": "ApiHandlerRolePolicy", "PolicyDocument": role_policy(stage)}]}},
            # Kept when the stack is deleted: the logs of what happened are needed most then.
            "FunctionLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                                 "UpdateReplacePolicy": "Retain", "Properties": {
                "LogGroupName": log_group_name(stage), "RetentionInDays": log_retention_days(stage)}},
            "VerificationsTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "TableName": config.table_name,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": ATTRIBUTES,
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    # The v2 Attempts list (chalicelib/verify/attempts.py; scripts/deploy/create_table.py).
                    "GlobalSecondaryIndexes": [ATTEMPTS_INDEX],
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
                    # Events are read from it (docs/events.md); nothing reads it otherwise.
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                },
            },
            "AlarmTopic": alarm_topic(stage, alarm_email),
            # The operator's view (scripts/deploy/dashboard.py, docs/dashboard.md): as make deploy puts it.
            "OperatorDashboard": dashboard.template_resource(stage),
            "ProviderFailureRateAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": "More than 20% of sends failed at the providers (5-minute windows)",
                "ComparisonOperator": "GreaterThanThreshold", "Threshold": 20,
                "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
                "Metrics": [
                    _metric("failed", "Sends", 300, outcome="failed"),
                    _metric("delivered", "Sends", 300, outcome="delivered"),
                    *_filled("failed", "delivered"),
                    {"Id": "rate",
                     "Expression": "IF(failed0 + delivered0 > 10, 100 * failed0 / (failed0 + delivered0), 0)",
                     "Label": "provider failure rate (%)", "ReturnData": True},
                ],
            }},
            "SendBudgetAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": f"Sends in the last hour passed 80% of OTP_MAX_SENDS_PER_HOUR ({budget})",
                "Namespace": NAMESPACE, "MetricName": "Sends", "Statistic": "Sum", "Period": 3600,
                "Dimensions": [{"Name": "service", "Value": SERVICE},
                               {"Name": "outcome", "Value": "delivered"}],
                "ComparisonOperator": "GreaterThanThreshold", "Threshold": int(budget * 0.8),
                "EvaluationPeriods": 1,
            }},
            "SendBudgetExhaustedAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": "The hourly send budget (OTP_MAX_SENDS_PER_HOUR) is used up: every user "
                                    "is refused until the hour ends (pumping, or a budget set too low)",
                "Namespace": NAMESPACE, "MetricName": "LimitsHit", "Statistic": "Sum", "Period": 300,
                "Dimensions": [{"Name": "service", "Value": SERVICE},
                               {"Name": "kind", "Value": "send_budget_exhausted"}],
                # No data means no refusal: notBreaching is right here.
                "ComparisonOperator": "GreaterThanOrEqualToThreshold", "Threshold": 1,
                "EvaluationPeriods": 1,
            }},
            "ConversionRateAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": "Fewer than half of the verifications started in an hour were approved "
                                    "(SMS pumping, or delivery trouble)",
                "ComparisonOperator": "LessThanThreshold", "Threshold": 50,
                "EvaluationPeriods": 1,
                "Metrics": [
                    _metric("approvals", "Approvals", 3600),
                    _metric("started", "VerificationsStarted", 3600),
                    *_filled("approvals", "started"),
                    {"Id": "conversion", "Expression": "IF(started0 >= 20, 100 * approvals0 / started0, 100)",
                     "Label": "conversion rate (%)", "ReturnData": True},
                ],
            }},
        },
        "Outputs": {
            "VerificationsTableName": {"Value": {"Ref": "VerificationsTable"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }
    from scripts.deploy.channel_resources import with_channels  # WhatsApp and email (docs/channels.md)

    merged = with_sns_handlers(stage, with_channels(stage_variables(stage), with_events(stage, merged)))
    merged = with_cognito_trigger(stage, merged)
    merged = with_receipts_layer(stage, merged)
    return with_checks(stage, with_snapstart(stage, with_access_logs(stage, merged)))


def with_checks(stage: str, merged: dict) -> dict:
    """checkov's findings fixed or, where a check does not apply, skipped with the reason
    (scripts/deploy/template_checks.py; docs/going-live.md#checkov)."""
    from scripts.deploy import access_logs
    from scripts.deploy.channel_resources import handlers
    from scripts.deploy.template_checks import harden

    sns_handlers = ["".join(part.capitalize() for part in handler.split("_"))
                    for handler in handlers(stage_variables(stage))]
    from chalicelib.settings.events import stream_consumer
    from scripts.deploy import cognito_trigger

    stream = "TableEvents" if stream_consumer(stage_variables(stage)) else None
    cognito = cognito_trigger.RESOURCE if cognito_trigger.enabled(stage) else None
    return harden(merged, sns_handlers, stream, access_logs.enabled(stage_config(stage)),
                  f"{function_name(stage)}-handlers-dlq", cognito)


# The catch-all under /v2 (chalicelib/twilio_v2/routes.py): chalice writes its methods but, not
# knowing greedy parameters, declares none; API Gateway's own example of a proxy resource
# declares it (docs.aws.amazon.com/apigateway/latest/developerguide/
# api-gateway-set-up-lambda-proxy-integration-on-proxy-resource.html).
GREEDY = "/v2/{proxy+}"


def greedy_parameter() -> dict:
    import app

    parameter = [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
    return {method.lower(): {"parameters": parameter} for method in app.app.routes[GREEDY]}


def with_access_logs(stage: str, merged: dict) -> dict:
    """A stage with ``"api_access_logs": true`` gets API Gateway's access log
    (scripts/deploy/access_logs.py)."""
    from scripts.deploy import access_logs

    if not access_logs.enabled(stage_config(stage)):
        return merged
    additions = access_logs.template_additions(access_logs.log_group(function_name(stage)),
                                               log_retention_days(stage))
    return deep_merge(additions, merged)


# As the API function's log group: the logs outlive the stack.
RETAINED = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def with_events(stage: str, merged: dict) -> dict:
    """A stage with the stream consumer (OTP_EVENTS_URL, OTP_TWILIO_WEBHOOKS) gets its mapping settings
    (over chalice's own DynamoDB event: the table's StreamArn, error handling, filter), the
    failed-records queue with its alarm, and the consumer's role policy with the stack's ARNs
    (scripts/deploy/events_resources.py). The API's role gets nothing of it."""
    from chalicelib.settings.events import stream_consumer

    if not stream_consumer(stage_variables(stage)):
        return merged
    from scripts.deploy.events_resources import FUNCTION, resources as event_resources, sam_event

    app_name = json.loads((ROOT / ".chalice" / "config.json").read_text())["app_name"]
    resources = merged["Resources"]
    resources.update(event_resources(app_name, stage, {"Ref": "AlarmTopic"}))
    # chalice package's names: the function TableEvents, its event TableEventsDynamodbEventSource,
    # its role TableEventsRole (chalice/package.py _generate_dynamodbeventsource, to_cfn_resource_name).
    name = "".join(part.capitalize() for part in FUNCTION.split("_"))
    resources[name] = {
        "DependsOn": ["EventsFunctionLogGroup"],
        "Properties": {"FunctionName": f"{function_name(stage)}-{FUNCTION}",  # as chalice deploy names it
                       "Events": {f"{name}DynamodbEventSource": {"Properties": sam_event()}}},
    }
    resources[f"{name}Role"] = {"Properties": {"Policies": [
        {"PolicyName": f"{name}RolePolicy", "PolicyDocument": role_policy(f"{stage}-events")}]}}
    resources["EventsFunctionLogGroup"] = {"Type": "AWS::Logs::LogGroup", **RETAINED, "Properties": {
        "LogGroupName": f"/aws/lambda/{function_name(stage)}-{FUNCTION}",
        "RetentionInDays": log_retention_days(stage)}}
    return merged


def with_sns_handlers(stage: str, merged: dict) -> dict:
    """The functions SNS topics invoke (chalice package subscribes each to its topic and lets
    that topic only invoke it): End User Messaging's delivery events (OTP_DELIVERY_EVENTS_TOPIC)
    and the channels' (OTP_EMAIL_EVENTS_TOPIC, OTP_WHATSAPP_EVENTS_TOPIC): each its fixed name
    and its log group, and its role's policy with the stack's ARNs: the handler's own
    `iam_policy_file` in the stage's `lambda_functions` (as chalice reads it), else the stage's."""
    from scripts.deploy.channel_resources import handlers

    resources = merged["Resources"]
    for handler in handlers(stage_variables(stage)):
        name = "".join(part.capitalize() for part in handler.split("_"))  # as chalice package names it
        resources[name] = deep_merge({"DependsOn": [f"{name}LogGroup"], "Properties": {
            "FunctionName": f"{function_name(stage)}-{handler}"}}, resources.get(name, {}))
        resources[f"{name}LogGroup"] = {"Type": "AWS::Logs::LogGroup", **RETAINED, "Properties": {
            "LogGroupName": f"/aws/lambda/{function_name(stage)}-{handler}",
            "RetentionInDays": log_retention_days(stage)}}
        policy_file = stage_config(stage).get("lambda_functions", {}).get(handler, {}).get("iam_policy_file")
        resources[f"{name}Role"] = {"Properties": {"Policies": [
            {"PolicyName": f"{name}RolePolicy", "PolicyDocument": role_policy(stage, policy_file)}]}}
    return merged


def with_cognito_trigger(stage: str, merged: dict) -> dict:
    """A stage with OTP_HOOK_COGNITO_KEY_ID gets Cognito's CustomSMSSender trigger: its KMS key
    and alias, the AWS Encryption SDK's layer (`make package` writes cognito-layer.zip beside
    the template), and the function's name, layer, log group and own role
    (scripts/deploy/cognito_trigger.py)."""
    from scripts.deploy import cognito_trigger

    if not cognito_trigger.enabled(stage):
        return merged
    policy = role_policy(stage, f"policy-{stage}-cognito.json")
    return deep_merge(cognito_trigger.template_additions(stage, policy, log_retention_days(stage)), merged)


def with_receipts_layer(stage: str, merged: dict) -> dict:
    """A stage with OTP_RECEIPT_SIGNING=minute_key gets `cryptography`'s layer on the API function
    (`make package` writes receipts-layer.zip beside the template: scripts/deploy/receipt_layer.py)."""
    from scripts.deploy import receipt_layer

    if not receipt_layer.enabled(stage):
        return merged
    return deep_merge(receipt_layer.template_additions(stage), merged)


def with_snapstart(stage: str, merged: dict) -> dict:
    """A stage with ``"snapstart": true`` or ``"provisioned_concurrency": N`` in
    .chalice/config.json gets it on a published alias that API Gateway invokes
    (scripts/deploy/snapstart.py); the runtime is this Python's. A wrong option is one line."""
    options = {**stage_config(stage), "runtime": f"python3.{sys.version_info.minor}"}
    if not options.get("snapstart") and options.get("provisioned_concurrency") is None:
        return merged
    import app

    routes = {path: list(methods) for path, methods in app.app.routes.items()}
    try:
        return deep_merge(published_alias_additions(merged, options, routes), merged)
    except ValueError as wrong:
        raise SystemExit(f"stage {stage}: {wrong}") from None


if __name__ == "__main__":
    email = os.environ.get("OTP_ALARM_EMAIL", "").strip() or None
    if not email:
        print("OTP_ALARM_EMAIL is not set: the alarm topic has no subscriber", file=sys.stderr)
    json.dump(resources(sys.argv[1], email), sys.stdout, indent=2)
    print()
