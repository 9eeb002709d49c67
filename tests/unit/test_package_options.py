"""Stage options of `make package`: SnapStart and the events queue, each off unless the stage asks."""

from __future__ import annotations

from scripts import package_template


def test_no_stage_has_snapstart_unless_it_asks():
    function = package_template.resources("prod")["Resources"]["APIHandler"]
    assert "SnapStart" not in function["Properties"] and "AutoPublishAlias" not in function["Properties"]


def test_a_stage_with_snapstart_gets_it_on_a_published_alias_that_the_api_invokes(monkeypatch):
    original = package_template.stage_config
    monkeypatch.setattr(package_template, "stage_config", lambda stage: {**original(stage), "snapstart": True})
    merged = package_template.resources("prod")
    function = merged["Resources"]["APIHandler"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"} and function["AutoPublishAlias"] == "live"
    assert function["FunctionName"] == "phone-verify-prod"  # the log group's name still matches
    # The stage's own additions are still there (merged, not replaced).
    api = merged["Resources"]["RestAPI"]["Properties"]
    assert api["OpenApiVersion"] == "3.0.1" and "GatewayResponses" in api


def test_a_stage_with_events_gets_the_queue_the_dlq_alarm_and_send_rights_on_that_queue_only(monkeypatch):
    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables",
                        lambda stage: {**original(stage), "OTP_EVENTS_URL": "https://backend.example.com/hooks",
                                       "OTP_EVENTS_SECRET_PARAMETER": "/phone-verify/prod/events-secret",
                                       "OTP_EVENTS_QUEUE": "phone-verify-prod-events"})
    merged = package_template.resources("prod")["Resources"]
    assert {"EventsQueue", "EventsDeadLetterQueue", "EventsDeadLetterAlarm"} <= set(merged)
    policy = merged["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    sends = [s for s in policy if "sqs:SendMessage" in s["Action"]]
    assert sends and all(s["Resource"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]} for s in sends)


def test_no_events_no_queue():
    assert "EventsQueue" not in package_template.resources("prod")["Resources"]
