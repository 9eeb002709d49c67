"""scripts/deploy/channel_resources.py: the function may send email from its own identity and
WhatsApp from its own number, nothing else; `make package` adds the channels' topics (each
publishable by its one service), SES's configuration set and event destination, and subscribes
the handlers through the stack's topics, linting clean with the SAM transform; `make deploy`
makes the same with boto3 before chalice deploy, idempotently (moto's SNS; SES v2's event
destinations and End User Messaging Social through botocore's Stubber: tests/unit/channel_fakes.py)."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from scripts.deploy import channel_resources as cr
from scripts.deploy.channel_resources import policy_statements, wildcard_arn, with_channels
from tests.unit.channel_fakes import NUMBER_ID, WABA_ID, expect_email, expect_whatsapp

VARIABLES = {
    "OTP_EMAIL_PROVIDER": "ses", "SES_FROM": "Acme <Verify@Acme.example>",
    "SES_CONFIGURATION_SET": "phone-verify-prod-email",
    "OTP_EMAIL_EVENTS_TOPIC": "phone-verify-prod-email-events",
    "OTP_WHATSAPP_PROVIDER": "end-user-messaging-social,meta",
    "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID": NUMBER_ID,
    "OTP_WHATSAPP_EVENTS_TOPIC": "phone-verify-prod-whatsapp-events",
}
REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's


def test_nothing_is_granted_or_made_without_the_channels():
    assert policy_statements({"SMS_PROVIDER": "sns"}) == []
    off = {"OTP_WHATSAPP_PROVIDER": "meta", "OTP_EMAIL_PROVIDER": "console"}
    assert policy_statements(off) == [] and cr.template_resources(off) == {}
    assert cr.ensure_channel_resources(off, None, None, None) == []  # no client is touched


def test_send_email_on_the_from_identities_and_the_configuration_set_only():
    email, whatsapp = policy_statements(VARIABLES, wildcard_arn)
    assert email["Action"] == ["ses:SendEmail"]
    assert email["Resource"] == ["arn:aws:ses:*:*:identity/Verify@Acme.example",  # as written
                                 "arn:aws:ses:*:*:identity/verify@acme.example",
                                 "arn:aws:ses:*:*:identity/acme.example",
                                 "arn:aws:ses:*:*:configuration-set/phone-verify-prod-email"]
    assert email["Condition"] == {"StringEqualsIgnoreCase": {"ses:FromAddress": "Verify@Acme.example"}}
    assert whatsapp["Action"] == ["social-messaging:SendWhatsAppMessage"]
    # The id in the ARN: the originationPhoneNumberId without "phone-number-id-" (botocore's
    # LinkedWhatsAppPhoneNumberArn pattern, arn:.*:phone-number-id/[0-9a-zA-Z]+).
    number = "arn:aws:social-messaging:*:*:phone-number-id/976c72a700aac43eaf573ae050example"
    assert whatsapp["Resource"] == [number]
    assert all("*" not in json.dumps(s["Action"]) for s in (email, whatsapp))


def test_a_lower_case_from_address_is_one_identity_not_two():
    [email] = policy_statements({k: v for k, v in VARIABLES.items() if "WHATSAPP" not in k and "EUM" not in k}
                                | {"SES_FROM": "verify@acme.example"}, wildcard_arn)
    assert email["Resource"][:2] == ["arn:aws:ses:*:*:identity/verify@acme.example",
                                     "arn:aws:ses:*:*:identity/acme.example"]


def test_the_number_arn_matches_botocores_pattern_for_it():
    import re

    model = boto3.client("socialmessaging", region_name=REGION).meta.service_model
    pattern = model.shape_for("LinkedWhatsAppPhoneNumberArn").metadata["pattern"]
    whatsapp_only = {k: v for k, v in VARIABLES.items() if "EMAIL" not in k and "SES" not in k}
    [statement] = policy_statements(whatsapp_only, lambda service, resource:
                                    f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}")
    assert re.fullmatch(pattern, statement["Resource"][0])


@pytest.mark.parametrize("missing", ["SES_FROM", "SES_CONFIGURATION_SET", "OTP_EMAIL_EVENTS_TOPIC",
                                     "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID", "OTP_WHATSAPP_EVENTS_TOPIC"])
def test_a_missing_identity_or_topic_stops_the_deployment(missing):
    with pytest.raises(SystemExit, match=missing):
        policy_statements({k: v for k, v in VARIABLES.items() if k != missing})


@pytest.mark.parametrize("name, value", [
    ("SES_FROM", "not an address"), ("SES_CONFIGURATION_SET", "verify events"),
    ("EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID", "976c72a7"), ("OTP_EMAIL_EVENTS_TOPIC", "a:b"),
    ("OTP_WHATSAPP_EVENTS_TOPIC", "phone-verify-prod-email-events"),  # the email topic: one handler each
    ("OTP_EMAIL_PROVIDER", "ses,sns"),  # sns sends no email: the service's own rule refuses it
])
def test_a_malformed_variable_stops_the_deployment_naming_it(name, value):
    with pytest.raises(SystemExit, match=name):
        cr.channels({**VARIABLES, name: value})


def test_each_topic_may_be_published_to_by_its_one_service_from_this_account():
    resources = cr.template_resources(VARIABLES)
    for key, variable, principal in (("EmailEventsTopic", "OTP_EMAIL_EVENTS_TOPIC", "ses.amazonaws.com"),
                                     ("WhatsAppEventsTopic", "OTP_WHATSAPP_EVENTS_TOPIC",
                                      "social-messaging.amazonaws.com")):
        assert resources[key]["Properties"] == {"TopicName": VARIABLES[variable]}
        policy = resources[f"{key}Policy"]["Properties"]
        assert policy["Topics"] == [{"Ref": key}]
        [statement] = policy["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": principal} and statement["Action"] == "sns:Publish"
        assert statement["Resource"] == {"Ref": key}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_stacks_names_do_not_come_from_the_topics_names():
    """A topic named like another resource (the alarms' topic) or two names that would make the
    same logical id cannot collide: the ids are fixed."""
    resources = cr.template_resources({**VARIABLES, "OTP_EMAIL_EVENTS_TOPIC": "alarm",
                                       "OTP_WHATSAPP_EVENTS_TOPIC": "Alarm"})
    assert {"EmailEventsTopic", "WhatsAppEventsTopic"} <= set(resources) and "AlarmTopic" not in resources


def test_the_configuration_set_sends_bounces_complaints_rejects_and_rendering_failures_to_its_topic():
    resources = cr.template_resources(VARIABLES)
    assert resources["EmailConfigurationSet"]["Properties"] == {"Name": "phone-verify-prod-email"}
    destination = resources["EmailEventDestination"]
    assert destination["Properties"]["ConfigurationSetName"] == {"Ref": "EmailConfigurationSet"}
    assert destination["Properties"]["EventDestination"] == {
        "Name": "phone-verify-events", "Enabled": True,
        "MatchingEventTypes": ["bounce", "complaint", "reject", "renderingFailure"],
        "SnsDestination": {"TopicARN": {"Ref": "EmailEventsTopic"}}}
    assert destination["DependsOn"] == ["EmailEventsTopicPolicy"]


def test_the_api_and_cloudformation_names_of_the_email_events_are_the_same_four():
    model = boto3.client("sesv2", region_name=REGION).meta.service_model
    assert set(cr.EMAIL_EVENTS) <= set(model.shape_for("EventType").enum)
    assert [e.replace("_", "").lower() for e in cr.EMAIL_EVENTS] == [e.lower() for e in cr.EMAIL_EVENTS_CFN]


def topic_by_name(name: str) -> dict:
    """What chalice package writes as an SNS event's Topic for a topic name (chalice/package.py
    _generate_snslambdasubscription)."""
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


def chalice_like_template() -> dict:
    """What chalice package writes for the API role and the two @on_sns_message handlers."""
    role = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "ApiHandlerRolePolicy",
                      "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}]}}

    def handler(name: str, topic: str) -> dict:
        return {"Type": "AWS::Serverless::Function", "Properties": {
            "Runtime": "python3.13", "Handler": f"app.{name}", "CodeUri": "s3://bucket/deployment.zip",
            "Role": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]},
            "Events": {f"{cr._cfn_name(name)}SnsSubscription": {
                "Type": "SNS", "Properties": {"Topic": topic_by_name(topic)}}}}}

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "ApiHandlerRole": role,
            "EmailEvents": handler("email_events", VARIABLES["OTP_EMAIL_EVENTS_TOPIC"]),
            "WhatsappEvents": handler("whatsapp_events", VARIABLES["OTP_WHATSAPP_EVENTS_TOPIC"]),
        },
    }


def test_the_channels_lint_clean_with_the_sam_transform_and_subscribe_through_the_stacks_topics():
    from cfnlint.api import lint
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict:
            return {}

    merged = with_channels(VARIABLES, chalice_like_template())
    policy = merged["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert len(policy["Statement"]) == 2
    # In the regions `make package` is run for here (cfn-lint checks the stack's region: SES is
    # not in every region, so lint_all's every-region check would refuse the configuration set).
    matches = [m for m in lint(json.dumps(merged), regions=[REGION, "eu-west-1"])
               if m.rule.id.startswith(("E", "W"))]
    assert matches == [], [str(m) for m in matches]
    resources = transform(json.loads(json.dumps(merged)), {}, NoManagedPolicies())["Resources"]
    subscriptions = sorted(json.dumps(r["Properties"]["TopicArn"]) for r in resources.values()
                           if r["Type"] == "AWS::SNS::Subscription")
    # The stack's own topics, so each subscription waits for its topic (and only it may invoke).
    assert subscriptions == ['{"Fn::Sub": "${EmailEventsTopic}"}',
                             '{"Fn::Sub": "${WhatsAppEventsTopic}"}']
    sources = sorted(json.dumps(r["Properties"]["SourceArn"]) for r in resources.values()
                     if r["Type"] == "AWS::Lambda::Permission")
    assert sources == subscriptions
    # CloudFormation cannot set a WhatsApp Business Account's event destination: the output says how.
    output = merged["Outputs"]["WhatsAppEventsTopicArn"]
    assert output["Value"] == {"Ref": "WhatsAppEventsTopic"}
    assert f"get-linked-whatsapp-business-account-phone-number --id {NUMBER_ID}" in output["Description"]
    assert "put-whatsapp-business-account-event-destinations" in output["Description"]


def test_each_action_is_the_operation_the_adapter_calls():
    """cfn-lint does not check action names: each must be the operation botocore's model has
    for the client the adapter uses (ses: sesv2, social-messaging: socialmessaging)."""
    clients = {"ses": "sesv2", "social-messaging": "socialmessaging"}
    for statement in policy_statements(VARIABLES):
        for action in statement["Action"]:
            prefix, operation = action.split(":")
            model = boto3.client(clients[prefix], region_name=REGION).meta.service_model
            assert operation in model.operation_names, action


def test_the_cli_commands_in_the_output_are_the_models_operations():
    """The command names are the AWS CLI's for the two operations (botocore's names, dashed)."""
    from botocore import xform_name

    operations = boto3.client("socialmessaging", region_name=REGION).meta.service_model.operation_names
    command = cr.waba_command(NUMBER_ID, "arn:aws:sns:us-east-1:1:t")
    for operation in ("GetLinkedWhatsAppBusinessAccountPhoneNumber",
                      "PutWhatsAppBusinessAccountEventDestinations"):
        assert operation in operations and xform_name(operation, "-") in command


# -- make deploy ---------------------------------------------------------------------------------


@pytest.fixture
def clients():
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sesv2 = boto3.client("sesv2", region_name=REGION)
        social = boto3.client("socialmessaging", region_name=REGION)
        with Stubber(sesv2) as ses_stub, Stubber(social) as social_stub:
            yield sns, sesv2, social, ses_stub, social_stub
            ses_stub.assert_no_pending_responses()
            social_stub.assert_no_pending_responses()


def topic_arn(name: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"


def test_deploy_makes_the_topics_with_their_policies_the_configuration_set_and_both_destinations(clients):
    sns, sesv2, social, ses_stub, social_stub = clients
    email_topic, whatsapp_topic = (topic_arn(VARIABLES[n]) for n in ("OTP_EMAIL_EVENTS_TOPIC",
                                                                      "OTP_WHATSAPP_EVENTS_TOPIC"))
    expect_email(ses_stub, "phone-verify-prod-email", email_topic)
    expect_whatsapp(social_stub, REGION, ACCOUNT, whatsapp_topic)
    done = cr.ensure_channel_resources(VARIABLES, sns, sesv2, social)
    assert done == [
        "email: SES configuration set phone-verify-prod-email created",
        f"email: its event destination phone-verify-events publishes BOUNCE, COMPLAINT, REJECT, "
        f"RENDERING_FAILURE to {email_topic}",
        f"whatsapp: {WABA_ID} publishes its events to {whatsapp_topic}"]
    for arn, principal in ((email_topic, "ses.amazonaws.com"),
                           (whatsapp_topic, "social-messaging.amazonaws.com")):
        policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
        assert policy["Statement"] == [{
            "Sid": "PublishFromOwnAccount", "Effect": "Allow", "Principal": {"Service": principal},
            "Action": "sns:Publish", "Resource": arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]


def test_a_second_deploy_keeps_what_exists_and_changes_nothing(clients):
    sns, sesv2, social, ses_stub, social_stub = clients
    email_topic, whatsapp_topic = (topic_arn(VARIABLES[n]) for n in ("OTP_EMAIL_EVENTS_TOPIC",
                                                                      "OTP_WHATSAPP_EVENTS_TOPIC"))
    expect_email(ses_stub, "phone-verify-prod-email", email_topic, exists=True)
    expect_whatsapp(social_stub, REGION, ACCOUNT, whatsapp_topic, current=[whatsapp_topic])  # no put
    done = cr.ensure_channel_resources(VARIABLES, sns, sesv2, social)
    assert done == ["email: SES configuration set phone-verify-prod-email exists (kept)",
                    "email: its event destination phone-verify-events exists (kept as it is)",
                    f"whatsapp: {WABA_ID} already publishes its events to {whatsapp_topic}"]
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [email_topic, whatsapp_topic]


def test_a_business_accounts_own_event_destination_is_kept_with_the_command_to_switch(clients):
    """A WhatsApp Business Account has one event destination (Amazon Connect, another topic):
    `make deploy` does not take it over."""
    sns, sesv2, social, _, social_stub = clients
    theirs = f"arn:aws:sns:{REGION}:{ACCOUNT}:crm-whatsapp"
    ours = topic_arn(VARIABLES["OTP_WHATSAPP_EVENTS_TOPIC"])
    expect_whatsapp(social_stub, REGION, ACCOUNT, ours, current=[theirs])
    whatsapp_only = {k: v for k, v in VARIABLES.items() if not k.startswith(("SES", "OTP_EMAIL"))}
    [line] = cr.ensure_channel_resources(whatsapp_only, sns, sesv2, social)
    assert f"publishes its events to {theirs} (kept)" in line
    assert f"eventDestinationArn={ours}" in line
    assert "put-whatsapp-business-account-event-destinations" in line


def test_an_ses_error_other_than_already_exists_stops_the_deploy(clients):
    from botocore.exceptions import ClientError

    sns, sesv2, social, ses_stub, _ = clients
    # CreateConfigurationSet, "Errors": LimitExceededException, HTTP 400.
    ses_stub.add_client_error("create_configuration_set", "LimitExceededException", "Too many sets.", 400)
    email_only = {k: v for k, v in VARIABLES.items() if "WHATSAPP" not in k and "EUM" not in k}
    with pytest.raises(ClientError, match="LimitExceededException"):
        cr.ensure_channel_resources(email_only, sns, sesv2, social)


def test_the_handlers_are_the_ones_the_app_registers():
    """Their names make the functions' names and log groups (chalice: <app>-<stage>-<handler>)."""
    from chalice import Chalice

    from chalicelib.delivery.channel_routes import channel_event_routes

    app = Chalice("probe")
    app.register_blueprint(channel_event_routes(lambda: None, "e", "w"))
    assert sorted(source.name for source in app.event_sources) == sorted(cr.HANDLERS)
    assert cr.handlers({"OTP_DELIVERY_EVENTS_TOPIC": "d", "OTP_EMAIL_EVENTS_TOPIC": "e"}) == \
        ["delivery_status", "email_events"]
    assert cr.handlers({}) == []


