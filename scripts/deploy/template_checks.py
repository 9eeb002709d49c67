"""checkov's findings on `make package`'s template (docs/going-live.md#checkov): what is fixed
here, and, on each resource a check does not apply to, checkov's own suppression with the reason
(``Metadata.checkov.skip``: docs: www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html).

Fixed: the alarm topic and the channels' event topics are encrypted with a key of the stack's
(``TopicsKey``: the AWS managed ``aws/sns`` key cannot be used by CloudWatch, SES or End User
Messaging Social, whose publishing its policy cannot grant), and the functions SNS invokes
(asynchronously, so a failed event is otherwise dropped after Lambda's two retries) keep what
they could not handle in a dead-letter queue with an alarm.

`make checkov` and tests/integration/test_checkov.py run checkov on the template and fail on any
finding neither fixed nor skipped here.
"""

from __future__ import annotations

from typing import Any

# check id -> why it does not apply, per kind of resource. Each reason is also on the page.
NO_VPC = ("The functions reach only AWS's public endpoints and the providers' APIs on the internet; "
          "a VPC would add a NAT gateway or endpoints (cost, a cold-start path) and protect nothing")
NO_RESERVED = ("API Gateway's stage throttling (dev 10/s, prod 100/s) and the send budget bound the "
               "function; reserving concurrency takes it from the account's pool (a new account's limit "
               "of 10 cannot reserve any). Chalice's `reserved_concurrency` sets it per stage when wanted")
ENV_NOT_SECRET = ("The environment holds no secret (deployed stages refuse OTP_SECRET: secrets are SSM "
                  "SecureStrings); Lambda encrypts it at rest with its own KMS key")
SKIPS: dict[str, list[tuple[str, str]]] = {
    "function": [
        ("CKV_AWS_117", NO_VPC),
        ("CKV_AWS_115", NO_RESERVED),
        ("CKV_AWS_173", ENV_NOT_SECRET),
    ],
    # API Gateway invokes it synchronously: a dead-letter queue receives only asynchronous events.
    "api_function": [("CKV_AWS_116", "API Gateway invokes it synchronously: the caller gets the error, "
                                     "there is no asynchronous event to keep")],
    "stream_function": [("CKV_AWS_116", "A stream's records are not asynchronous invocations: the event "
                                        "source mapping's on-failure destination (EventsFailedQueue) keeps "
                                        "what the consumer could not deliver")],
    "cognito_function": [("CKV_AWS_116", "Cognito invokes it synchronously and fails the user's request on "
                                         "an error: there is no asynchronous event to keep")],
    "api": [
        ("CKV_AWS_73", "X-Ray would record each request's path, and /v2 paths carry phone numbers "
                       "(GET /v2/Services/VA.../Verifications/+1...); logs and EMF metrics cover latency"),
        ("CKV_AWS_120", "Every answer is for one caller and one moment (codes, statuses): a cache would "
                        "serve stale or another caller's answers"),
    ],
    "api_without_access_logs": [
        ("CKV_AWS_76", "Opt-in per stage (`\"api_access_logs\": true` in .chalice/config.json): it sets the "
                       "account's API Gateway CloudWatch role, shared by every API of the account"),
    ],
    "log_group": [
        ("CKV_AWS_158", "CloudWatch Logs encrypts every log group at rest; the logs hold no code, secret "
                        "or full number (docs/security.md), so a key of ours would add cost and a key "
                        "policy to keep, and no protection"),
    ],
    "table": [
        ("CKV_AWS_119", "Encrypted with KMS (the AWS managed key): what is secret in it is already under "
                        "the service's own keys (codes are MACs under the SSM secret, TOTP secrets are "
                        "encrypted with the stage's KMS key); a key of ours, if disabled, loses the table"),
    ],
    "queue": [
        ("CKV_AWS_27", "Encrypted with SQS's own keys (SqsManagedSseEnabled); checkov reads KmsMasterKeyId "
                       "only"),
    ],
}

