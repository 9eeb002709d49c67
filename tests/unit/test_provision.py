"""make deploy's provisioning, against moto: the table with TTL, PITR and SSE; the secret;
both idempotent; an existing table fixed, never dropped; after chalice deploy: throttling,
gateway responses put and then deployed, log retention, SNS SMS delivery-status logging."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from scripts.deploy import provision
from scripts.deploy import stage as stage_file
from scripts.deploy.create_table import ensure_table
from scripts.deploy.gateway_settings import GATEWAY_RESPONSES
from scripts.deploy.sms_delivery_logs import SMS_STATUS_ROLE
from tests.unit.helpers import render_gateway_response


@pytest.fixture
def aws_clients():
    with mock_aws():
        yield boto3.client("dynamodb"), boto3.client("ssm"), boto3.client("apigateway")


@pytest.fixture
def deployed_api(aws_clients, tmp_path, monkeypatch):
    """A REST API deployed to stage `api` the way chalice leaves it, and its deployed/prod.json."""
    _, _, apigateway = aws_clients
    api = apigateway.create_rest_api(name="phone-verify")
    root = apigateway.get_resources(restApiId=api["id"])["items"][0]["id"]
    apigateway.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api["id"], resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api["id"], stageName="api")
    deployed = tmp_path / ".chalice" / "deployed"
    deployed.mkdir(parents=True)
    (tmp_path / ".chalice" / "config.json").write_text((stage_file.ROOT / ".chalice" / "config.json").read_text())
    (deployed / "prod.json").write_text(json.dumps({"resources": [
        {"resource_type": "rest_api", "rest_api_id": api["id"], "rest_api_url": "https://x/api/"}]}))
    monkeypatch.setattr(stage_file, "ROOT", tmp_path)
    return api["id"]


def run_after(stage="prod"):
    return provision.after(stage, boto3.client("apigateway"), boto3.client("logs"), boto3.client("iam"),
                           boto3.client("sns"))


def test_first_deploy_creates_a_protected_table_and_a_secret(aws_clients):
    dynamodb, ssm, _ = aws_clients
    done = provision.before("prod", dynamodb, ssm, boto3.client("kms"))
    table = dynamodb.describe_table(TableName="phone-verify-prod")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["SSEDescription"]["Status"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName="phone-verify-prod")["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = dynamodb.describe_continuous_backups(TableName="phone-verify-prod")
    assert backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    secret = ssm.get_parameter(Name="/phone-verify/prod/otp-secret", WithDecryption=True)["Parameter"]
    assert secret["Type"] == "SecureString" and len(secret["Value"]) >= 32
    assert "secret /phone-verify/prod/otp-secret created" in done


def test_a_second_deploy_changes_nothing(aws_clients):
    dynamodb, ssm, _ = aws_clients
    provision.before("prod", dynamodb, ssm, boto3.client("kms"))
    secret = ssm.get_parameter(Name="/phone-verify/prod/otp-secret", WithDecryption=True)["Parameter"]["Value"]
    done = provision.before("prod", dynamodb, ssm, boto3.client("kms"))
    assert "created table phone-verify-prod" not in done
    assert {"TTL already on expires_at", "point-in-time recovery already on",
            "server-side encryption already on", "secret /phone-verify/prod/otp-secret exists (kept)"} <= set(done)
    again = ssm.get_parameter(Name="/phone-verify/prod/otp-secret", WithDecryption=True)["Parameter"]["Value"]
    assert again == secret  # never overwritten


def _value(ssm, name: str) -> str:
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def test_a_new_stage_gets_two_random_unrelated_keys(aws_clients):
    _, ssm, _ = aws_clients
    done = provision.secret("prod", ssm, boto3.client("kms"))
    assert done[:2] == ["secret /phone-verify/prod/otp-identity-key created",
                        "secret /phone-verify/prod/otp-secret created"]
    identity, code = _value(ssm, "/phone-verify/prod/otp-identity-key"), _value(ssm, "/phone-verify/prod/otp-secret")
    assert len(identity) >= 32 and len(code) >= 32 and identity != code  # one key per job from the start
    parameter = ssm.get_parameter(Name="/phone-verify/prod/otp-identity-key")["Parameter"]
    assert parameter["Type"] == "SecureString"


def test_an_existing_stage_gets_its_identity_key_as_a_copy_of_its_secret(aws_clients):
    """A stage deployed before the split: its item keys, SIDs and API keys must not change."""
    _, ssm, _ = aws_clients
    ssm.put_parameter(Name="/phone-verify/prod/otp-secret", Value="o" * 40, Type="SecureString")
    done = provision.secret("prod", ssm, boto3.client("kms"))
    assert done[:2] == ["secret /phone-verify/prod/otp-identity-key created as a copy of /phone-verify/prod/otp-secret "
                        "(item keys, SIDs and API keys unchanged)", "secret /phone-verify/prod/otp-secret exists (kept)"]
    assert _value(ssm, "/phone-verify/prod/otp-identity-key") == "o" * 40
    assert _value(ssm, "/phone-verify/prod/otp-secret") == "o" * 40  # kept


def test_the_identity_key_is_never_overwritten_even_after_the_code_key_rotates(aws_clients):
    _, ssm, _ = aws_clients
    kms = boto3.client("kms")
    provision.secret("prod", ssm, kms)
    identity = _value(ssm, "/phone-verify/prod/otp-identity-key")
    ssm.put_parameter(Name="/phone-verify/prod/otp-secret", Value="r" * 40, Type="SecureString", Overwrite=True)
    assert provision.secret("prod", ssm, kms)[0] == "secret /phone-verify/prod/otp-identity-key exists (kept)"
    assert _value(ssm, "/phone-verify/prod/otp-identity-key") == identity


def test_a_concurrent_deploy_that_made_the_identity_key_first_wins(aws_clients):
    from botocore.stub import Stubber

    from scripts.keys.server_secret import ensure_identity_secret

    _, ssm, _ = aws_clients
    with Stubber(ssm) as stub:
        # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html:
        # ParameterAlreadyExists when Overwrite is false and the name is taken.
        stub.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
        stub.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
        stub.add_client_error("put_parameter", "ParameterAlreadyExists", http_status_code=400)
        line = ensure_identity_secret(ssm, "/phone-verify/prod/otp-identity-key", "/phone-verify/prod/otp-secret")
        stub.assert_no_pending_responses()
    assert line == "secret /phone-verify/prod/otp-identity-key exists (kept)"


def test_an_existing_bare_table_is_fixed_and_keeps_its_items(aws_clients):
    dynamodb, ssm, _ = aws_clients
    dynamodb.create_table(TableName="phone-verify-dev", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName="phone-verify-dev", Item={"pk": {"S": "v#keep"}})
    done = provision.before("dev", dynamodb, ssm, boto3.client("kms"))
    assert "TTL enabled on expires_at" in done and "point-in-time recovery enabled" in done
    assert dynamodb.get_item(TableName="phone-verify-dev", Key={"pk": {"S": "v#keep"}})["Item"]
    # The Attempts list's index, added to a table made before it (chalicelib/verify/attempts.py).
    indexes = dynamodb.describe_table(TableName="phone-verify-dev")["Table"]["GlobalSecondaryIndexes"]
    assert [(i["IndexName"], [k["AttributeName"] for k in i["KeySchema"]]) for i in indexes] == [
        ("attempts", ["ak", "as"])]
    assert "attempts index created (DynamoDB fills it from the existing items)" in done


def test_a_refused_ttl_change_within_the_hour_is_reported_not_fatal():
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE"}})
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE"}})
        stub.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
        stub.add_client_error("update_time_to_live", service_error_code="ValidationException",
                              service_message="Time to live has been modified multiple times within a fixed interval")
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE",
                                                       "StreamSpecification": {"StreamEnabled": True,
                                                                               "StreamViewType": "NEW_AND_OLD_IMAGES"}}})
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE",
                                                       "GlobalSecondaryIndexes": [{"IndexName": "attempts"}]}})
        done = ensure_table(client, "t-table")
    assert "one TTL change an hour" in done[-3] and done[-1] == "attempts index already on"


def test_after_deploy_sets_stage_throttling(deployed_api):
    apigateway = boto3.client("apigateway")
    done = run_after()
    stage = apigateway.get_stage(restApiId=deployed_api, stageName="api")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 200
    assert done[0].startswith("API Gateway stage api: throttling 100")
    missing = apigateway.get_gateway_response(restApiId=deployed_api, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert missing["statusCode"] == "404"
    assert '"code": "not_found"' in missing["responseTemplates"]["application/json"]


BASIC = "Basic U0thYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYjpzM2NyM3Q="  # SKabab...:s3cr3t


def test_no_gateway_response_the_deploy_puts_repeats_the_request(deployed_api):
    """Issue 28 item 3: $context.error.messageString repeats the request's Authorization; every
    answer the deploy puts is a fixed message in the contract's shape, whatever the request."""
    apigateway = boto3.client("apigateway")
    run_after()
    for kind, (status, code, message) in GATEWAY_RESPONSES.items():
        put = apigateway.get_gateway_response(restApiId=deployed_api, responseType=kind)
        template = put["responseTemplates"]["application/json"]
        assert "messageString" not in template and "$" not in template, (kind, template)
        body = render_gateway_response(template, BASIC)
        assert BASIC.split()[1] not in body and json.loads(body) == {"error": {"code": code, "message": message}}
        assert put.get("statusCode") == status


