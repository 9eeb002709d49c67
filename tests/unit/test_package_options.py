"""Stage options of `make package`: SnapStart and events, each off unless the stage asks."""

from __future__ import annotations

from scripts.deploy import package_template


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


def _with_events(monkeypatch):
    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables",
                        lambda stage: {**original(stage), "OTP_EVENTS_URL": "https://backend.example.com/hooks",
                                       "OTP_EVENTS_SECRET_PARAMETER": "/phone-verify/prod/events-secret"})


def test_a_stage_with_events_reads_the_tables_stream_into_a_function_of_its_own(monkeypatch):
    _with_events(monkeypatch)
    merged = package_template.resources("prod")["Resources"]
    assert {"EventsFailedQueue", "EventsFailedAlarm", "EventsFunctionLogGroup"} <= set(merged)
    event = merged["TableEvents"]["Properties"]["Events"]["TableEventsDynamodbEventSource"]["Properties"]
    assert event["Stream"] == {"Fn::GetAtt": ["VerificationsTable", "StreamArn"]}
    assert event["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["EventsFailedQueue", "Arn"]}
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and event["BisectBatchOnFunctionError"]
    # The API's role sends nothing anywhere: no SQS action at all; the consumer's role only
    # sends the failed records' positions to that one queue.
    api = merged["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert not any(a.startswith("sqs:") for s in api for a in s["Action"])
    consumer = merged["TableEventsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [send] = [s for s in consumer if any(a.startswith("sqs:") for a in s["Action"])]
    assert send["Action"] == ["sqs:SendMessage"]
    assert send["Resource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:"
                                            "phone-verify-prod-events-failed"}]


def test_the_table_streams_both_images_with_or_without_events():
    table = package_template.resources("prod")["Resources"]["VerificationsTable"]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_no_events_no_queue_no_consumer():
    merged = package_template.resources("prod")["Resources"]
    assert "EventsFailedQueue" not in merged and "TableEvents" not in merged and "DeliveryStatus" not in merged


def test_a_stage_naming_a_delivery_events_topic_gets_its_handlers_name_log_group_and_role(monkeypatch):
    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables",
                        lambda stage: {**original(stage), "OTP_DELIVERY_EVENTS_TOPIC": "eum-delivery"})
    merged = package_template.resources("prod")["Resources"]
    assert merged["DeliveryStatus"]["Properties"]["FunctionName"] == "phone-verify-prod-delivery_status"
    assert merged["DeliveryStatusLogGroup"]["Properties"]["LogGroupName"] == "/aws/lambda/phone-verify-prod-delivery_status"
    statements = merged["DeliveryStatusRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {a for s in statements for a in s["Action"]} >= {"dynamodb:UpdateItem", "ssm:GetParameter", "ssm:GetParameters"}


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


# -- issue 24: the WhatsApp and email channels' resources (scripts/deploy/channel_resources.py)


def test_a_stage_with_the_channels_gets_their_topics_configuration_set_and_named_logged_handlers(monkeypatch):
    import json

    from tests.unit.test_channel_resources import VARIABLES

    original = package_template.stage_variables
    monkeypatch.setattr(package_template, "stage_variables", lambda stage: {**original(stage), **VARIABLES})
    merged = package_template.resources("prod")["Resources"]
    assert {"EmailEventsTopic", "WhatsAppEventsTopic", "EmailConfigurationSet",
            "EmailEventDestination"} <= set(merged)
    for handler, topic in (("email_events", "EmailEventsTopic"),
                           ("whatsapp_events", "WhatsAppEventsTopic")):
        name = "".join(part.capitalize() for part in handler.split("_"))
        function = merged[name]
        assert function["Properties"]["FunctionName"] == f"phone-verify-prod-{handler}"  # as chalice deploy names it
        assert function["DependsOn"] == [f"{name}LogGroup"]
        assert function["Properties"]["Events"][f"{name}SnsSubscription"]["Properties"]["Topic"] == {
            "Fn::Sub": "${" + topic + "}"}
        group = merged[f"{name}LogGroup"]
        assert group["DeletionPolicy"] == "Retain"
        assert group["Properties"] == {"LogGroupName": f"/aws/lambda/phone-verify-prod-{handler}", "RetentionInDays": 30}
        # Its own role (.chalice/policy-prod-channel-events.json) with the stack's ARNs: no send,
        # but to its dead-letter queue (scripts/deploy/template_checks.py).
        role = merged[f"{name}Role"]["Properties"]["Policies"][0]["PolicyDocument"]
        assert "arn:aws:" not in json.dumps(role) and "${AWS::Partition}" in json.dumps(role)
        assert {a for s in role["Statement"] for a in s["Action"]} == {
            "dynamodb:UpdateItem", "ssm:GetParameter", "ssm:GetParameters", "logs:CreateLogGroup", "logs:CreateLogStream",
            "logs:PutLogEvents", "sqs:SendMessage"}
        [send] = [s for s in role["Statement"] if "sqs:SendMessage" in s["Action"]]
        assert send["Resource"] == [{"Fn::GetAtt": ["HandlersDeadLetterQueue", "Arn"]}]
        assert function["Properties"]["DeadLetterQueue"] == {"Type": "SQS", "TargetArn": send["Resource"][0]}
    sids = [s.get("Sid") for s in merged["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]]
    assert {"EmailFromOwnIdentity", "WhatsAppFromOwnNumber"} <= set(sids)
    assert "DeliveryStatus" not in merged  # no End User Messaging delivery topic named


def test_no_channel_resources_without_the_channels():
    merged = package_template.resources("prod")["Resources"]
    assert not {"EmailEvents", "WhatsappEvents", "EmailConfigurationSet"} & set(merged)
    assert not any(r.get("Type") == "AWS::SNS::TopicPolicy" for r in merged.values())


def test_the_packaged_gateway_responses_repeat_nothing_of_the_request():
    """Issue 28 item 3: every gateway response of the stack is a fixed message in the
    contract's shape ($context.error.messageString repeats the request's Authorization)."""
    import json

    from scripts.deploy.gateway_settings import GATEWAY_RESPONSES
    from tests.unit.helpers import render_gateway_response

    basic = "Basic U0thYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYjpzM2NyM3Q="
    responses = package_template.resources("prod")["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert set(responses) == set(GATEWAY_RESPONSES)
    for kind, response in responses.items():
        body = render_gateway_response(response["ResponseTemplates"]["application/json"], basic)
        _, code, message = GATEWAY_RESPONSES[kind]
        assert basic.split()[1] not in body and json.loads(body) == {"error": {"code": code, "message": message}}
