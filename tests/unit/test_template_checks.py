"""checkov's real findings fixed in `make package`'s resources, without checkov (it runs in
tests/integration/test_checkov.py): the stack's SNS topics encrypted with a key of its own that
the publishing services may use from this account only, and the functions SNS invokes given a
dead-letter queue with an alarm; a check that does not apply is skipped with its reason."""

from __future__ import annotations

from scripts.deploy import package_template
from tests.unit.test_channel_resources import VARIABLES


def _with_channels(monkeypatch) -> dict:
    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables", lambda stage: {**original(stage), **VARIABLES})
    return package_template.resources("prod")["Resources"]


def test_the_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use():
    resources = package_template.resources("prod", "ops@example.com")["Resources"]
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicsKey"}
    key = resources["TopicsKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    [services] = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    # The AWS managed aws/sns key cannot be used: CloudWatch could not publish the alarms.
    assert "cloudwatch.amazonaws.com" in services["Principal"]["Service"]
    assert services["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert services["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_channels_topics_are_encrypted_and_their_handlers_keep_failed_events(monkeypatch):
    resources = _with_channels(monkeypatch)
    for topic in ("EmailEventsTopic", "WhatsAppEventsTopic"):
        assert resources[topic]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicsKey"}
    [services] = [s for s in resources["TopicsKey"]["Properties"]["KeyPolicy"]["Statement"]
                  if "Service" in s["Principal"]]
    assert {"ses.amazonaws.com", "social-messaging.amazonaws.com"} <= set(services["Principal"]["Service"])
    queue = resources["HandlersDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and queue["QueueName"] == "phone-verify-prod-handlers-dlq"
    assert resources["HandlersDeadLetterAlarm"]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    for name in ("EmailEvents", "WhatsappEvents"):
        assert resources[name]["Properties"]["DeadLetterQueue"]["TargetArn"] == {
            "Fn::GetAtt": ["HandlersDeadLetterQueue", "Arn"]}
    # API Gateway invokes the API synchronously: no dead-letter queue, a skip with its reason.
    api = resources["APIHandler"]
    assert "DeadLetterQueue" not in api["Properties"]
    assert "CKV_AWS_116" in {s["id"] for s in api["Metadata"]["checkov"]["skip"]}


def test_every_skip_names_a_check_and_gives_a_reason():
    resources = package_template.resources("prod")["Resources"]
    skips = [s for r in resources.values() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert {s["id"] for s in skips} >= {"CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_173", "CKV_AWS_73",
                                        "CKV_AWS_120", "CKV_AWS_76", "CKV_AWS_158", "CKV_AWS_119"}
    assert all(s["id"].startswith("CKV_AWS_") and len(s["comment"]) > 40 for s in skips)
    assert "CKV_AWS_26" not in {s["id"] for s in skips}  # the alarm topic is fixed, not skipped