def test_ungranted_names_what_the_policy_file_lacks_and_nothing_it_has():
    statements = policy_statements(VARIABLES, wildcard_arn)
    assert cr.ungranted(VARIABLES, {"Statement": statements}) == []
    assert cr.ungranted(VARIABLES, {"Statement": []}) == statements
    # Another identity, or another condition, is not the grant; no condition at all is (broader).
    email, whatsapp = statements
    other = {**email, "Resource": ["arn:aws:ses:*:*:identity/other.example"]}
    elsewhere = {**email, "Condition": {"StringEquals": {"ses:FromAddress": "other@acme.example"}}}
    assert cr.ungranted(VARIABLES, {"Statement": [other, elsewhere, whatsapp]}) == [email]
    unconditioned = {k: v for k, v in email.items() if k != "Condition"}
    assert cr.ungranted(VARIABLES, {"Statement": [unconditioned, whatsapp]}) == []
    denied = {**whatsapp, "Effect": "Deny"}
    assert cr.ungranted(VARIABLES, {"Statement": [email, denied]}) == [whatsapp]


def test_a_broader_grant_written_by_hand_counts_as_granted():
    """Refusing a deploy whose policy does let the function send would only be in the way."""
    broad = [{"Effect": "Allow", "Action": ["ses:*", "social-messaging:Send*"], "Resource": "*"}]
    assert cr.ungranted(VARIABLES, {"Statement": broad}) == []
    scoped_elsewhere = [{"Effect": "Allow", "Action": "ses:SendEmail",
                         "Resource": "arn:aws:ses:*:*:identity/x.example"}]
    assert len(cr.ungranted(VARIABLES, {"Statement": scoped_elsewhere})) == 2
