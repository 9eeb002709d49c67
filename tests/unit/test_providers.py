"""The SNS provider against moto, the console provider, and the registry."""

from __future__ import annotations

import io

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib.phone import parse_phone_number
from chalicelib.providers import ProviderError, load_provider

PHONE = parse_phone_number("+14155552671", "US")


def test_sns_publishes_a_transactional_sms(aws):
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    provider = load_provider("sns", client=boto3.client("sns"), sender_id="Acme")
    message_id = provider.send_sms(PHONE, "Your code is 123456")
    messages = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages
    assert messages[message_id] == ("+14155552671", "Your code is 123456")


def test_sns_sends_the_transactional_type_and_sender_id():
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "m-1"},
            {
                "PhoneNumber": "+14155552671",
                "Message": "hi",
                "MessageAttributes": {
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                    "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Acme"},
                },
            },
        )
        assert load_provider("sns", client=client, sender_id="Acme").send_sms(PHONE, "hi") == "m-1"


@pytest.mark.parametrize(
    "code,permanent", [("InvalidParameter", True), ("OptedOut", True), ("Throttling", False),
                       ("InternalError", False), ("KMSThrottling", False)]
)
def test_sns_failures_are_classified(code, permanent):
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=400)
        with pytest.raises(ProviderError) as info:
            load_provider("sns", client=client).send_sms(PHONE, "hi")
    assert info.value.permanent is permanent and info.value.detail == code


def test_sns_stage_delivers_through_moto(aws, monkeypatch):
    import json

    from chalice.test import Client
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    import app as app_module
    from tests.conftest import ROOT

    monkeypatch.setenv("SMS_PROVIDER", "sns")
    app_module.get_service.cache_clear()
    assert app_module.get_service()._provider.name == "sns"  # built now, cached for the request
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        response = c.http.post(
            "/v1/verifications", headers={"content-type": "application/json"},
            body=json.dumps({"to": "+14155552671"}),
        )
    assert response.status_code == 201
    (sent,) = sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()
    assert sent[0] == "+14155552671" and "verification code is" in sent[1]


def test_console_provider_writes_the_message_and_keeps_it():
    from chalicelib.providers.console import OUTBOX

    stream = io.StringIO()
    message_id = load_provider("console", stream=stream).send_sms(PHONE, "Your code is 123456")
    assert "Your code is 123456" in stream.getvalue()
    assert OUTBOX[0]["id"] == message_id and OUTBOX[0]["to"] == "+14155552671"


def test_secret_comes_from_ssm_securestring(aws):
    from chalicelib.config import Config
    from chalicelib.server_secret import load_server_secret

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/phone-verify/test/otp-secret", Value="x" * 40, Type="SecureString")
    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns",
         "OTP_SECRET_PARAMETER": "/phone-verify/test/otp-secret"}
    )
    assert load_server_secret(config, lambda: ssm) == b"x" * 40


def test_missing_ssm_secret_is_a_configuration_error_naming_the_variable(aws):
    from chalicelib.config import Config, ConfigError
    from chalicelib.server_secret import load_server_secret

    config = Config.from_env(
        {"OTP_TABLE_NAME": "t-table", "OTP_STAGE": "prod", "SMS_PROVIDER": "sns",
         "OTP_SECRET_PARAMETER": "/nope"}
    )
    with pytest.raises(ConfigError, match="OTP_SECRET_PARAMETER"):
        load_server_secret(config, lambda: boto3.client("ssm"))
