"""scripts/events_resources.py: the template fragment lints as part of a template, the queues it
creates on (moto's) SQS redrive to the DLQ, and the policy names that queue only."""

from __future__ import annotations

import json

import boto3

from scripts import events_resources as er


def test_fragment_has_queue_dlq_and_alarm_wired_together():
    res = er.resources("phone-verify", "prod", lambda_timeout=20, alarm_topic_ref={"Ref": "AlarmTopic"})
    queue = res["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    assert queue["RedrivePolicy"]["maxReceiveCount"] == er.MAX_RECEIVES
    assert queue["VisibilityTimeout"] >= 20  # at least the function's timeout (Lambda refuses less)
    alarm = res["EventsDeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_fragment_passes_cfn_lint():
    from cfnlint.api import lint_all

    template = {"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"AlarmTopic": {"Type": "AWS::SNS::Topic"},
                              **er.resources("phone-verify", "dev", 20, {"Ref": "AlarmTopic"})}}
    matches = [m for m in lint_all(json.dumps(template)) if m.rule.id.startswith("E")]
    assert matches == []


def test_policy_grants_send_on_that_queue_only():
    statements = er.policy_statements({"Fn::GetAtt": ["EventsQueue", "Arn"]})
    send = [s for s in statements if "sqs:SendMessage" in s["Action"]]
    assert len(send) == 1 and send[0]["Resource"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert all(s["Resource"] != "*" for s in statements)


def test_ensure_queues_is_idempotent_and_redrives(aws):
    sqs = boto3.client("sqs")
    url = er.ensure_queues(sqs, "phone-verify", "dev", 20)
    assert er.ensure_queues(sqs, "phone-verify", "dev", 20) == url
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] in (er.MAX_RECEIVES, str(er.MAX_RECEIVES))
    assert attrs["VisibilityTimeout"] == "120"
