"""scripts/deploy/events_resources.py: the failed-records queue and its alarm lint as part of a
template, the mapping's error handling is bounded, and `make deploy`'s calls make the same
settings on (moto's) SQS, CloudWatch and Lambda."""

from __future__ import annotations

import json

import boto3

from scripts.deploy import events_resources as er


def test_the_mapping_retries_from_the_failed_record_bisects_and_gives_up_in_bounds():
    settings = er.mapping_settings("arn:aws:sqs:us-east-1:1:q")
    assert settings["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert settings["BisectBatchOnFunctionError"] is True
    # Bounded (-1 would be "until the record expires", 24 hours on DynamoDB Streams).
    assert 0 < settings["MaximumRetryAttempts"] <= 10_000
    assert 60 <= settings["MaximumRecordAgeInSeconds"] < 86_400
    assert settings["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:1:q"}}
    pattern = json.loads(settings["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern == {"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "v#"}, {"prefix": "t#"}]}}}}


def test_fragment_passes_cfn_lint():
    from cfnlint.api import lint_all

    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"},
                              **er.resources("phone-verify", "dev", {"Ref": "AlarmTopic"})}}
    matches = [m for m in lint_all(json.dumps(template)) if m.rule.id.startswith("E")]
    assert matches == []
    alarm = template["Resources"]["EventsFailedAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EventsFailedQueue", "QueueName"]}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_ensure_failed_queue_is_idempotent(aws):
    sqs, cloudwatch = boto3.client("sqs"), boto3.client("cloudwatch")
    arn = er.ensure_failed_queue(sqs, cloudwatch, "phone-verify", "dev")
    assert er.ensure_failed_queue(sqs, cloudwatch, "phone-verify", "dev") == arn
    assert arn.endswith(":phone-verify-dev-events-failed")
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["phone-verify-dev-events-failed"]


def test_configure_mapping_refuses_when_chalice_made_none(aws):
    import pytest

    lambda_client = boto3.client("lambda")
    with pytest.raises(SystemExit, match="OTP_EVENTS_STREAM_ARN"):
        er.configure_mapping(lambda_client, "phone-verify-dev-table_events", "arn:aws:dynamodb:x", "arn:aws:sqs:q")