def test_the_access_log_line_repeats_nothing_of_the_requests_credentials():
    """$context.error.message repeats the Authorization header for a path that is no route, as
    messageString does: the access log (a log line per request) must not carry it."""
    from scripts.deploy.access_logs import ACCESS_LOG_FORMAT

    line = render_gateway_response(ACCESS_LOG_FORMAT, BASIC)
    assert "error.message" not in ACCESS_LOG_FORMAT and BASIC.split()[1] not in line
    assert json.loads(line)["errorResponseType"]  # what API Gateway refused is still named


def test_gateway_responses_are_put_before_a_new_deployment_of_the_stage(deployed_api):
    """A gateway response is live only in a deployment made after it (API Gateway deploys a
    snapshot of the API's definition: docs.aws.amazon.com/apigateway/latest/developerguide/
    how-to-deploy-api.html), so the puts must all come before create_deployment."""
    apigateway = boto3.client("apigateway")
    before = apigateway.get_stage(restApiId=deployed_api, stageName="api")["deploymentId"]
    calls = []
    apigateway.meta.events.register("before-call.apigateway.*", lambda model, **_: calls.append(model.name))
    provision.after("prod", apigateway, boto3.client("logs"), boto3.client("iam"), boto3.client("sns"))
    puts = [i for i, name in enumerate(calls) if name == "PutGatewayResponse"]
    assert len(puts) == len(GATEWAY_RESPONSES)
    assert calls.count("CreateDeployment") == 1 and max(puts) < calls.index("CreateDeployment")
    stage = apigateway.get_stage(restApiId=deployed_api, stageName="api")
    assert stage["deploymentId"] != before
    deployments = apigateway.get_deployments(restApiId=deployed_api)["items"]
    assert stage["deploymentId"] in {d["id"] for d in deployments} and len(deployments) == 2


