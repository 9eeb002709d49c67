"""The resources `make package` merges into `chalice package`'s template, for a stage.

    python scripts/package_template.py STAGE > build/STAGE/resources.json

The verifications table (on-demand, TTL on expires_at, point-in-time recovery, KMS encryption,
retained when the stack is deleted), an SNS topic for alarms, and three CloudWatch alarms on the
service's EMF metrics (namespace PhoneVerify): provider failure rate, sends per hour near the
budget, conversion rate (approvals / verifications started) dropping. The Lambda role's policy
is `.chalice/policy-STAGE.json` (autogen_policy is off). The secret parameter is created by
`make deploy` (CloudFormation cannot create SecureString parameters).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.config import Config  # noqa: E402
from chalicelib.telemetry import NAMESPACE, SERVICE  # noqa: E402
from scripts.provision import (  # noqa: E402
    GATEWAY_RESPONSES,
    THROTTLING,
    gateway_response_template,
    stage_variables,
)


def _metric(id_: str, name: str, period: int, **dimensions: str) -> dict:
    dims = [{"Name": "service", "Value": SERVICE}] + [{"Name": k, "Value": v} for k, v in dimensions.items()]
    return {"Id": id_, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims},
        "Period": period, "Stat": "Sum"}}


def resources(stage: str) -> dict:
    variables = stage_variables(stage)
    config = Config.from_env({**variables, "OTP_SECRET": "x" * 32})  # validates the stage too
    budget = config.limits.sends_per_hour
    alarm = {"AlarmActions": [{"Ref": "AlarmTopic"}], "TreatMissingData": "notBreaching"}
    gateway_responses = {
        f"GatewayResponse{''.join(w.title() for w in kind.split('_'))}": {
            "Type": "AWS::ApiGateway::GatewayResponse",
            "Properties": {
                "RestApiId": {"Ref": "RestAPI"},
                "ResponseType": kind,
                **({"StatusCode": status} if status else {}),
                "ResponseTemplates": {"application/json": gateway_response_template(code)},
            },
        }
        for kind, (status, code) in GATEWAY_RESPONSES.items()
    }
    rate, burst = THROTTLING.get(stage, (10, 20))
    return {
        "Resources": {
            # Merged into chalice's own API resource: the stage's throttling.
            "RestAPI": {"Properties": {"MethodSettings": [{
                "ResourcePath": "/*", "HttpMethod": "*",
                "ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst,
            }]}},
            **gateway_responses,
            "VerificationsTable": {
                "Type": "AWS::DynamoDB::Table",
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "TableName": config.table_name,
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
                },
            },
            "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"phone-verify-{stage}-alarms"}},
            "ProviderFailureRateAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": "More than 20% of sends failed at the providers (5-minute windows)",
                "ComparisonOperator": "GreaterThanThreshold", "Threshold": 20,
                "EvaluationPeriods": 3, "DatapointsToAlarm": 2,
                "Metrics": [
                    _metric("failed", "Sends", 300, outcome="failed"),
                    _metric("delivered", "Sends", 300, outcome="delivered"),
                    {"Id": "rate", "Expression": "IF(failed + delivered > 10, 100 * failed / (failed + delivered), 0)",
                     "Label": "provider failure rate (%)", "ReturnData": True},
                ],
            }},
            "SendBudgetAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
                **alarm,
                "AlarmDescription": f"Sends in the last hour passed 80% of OTP_MAX_SENDS_PER_HOUR ({budget})",
                "Namespace": NAMESPACE, "MetricName": "Sends", "Statistic": "Sum", "Period": 3600,
                "Dimensions": [{"Name": "service", "Value": SERVICE}, {"Name": "outcome", "Value": "delivered"}],
                "ComparisonOperator": "GreaterThanThreshold", "Threshold": int(budget * 0.8),
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
                    {"Id": "conversion", "Expression": "IF(started >= 20, 100 * approvals / started, 100)",
                     "Label": "conversion rate (%)", "ReturnData": True},
                ],
            }},
        },
        "Outputs": {
            "VerificationsTableName": {"Value": {"Ref": "VerificationsTable"}},
            "AlarmTopicArn": {"Value": {"Ref": "AlarmTopic"}},
        },
    }


if __name__ == "__main__":
    json.dump(resources(sys.argv[1]), sys.stdout, indent=2)
    print()
