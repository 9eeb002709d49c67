"""The events queue of a stage (README, "Events"): the queue, its dead-letter queue, an alarm on
the dead-letter queue, and the policy statements the function needs. Pure functions returning
CloudFormation fragments and IAM statements, merged by scripts/package_template.py (`make
package`) and created by scripts/provision.py (`make deploy`).

Retries: a failed POST raises in the SQS handler, so the message comes back after the queue's
visibility timeout; after MAX_RECEIVES receives SQS moves it to the dead-letter queue, kept 14
days. The visibility timeout must be at least the function's timeout (AWS requirement for a
Lambda event source), so it is max(60, lambda timeout * 6) as AWS recommends.
"""

from __future__ import annotations

from typing import Any

MAX_RECEIVES = 5
DLQ_RETENTION_SECONDS = 14 * 86_400


def queue_names(app_name: str, stage: str) -> tuple[str, str]:
    return f"{app_name}-{stage}-events", f"{app_name}-{stage}-events-dlq"


def visibility_timeout(lambda_timeout: int) -> int:
    return max(60, 6 * lambda_timeout)


def resources(
    app_name: str, stage: str, lambda_timeout: int, alarm_topic_ref: dict | None = None
) -> dict[str, Any]:
    """CloudFormation resources: EventsQueue, EventsDeadLetterQueue, EventsDeadLetterAlarm."""
    queue, dlq = queue_names(app_name, stage)
    alarm: dict[str, Any] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": f"{app_name}-{stage}-events-dead-letters",
            "AlarmDescription": "Events your backend did not take after every retry (see README, Events)",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}}
            ],
            "Statistic": "Maximum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
        },
    }
    if alarm_topic_ref is not None:
        alarm["Properties"]["AlarmActions"] = [alarm_topic_ref]
    return {
        "EventsDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": dlq,
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        "EventsQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": queue,
                "VisibilityTimeout": visibility_timeout(lambda_timeout),
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": MAX_RECEIVES,
                },
            },
        },
        "EventsDeadLetterAlarm": alarm,
    }


def policy_statements(queue_arn: Any) -> list[dict[str, Any]]:
    """The request path sends (one SendMessage, after one GetQueueUrl per container); the
    SQS trigger's consumer receives and deletes. On that queue only."""
    return [
        {
            "Sid": "EnqueueEvents",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
            "Resource": queue_arn,
        },
        {
            "Sid": "ConsumeEvents",
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": queue_arn,
        },
    ]


def stage_environment(app_name: str, stage: str) -> dict[str, str]:
    """The variable the stage needs beside OTP_EVENTS_URL and OTP_EVENTS_SECRET_PARAMETER."""
    return {"OTP_EVENTS_QUEUE": queue_names(app_name, stage)[0]}


def ensure_queues(sqs: Any, app_name: str, stage: str, lambda_timeout: int) -> str:
    """`make deploy`: create (or update) the two queues before `chalice deploy` wires the
    trigger; returns the queue's URL. Idempotent."""
    import json

    queue, dlq = queue_names(app_name, stage)
    dlq_url = sqs.create_queue(
        QueueName=dlq,
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {
        "VisibilityTimeout": str(visibility_timeout(lambda_timeout)),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
    }
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url