def test_after_deploy_sets_the_log_groups_retention(deployed_api):
    logs = boto3.client("logs")
    done = run_after()
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/phone-verify-prod")["logGroups"]
    assert [(g["logGroupName"], g["retentionInDays"]) for g in groups] == [("/aws/lambda/phone-verify-prod", 30)]
    assert "log group /aws/lambda/phone-verify-prod: retention 30 days" in done
    run_after()  # the group exists now: kept, retention set again
    assert len(logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/phone-verify-prod")["logGroups"]) == 1


def test_log_retention_is_a_per_stage_setting(deployed_api, tmp_path):
    config = json.loads((tmp_path / ".chalice" / "config.json").read_text())
    config["stages"]["prod"]["log_retention_days"] = 90
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    run_after()
    group = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/phone-verify-prod")["logGroups"][0]
    assert group["retentionInDays"] == 90
    config["stages"]["prod"]["log_retention_days"] = 31  # CloudWatch Logs has no 31-day period
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="log_retention_days must be one of"):
        run_after()


def test_after_deploy_turns_on_sns_sms_delivery_status_logging(deployed_api):
    iam, sns = boto3.client("iam"), boto3.client("sns")
    done = run_after()
    role = iam.get_role(RoleName=SMS_STATUS_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    policy = iam.get_role_policy(RoleName=SMS_STATUS_ROLE, PolicyName="sns-delivery-status-logs")
    statement = policy["PolicyDocument"]["Statement"][0]
    assert statement["Resource"] == "arn:aws:logs:*:*:log-group:sns/*"
    attributes = sns.get_sms_attributes()["attributes"]
    assert attributes["DeliveryStatusIAMRole"] == role["Arn"]
    assert attributes["DeliveryStatusSuccessSamplingRate"] == "100"
    assert any(line.startswith("SNS SMS delivery-status logging on") for line in done)
    assert "SNS SMS delivery-status logging already on" in run_after()


def test_an_accounts_own_delivery_status_role_is_kept(deployed_api):
    sns = boto3.client("sns")
    sns.set_sms_attributes(attributes={"DeliveryStatusIAMRole": "arn:aws:iam::123456789012:role/theirs"})
    done = run_after()
    assert sns.get_sms_attributes()["attributes"]["DeliveryStatusIAMRole"] == "arn:aws:iam::123456789012:role/theirs"
    assert any("already uses arn:aws:iam::123456789012:role/theirs (kept)" in line for line in done)


def test_a_stage_without_sns_gets_no_delivery_status_role(deployed_api, tmp_path):
    config = json.loads((tmp_path / ".chalice" / "config.json").read_text())
    config["stages"]["prod"]["environment_variables"]["SMS_PROVIDER"] = "twilio"
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
    run_after()
    assert boto3.client("iam").list_roles()["Roles"] == []


def test_the_secret_step_makes_only_the_secret_and_the_receipt_key(aws_clients):
    dynamodb, ssm, _ = aws_clients
    kms = boto3.client("kms")
    assert provision.secret("prod", ssm, kms) == [
        "secret /phone-verify/prod/otp-identity-key created",
        "secret /phone-verify/prod/otp-secret created",
        "receipt key alias/phone-verify-prod-receipts ready (kept forever)",
        "TOTP key alias/phone-verify-prod-totp ready (kept forever)"]
    assert dynamodb.list_tables()["TableNames"] == []  # the stack's own table must not clash with one made here
    key = kms.describe_key(KeyId="alias/phone-verify-prod-receipts")["KeyMetadata"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    assert provision.secret("prod", ssm, kms)[:2] == ["secret /phone-verify/prod/otp-identity-key exists (kept)",
                                                      "secret /phone-verify/prod/otp-secret exists (kept)"]
    totp = kms.describe_key(KeyId="alias/phone-verify-prod-totp")["KeyMetadata"]
    assert (totp["KeySpec"], totp["KeyUsage"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert len(kms.list_keys()["Keys"]) == 2  # the second run made no more keys


def _without_region(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "HOME": str(tmp_path), "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}


def test_no_region_stops_with_a_message_naming_the_variable(tmp_path):
    provision_py = str(stage_file.ROOT / "scripts" / "deploy" / "provision.py")
    result = subprocess.run([sys.executable, provision_py, "region"],
                            env=_without_region(tmp_path), capture_output=True, text=True)
    assert result.returncode != 0
    assert "No AWS region configured" in result.stderr and "AWS_DEFAULT_REGION" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("source", [{"AWS_DEFAULT_REGION": "eu-west-1"}, {"AWS_REGION": "eu-west-1"}, "profile"])
def test_the_region_comes_from_the_aws_configuration(tmp_path, source):
    env = _without_region(tmp_path)
    if source == "profile":
        (tmp_path / "config").write_text("[default]\nregion = eu-west-1\n")
        env["AWS_CONFIG_FILE"] = str(tmp_path / "config")
    else:
        env.update(source)
    provision_py = str(stage_file.ROOT / "scripts" / "deploy" / "provision.py")
    result = subprocess.run([sys.executable, provision_py, "region"],
                            env=env, capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, "eu-west-1"), result.stderr


def test_the_origination_number_placeholder_counts_as_unset():
    """dev and prod carry SNS_ORIGINATION_NUMBER="" as a placeholder; empty means not set."""
    from chalicelib.config import Config

    variables = dict(provision.stage_variables("prod"))
    assert variables["SNS_ORIGINATION_NUMBER"] == ""
    assert "origination_number" not in Config.from_env(variables).provider_settings.get("sns", {})
    variables["SNS_ORIGINATION_NUMBER"] = "+12065550100"
    assert Config.from_env(variables).provider_settings["sns"]["origination_number"] == "+12065550100"


def test_a_stage_with_events_gets_its_failed_records_queue_and_alarm_before_chalice_deploy(aws_clients, monkeypatch):
    dynamodb, ssm, _ = aws_clients
    original = provision.stage_variables
    monkeypatch.setattr(provision, "stage_variables",
                        lambda stage: {**original(stage), "OTP_EVENTS_URL": "https://backend.example.com/hooks"})
    sqs, cloudwatch = boto3.client("sqs"), boto3.client("cloudwatch")
    done = provision.before("prod", dynamodb, ssm, boto3.client("kms"), sqs, cloudwatch)
    assert any(line.startswith("events: failed-records queue") for line in done)
    assert sqs.get_queue_url(QueueName="phone-verify-prod-events-failed")["QueueUrl"]
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["phone-verify-prod-events-failed"])["MetricAlarms"]
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "phone-verify-prod-events-failed"}]
    provision.before("prod", dynamodb, ssm, boto3.client("kms"), sqs, cloudwatch)  # idempotent
    assert len(sqs.list_queues()["QueueUrls"]) == 1
    # What make deploy hands chalice deploy: the table's stream, on with both images.
    arn = provision.events_stream("prod", dynamodb)
    table = dynamodb.describe_table(TableName="phone-verify-prod")["Table"]
    assert arn == table["LatestStreamArn"] and table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_a_stage_without_events_makes_no_queue_and_names_no_stream(aws_clients):
    dynamodb, ssm, _ = aws_clients
    sqs = boto3.client("sqs")
    provision.before("prod", dynamodb, ssm, boto3.client("kms"), sqs)
    assert sqs.list_queues().get("QueueUrls", []) == []
    assert provision.events_stream("prod", dynamodb) == ""


def test_an_existing_table_without_a_stream_gets_one(aws_clients):
    dynamodb, _, _ = aws_clients
    dynamodb.create_table(TableName="by-hand", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    assert "stream on (NEW_AND_OLD_IMAGES)" in ensure_table(dynamodb, "by-hand")
    assert "stream already on (NEW_AND_OLD_IMAGES)" in ensure_table(dynamodb, "by-hand")


# -- API Gateway access logs (issue 22 item 9): a stage option ---------------------------------


def _access_logs(tmp_path, on: bool) -> None:
    config = json.loads((tmp_path / ".chalice" / "config.json").read_text())
    config["stages"]["prod"]["api_access_logs"] = on
    (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))


def test_access_logs_on_set_the_account_role_a_retained_group_and_the_stage(deployed_api, tmp_path):
    from scripts.deploy import access_logs

    apigateway, iam = boto3.client("apigateway"), boto3.client("iam")
    assert "accessLogSettings" not in apigateway.get_stage(restApiId=deployed_api, stageName="api") or \
        not apigateway.get_stage(restApiId=deployed_api, stageName="api")["accessLogSettings"]
    _access_logs(tmp_path, True)
    done = run_after()
    role = iam.get_role(RoleName=access_logs.ACCOUNT_ROLE)["Role"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert apigateway.get_account()["cloudwatchRoleArn"] == role["Arn"]
    group = boto3.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/apigateway/phone-verify-prod-access")["logGroups"][0]
    assert group["retentionInDays"] == 30
    settings = apigateway.get_stage(restApiId=deployed_api, stageName="api")["accessLogSettings"]
    assert settings["destinationArn"] == \
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/apigateway/phone-verify-prod-access"
    assert json.loads(settings["format"])["errorResponseType"] == "$context.error.responseType"
    assert any(line.startswith("API Gateway access log on") for line in done)
    run_after()  # idempotent: nothing new
    assert len(iam.list_roles()["Roles"]) == 2  # this role and the SNS delivery-status one


def test_an_accounts_own_api_gateway_role_is_kept(deployed_api, tmp_path):
    apigateway = boto3.client("apigateway")
    apigateway.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/theirs"}])
    _access_logs(tmp_path, True)
    done = run_after()
    assert apigateway.get_account()["cloudwatchRoleArn"] == "arn:aws:iam::123456789012:role/theirs"
    assert any("role/theirs (kept)" in line for line in done)


def test_access_logs_off_again_keep_the_log_group(deployed_api, tmp_path):
    """Called directly: moto drops a stage's settings on each new deployment (provision.after
    deploys first), where API Gateway keeps them, so only the step itself shows the removal."""
    from scripts.deploy import access_logs

    apigateway, logs = boto3.client("apigateway"), boto3.client("logs")
    _access_logs(tmp_path, True)
    run_after()
    done = access_logs.ensure_access_logging(
        False, apigateway, boto3.client("iam"), logs, deployed_api, "api",
        "/aws/apigateway/phone-verify-prod-access", 30, "aws")
    assert not apigateway.get_stage(restApiId=deployed_api, stageName="api").get("accessLogSettings")
    assert logs.describe_log_groups(logGroupNamePrefix="/aws/apigateway/phone-verify-prod-access")["logGroups"]
    assert any("access log off" in line for line in done)


# -- issue 24: the WhatsApp and email channels (scripts/deploy/channel_resources.py)


def with_grants(tmp_path, monkeypatch, grants: bool = True) -> None:
    """A project whose policy-prod.json has (or lacks) the channels' statements, as the docs say."""
    from scripts.deploy.channel_resources import policy_statements, wildcard_arn
    from tests.unit.test_channel_resources import VARIABLES

    (tmp_path / ".chalice").mkdir(exist_ok=True)
    policy = json.loads((stage_file.ROOT / ".chalice" / "policy-prod.json").read_text())
    if grants:
        policy["Statement"] += policy_statements(VARIABLES, wildcard_arn)
    (tmp_path / ".chalice" / "policy-prod.json").write_text(json.dumps(policy))
    (tmp_path / ".chalice" / "config.json").write_text((stage_file.ROOT / ".chalice" / "config.json").read_text())
    monkeypatch.setattr(stage_file, "ROOT", tmp_path)


def test_a_stage_with_the_channels_gets_their_topics_before_chalice_deploy_subscribes_to_them(aws_clients,
                                                                                               monkeypatch,
                                                                                               tmp_path):
    from tests.unit.channel_fakes import expect_email, expect_whatsapp
    from tests.unit.test_channel_resources import VARIABLES

    dynamodb, ssm, _ = aws_clients
    original = provision.stage_variables
    monkeypatch.setattr(provision, "stage_variables", lambda stage: {**original(stage), **VARIABLES})
    with_grants(tmp_path, monkeypatch)
    sns, sesv2, social = boto3.client("sns"), boto3.client("sesv2"), boto3.client("socialmessaging")
    topics = [f"arn:aws:sns:us-east-1:123456789012:{VARIABLES[name]}"
              for name in ("OTP_EMAIL_EVENTS_TOPIC", "OTP_WHATSAPP_EVENTS_TOPIC")]
    with Stubber(sesv2) as ses_stub, Stubber(social) as social_stub:
        expect_email(ses_stub, VARIABLES["SES_CONFIGURATION_SET"], topics[0])
        expect_whatsapp(social_stub, "us-east-1", "123456789012", topics[1])
        done = provision.before("prod", dynamodb, ssm, boto3.client("kms"), None, None, sns, sesv2, social)
        ses_stub.assert_no_pending_responses()
        social_stub.assert_no_pending_responses()
    assert sorted(t["TopicArn"] for t in sns.list_topics()["Topics"]) == topics
    assert done[-3:][0] == f"email: SES configuration set {VARIABLES['SES_CONFIGURATION_SET']} created"
    assert done[-1].startswith("whatsapp: waba-") and done[-1].endswith(topics[1])


def test_after_deploy_sets_the_retention_of_each_sns_handlers_log_group(deployed_api, monkeypatch):
    from tests.unit.test_channel_resources import VARIABLES

    original = provision.stage_variables
    monkeypatch.setattr(provision, "stage_variables", lambda stage: {
        **original(stage), **VARIABLES, "OTP_DELIVERY_EVENTS_TOPIC": "phone-verify-prod-delivery-events"})
    run_after()
    groups = boto3.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/phone-verify-prod-")["logGroups"]
    assert sorted((g["logGroupName"], g["retentionInDays"]) for g in groups) == [
        (f"/aws/lambda/phone-verify-prod-{handler}", 30)
        for handler in ("delivery_status", "email_events", "whatsapp_events")]


def test_a_stage_whose_function_may_not_send_on_its_channels_is_refused_before_anything_is_made(aws_clients,
                                                                                                 monkeypatch,
                                                                                                 tmp_path):
    """Deployed without the grants, every WhatsApp and email send would be AccessDenied."""
    from tests.unit.test_channel_resources import VARIABLES

    dynamodb, ssm, _ = aws_clients
    original = provision.stage_variables
    monkeypatch.setattr(provision, "stage_variables", lambda stage: {**original(stage), **VARIABLES})
    with_grants(tmp_path, monkeypatch, grants=False)
    sns = boto3.client("sns")
    with pytest.raises(SystemExit, match="policy-prod.json does not grant") as refused:
        provision.before("prod", dynamodb, ssm, boto3.client("kms"), None, None, sns, None, None)
    assert "ses:SendEmail" in str(refused.value) and "social-messaging:SendWhatsAppMessage" in str(refused.value)
    assert sns.list_topics()["Topics"] == []