TOPICS_KEY = "TopicsKey"
HANDLERS_DLQ = "HandlersDeadLetterQueue"
_PUBLISHERS = ("cloudwatch.amazonaws.com", "ses.amazonaws.com", "social-messaging.amazonaws.com")


def _skip(resource: dict, kind: str) -> None:
    entries = resource.setdefault("Metadata", {}).setdefault("checkov", {}).setdefault("skip", [])
    entries += [{"id": check, "comment": reason} for check, reason in SKIPS[kind]]


def topics_key() -> dict[str, Any]:
    """A symmetric key of the stack for its SNS topics: the account administers it; CloudWatch
    (the alarms), SES and End User Messaging Social (the channels' events) may encrypt with it,
    from this account only (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html,
    "Enable compatibility between event sources from AWS services and encrypted topics")."""
    return {"Type": "AWS::KMS::Key", "Properties": {
        "Description": "The stack's SNS topics (alarms, channel events)",
        "EnableKeyRotation": True,
        "KeyPolicy": {"Version": "2012-10-17", "Statement": [
            {"Sid": "TheAccountAdministersIt", "Effect": "Allow",
             "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
             "Action": "kms:*", "Resource": "*"},
            {"Sid": "ServicesPublishToTheTopics", "Effect": "Allow",
             "Principal": {"Service": list(_PUBLISHERS)},
             "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*",
             "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}},
        ]},
    }}


def handlers_dead_letters(queue_name: str) -> dict[str, Any]:
    """The queue the SNS-invoked functions' failed events go to, and its alarm."""
    return {
        HANDLERS_DLQ: {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": queue_name, "MessageRetentionPeriod": 14 * 86_400, "SqsManagedSseEnabled": True}},
        "HandlersDeadLetterAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmDescription": "Delivery or channel events a handler failed on after Lambda's retries: "
                                "the queue keeps them 14 days (docs/going-live.md#alarms)",
            "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [HANDLERS_DLQ, "QueueName"]}}],
            "Statistic": "Maximum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}]}},
    }


def harden(merged: dict, sns_handlers: list[str], stream_function: str | None, access_logs: bool,
           queue_name: str, cognito_function: str | None = None) -> dict:
    """The fixes, then the skips, on `make package`'s resources (``sns_handlers``: the CloudFormation
    names of the functions SNS invokes; ``stream_function``: the events consumer's, if any)."""
    resources = merged["Resources"]
    topics = [name for name, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"]
    if topics:
        resources[TOPICS_KEY] = topics_key()
        for name in topics:
            resources[name]["Properties"]["KmsMasterKeyId"] = {"Ref": TOPICS_KEY}
    if sns_handlers:
        resources.update(handlers_dead_letters(queue_name))
        queue_arn = {"Fn::GetAtt": [HANDLERS_DLQ, "Arn"]}
        for name in sns_handlers:
            resources[name]["Properties"]["DeadLetterQueue"] = {"Type": "SQS", "TargetArn": queue_arn}
            policy = resources[f"{name}Role"]["Properties"]["Policies"][0]["PolicyDocument"]
            policy["Statement"].append({"Effect": "Allow", "Action": ["sqs:SendMessage"],
                                        "Resource": [queue_arn]})
    extra = [name for name in (stream_function, cognito_function) if name]
    for name in ("APIHandler", *sns_handlers, *extra):
        _skip(resources[name], "function")
    if cognito_function:
        _skip(resources[cognito_function], "cognito_function")
    _skip(resources["APIHandler"], "api_function")
    if stream_function:
        _skip(resources[stream_function], "stream_function")
    _skip(resources["RestAPI"], "api")
    if not access_logs:
        _skip(resources["RestAPI"], "api_without_access_logs")
    for resource in resources.values():
        kind = {"AWS::Logs::LogGroup": "log_group", "AWS::DynamoDB::Table": "table",
                "AWS::SQS::Queue": "queue"}.get(resource.get("Type", ""))
        if kind:
            _skip(resource, kind)
    return merged
