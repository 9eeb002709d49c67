"""scripts/channel_resources.py: the function may send email from its own identity and
WhatsApp from its own number, nothing else; the statements lint clean with the SAM transform
in a template like `make package`'s (the SNS triggers of the channel events included)."""

from __future__ import annotations

import json

import pytest

from scripts.channel_resources import policy_statements, wildcard_arn, with_channels

VARIABLES = {
    "OTP_EMAIL_PROVIDER": "ses", "SES_FROM": "Acme <Verify@Acme.example>",
    "SES_CONFIGURATION_SET": "verify-events",
    "OTP_WHATSAPP_PROVIDER": "end-user-messaging-social,meta",
    "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID": "phone-number-id-976c72a700aac43eaf573ae050example",
}


def test_nothing_is_granted_without_the_channels():
    assert policy_statements({"SMS_PROVIDER": "sns"}) == []
    assert policy_statements({"OTP_WHATSAPP_PROVIDER": "meta", "OTP_EMAIL_PROVIDER": "console"}) == []


def test_send_email_on_the_from_identities_and_the_configuration_set_only():
    email, whatsapp = policy_statements(VARIABLES, wildcard_arn)
    assert email["Action"] == ["ses:SendEmail"]
    assert email["Resource"] == ["arn:aws:ses:*:*:identity/verify@acme.example",
                                 "arn:aws:ses:*:*:identity/acme.example",
                                 "arn:aws:ses:*:*:configuration-set/verify-events"]
    assert email["Condition"] == {"StringEquals": {"ses:FromAddress": "verify@acme.example"}}
    assert whatsapp["Action"] == ["social-messaging:SendWhatsAppMessage"]
    number = "arn:aws:social-messaging:*:*:phone-number-id/976c72a700aac43eaf573ae050example"
    assert whatsapp["Resource"] == [number]
    assert all("*" not in json.dumps(s["Action"]) for s in (email, whatsapp))


@pytest.mark.parametrize("missing", ["SES_FROM", "SES_CONFIGURATION_SET",
                                     "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID"])
def test_a_missing_identity_stops_the_package(missing):
    with pytest.raises(SystemExit, match=missing):
        policy_statements({k: v for k, v in VARIABLES.items() if k != missing})


def topic(name: str) -> dict:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{name}"}


def test_the_statements_lint_clean_with_the_sam_transform():
    from cfnlint.api import lint_all

    role = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "ApiHandlerRolePolicy",
                      "PolicyDocument": {"Version": "2012-10-17", "Statement": []}}]}}
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Resources": {
            "ApiHandlerRole": role,
            "ApiHandler": {"Type": "AWS::Serverless::Function", "Properties": {
                "Runtime": "python3.13", "Handler": "app.app", "CodeUri": "s3://bucket/deployment.zip",
                "Role": {"Fn::GetAtt": ["ApiHandlerRole", "Arn"]},
                # What chalice package writes for the two @on_sns_message handlers.
                "Events": {"EmailEvents": {"Type": "SNS", "Properties": {"Topic": topic("email-events")}},
                           "WhatsAppEvents": {"Type": "SNS", "Properties": {"Topic": topic("wa-events")}}},
            }},
        },
    }
    merged = with_channels(VARIABLES, template)
    policy = merged["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert len(policy["Statement"]) == 2
    matches = [m for m in lint_all(json.dumps(merged)) if m.rule.id.startswith(("E", "W"))]
    assert matches == [], [str(m) for m in matches]


def test_each_action_is_the_operation_the_adapter_calls():
    """cfn-lint does not check action names: each must be the operation botocore's model has
    for the client the adapter uses (ses: sesv2, social-messaging: socialmessaging)."""
    import boto3

    clients = {"ses": "sesv2", "social-messaging": "socialmessaging"}
    for statement in policy_statements(VARIABLES):
        for action in statement["Action"]:
            prefix, operation = action.split(":")
            model = boto3.client(clients[prefix], region_name="us-east-1").meta.service_model
            assert operation in model.operation_names, action
