"""The events of a stage (docs/events.md): what reads the table's stream and where a record
goes when it cannot be delivered. Pure functions returning CloudFormation fragments and IAM
statements, merged by scripts/deploy/package_template.py (`make package`), and the calls
scripts/deploy/provision.py makes around `chalice deploy` (`make deploy`).

The consumer is the Chalice handler ``table_events`` (app.py), a Lambda function of its own
with a role of its own (``.chalice/policy-STAGE-events.json``; the API's role has nothing of
it). Its event source mapping on the table's stream: ``ReportBatchItemFailures`` (a batch is
retried from the first record a receiver refused, not from its start),
``BisectBatchOnFunctionError``, at most MAX_RETRIES retries and MAX_RECORD_AGE seconds, then the
record's position (shard, sequence numbers: never the event) goes to the on-failure SQS queue,
which has an alarm; a filter passes the number and TOTP items only (``pk`` begins with ``v#``
or ``t#``), so the counters' writes never invoke the function.
"""

from __future__ import annotations

from typing import Any

# With the consumer's pause of chalicelib/events/posting.py RETRY_PAUSE_SECONDS (10 s) before each
# reported refusal, 1,000 retries span about 3 hours of a receiver's outage; the age bound
# (6 hours) caps what one poisoned record can hold its shard for.
MAX_RETRIES = 1000
MAX_RECORD_AGE = 6 * 3600
BATCH_SIZE = 100
DLQ_RETENTION_SECONDS = 14 * 86_400
FUNCTION = "table_events"  # the Chalice handler's name: chalice names the function <app>-<stage>-table_events
# docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html (prefix matching on Keys;
# a record passes when any filter matches): the numbers' items and the identities' TOTP items.
_KEYS = '{"pk": {"S": [{"prefix": "v#"}, {"prefix": "t#"}]}}'
FILTER = {"Filters": [{"Pattern": '{"dynamodb": {"Keys": ' + _KEYS + '}}'}]}


def failed_queue_name(app_name: str, stage: str) -> str:
    return f"{app_name}-{stage}-events-failed"


def alarm_name(app_name: str, stage: str) -> str:
    return f"{app_name}-{stage}-events-failed"


def mapping_settings(failed_queue_arn: Any) -> dict[str, Any]:
    """The mapping's error handling, in the API's names (CreateEventSourceMapping, and SAM's
    DynamoDB event, which takes the same names)."""
    return {
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "BisectBatchOnFunctionError": True,
        "MaximumRetryAttempts": MAX_RETRIES,
        "MaximumRecordAgeInSeconds": MAX_RECORD_AGE,
        "DestinationConfig": {"OnFailure": {"Destination": failed_queue_arn}},
        "FilterCriteria": FILTER,
    }


def _alarm(app_name: str, stage: str, queue_name: Any, actions: list | None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "AlarmName": alarm_name(app_name, stage),
        "AlarmDescription": "Events your backend did not take after every retry: the queue holds "
                            "their stream positions (docs/events.md)",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }
    if actions:
        properties["AlarmActions"] = actions
    return properties


def resources(app_name: str, stage: str, alarm_topic_ref: dict | None = None) -> dict[str, Any]:
    """CloudFormation resources: EventsFailedQueue and EventsFailedAlarm."""
    return {
        "EventsFailedQueue": {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": failed_queue_name(app_name, stage),
                "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        "EventsFailedAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": _alarm(app_name, stage, {"Fn::GetAtt": ["EventsFailedQueue", "QueueName"]},
                                 [alarm_topic_ref] if alarm_topic_ref else None),
        },
    }


def sam_event(table_ref: str = "VerificationsTable") -> dict[str, Any]:
    """The consumer's SAM DynamoDB event properties (merged over chalice package's own)."""
    return {
        "Stream": {"Fn::GetAtt": [table_ref, "StreamArn"]},
        "StartingPosition": "LATEST",
        "BatchSize": BATCH_SIZE,
        **mapping_settings({"Fn::GetAtt": ["EventsFailedQueue", "Arn"]}),
    }


def ensure_failed_queue(sqs: Any, cloudwatch: Any, app_name: str, stage: str) -> str:
    """`make deploy`: the on-failure queue and its alarm, before `chalice deploy`; returns the
    queue's ARN. Idempotent (CreateQueue with the same attributes returns the same queue)."""
    name = failed_queue_name(app_name, stage)
    url = sqs.create_queue(QueueName=name, Attributes={
        "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS), "SqsManagedSseEnabled": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    cloudwatch.put_metric_alarm(**_alarm(app_name, stage, name, None))
    return str(arn)


def configure_mapping(lambda_client: Any, function_name: str, stream_arn: str, failed_queue_arn: str) -> str:
    """`make deploy`, after `chalice deploy` made the mapping (batch size and starting position
    only): its error handling, filter and destination. Idempotent."""
    # By stream, then by the function's name in FunctionArn (arn:aws:lambda:region:account:function:NAME):
    # moto 5.2.5 matches FunctionName literally against what the creator passed (chalice: the ARN).
    listed = lambda_client.list_event_source_mappings(EventSourceArn=stream_arn)["EventSourceMappings"]
    mappings = [m for m in listed if m["FunctionArn"].split(":")[6] == function_name]
    if not mappings:
        raise SystemExit(f"no event source mapping from {stream_arn} to {function_name}: "
                         "was chalice deploy run with OTP_EVENTS_STREAM_ARN (make deploy sets it)?")
    for mapping in mappings:
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"],
                                                  **mapping_settings(failed_queue_arn))
    return (f"events: {function_name} reads {stream_arn} (retries {MAX_RETRIES}, age {MAX_RECORD_AGE} s, "
            f"bisect, on failure {failed_queue_arn})")
