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


# -- issue 22 item 9: what API Gateway refuses leaves a trace; the function's logs outlive the stack


def test_the_function_s_log_group_is_kept_when_the_stack_is_deleted():
    group = package_template.resources("prod")["Resources"]["FunctionLogGroup"]
    assert group["DeletionPolicy"] == "Retain" and group["UpdateReplacePolicy"] == "Retain"


def test_no_access_log_unless_the_stage_asks():
    merged = package_template.resources("prod")["Resources"]
    assert "ApiAccessLogGroup" not in merged and "AccessLogSetting" not in merged["RestAPI"]["Properties"]


def test_a_stage_with_access_logs_gets_a_retained_json_log_without_query_strings_or_bodies(monkeypatch):
    import json

    original = package_template.stage_config
    monkeypatch.setattr(package_template, "stage_config",
                        lambda stage: {**original(stage), "api_access_logs": True})
    merged = package_template.resources("prod")["Resources"]
    group = merged["ApiAccessLogGroup"]
    assert group["DeletionPolicy"] == "Retain"
    assert group["Properties"] == {"LogGroupName": "/aws/apigateway/phone-verify-prod-access", "RetentionInDays": 30}
    api = merged["RestAPI"]
    setting = api["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(setting["Format"])  # JSON lines
    assert fields["ip"] == "$context.identity.sourceIp" and fields["status"] == "$context.status"
    assert fields["errorResponseType"] == "$context.error.responseType"  # THROTTLED, MISSING_AUTHENTICATION_TOKEN...
    used = set(fields.values())
    # No query string (resourcePath is the route's template; $context.path would carry ids) and no body.
    assert not used & {"$context.path", "$input.body", "$context.requestOverride.querystring"}
    assert not any("querystring" in v.lower() or "body" in v.lower() for v in used)
    # The account-level role API Gateway needs before a stage may log, and the stage waits for it.
    assert merged["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]}
    assert api["DependsOn"] == ["ApiGatewayAccount"]
    trust = merged["ApiGatewayLogsRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    # The stage's own API settings are still there (merged, not replaced).
    assert api["Properties"]["OpenApiVersion"] == "3.0.1" and "GatewayResponses" in api["Properties"]
