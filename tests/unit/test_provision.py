"""make deploy's provisioning, against moto: the table with TTL, PITR and SSE; the secret;
both idempotent; an existing table fixed, never dropped."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from scripts import provision
from scripts.create_table import ensure_table


@pytest.fixture
def aws_clients():
    with mock_aws():
        yield boto3.client("dynamodb"), boto3.client("ssm"), boto3.client("apigateway")


def test_first_deploy_creates_a_protected_table_and_a_secret(aws_clients):
    dynamodb, ssm, _ = aws_clients
    done = provision.before("prod", dynamodb, ssm)
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
    provision.before("prod", dynamodb, ssm)
    secret = ssm.get_parameter(Name="/phone-verify/prod/otp-secret", WithDecryption=True)["Parameter"]["Value"]
    done = provision.before("prod", dynamodb, ssm)
    assert "created table phone-verify-prod" not in done
    assert {"TTL already on expires_at", "point-in-time recovery already on",
            "server-side encryption already on", "secret /phone-verify/prod/otp-secret exists (kept)"} <= set(done)
    again = ssm.get_parameter(Name="/phone-verify/prod/otp-secret", WithDecryption=True)["Parameter"]["Value"]
    assert again == secret  # never overwritten


def test_an_existing_bare_table_is_fixed_and_keeps_its_items(aws_clients):
    dynamodb, ssm, _ = aws_clients
    dynamodb.create_table(TableName="phone-verify-dev", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName="phone-verify-dev", Item={"pk": {"S": "v#keep"}})
    done = provision.before("dev", dynamodb, ssm)
    assert "TTL enabled on expires_at" in done and "point-in-time recovery enabled" in done
    assert dynamodb.get_item(TableName="phone-verify-dev", Key={"pk": {"S": "v#keep"}})["Item"]


def test_a_refused_ttl_change_within_the_hour_is_reported_not_fatal():
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE"}})
        stub.add_response("describe_table", {"Table": {"TableName": "t-table", "TableStatus": "ACTIVE"}})
        stub.add_response("describe_time_to_live", {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
        stub.add_client_error("update_time_to_live", service_error_code="ValidationException",
                              service_message="Time to live has been modified multiple times within a fixed interval")
        done = ensure_table(client, "t-table")
    assert "one TTL change an hour" in done[-1]


def test_after_deploy_sets_stage_throttling(aws_clients, tmp_path, monkeypatch):
    import json

    _, _, apigateway = aws_clients
    api = apigateway.create_rest_api(name="phone-verify")
    root = apigateway.get_resources(restApiId=api["id"])["items"][0]["id"]
    apigateway.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(restApiId=api["id"], resourceId=root, httpMethod="GET", type="MOCK")
    apigateway.create_deployment(restApiId=api["id"], stageName="api")
    deployed = tmp_path / ".chalice" / "deployed"
    deployed.mkdir(parents=True)
    (tmp_path / ".chalice" / "config.json").write_text((provision.ROOT / ".chalice" / "config.json").read_text())
    (deployed / "prod.json").write_text(json.dumps({"resources": [
        {"resource_type": "rest_api", "rest_api_id": api["id"], "rest_api_url": "https://x/api/"}]}))
    monkeypatch.setattr(provision, "ROOT", tmp_path)
    done = provision.after("prod", apigateway)
    stage = apigateway.get_stage(restApiId=api["id"], stageName="api")
    assert stage["methodSettings"]["*/*"]["throttlingRateLimit"] == 100.0
    assert stage["methodSettings"]["*/*"]["throttlingBurstLimit"] == 200
    assert done[0].startswith("API Gateway stage api: throttling 100")
    missing = apigateway.get_gateway_response(restApiId=api["id"], responseType="MISSING_AUTHENTICATION_TOKEN")
    assert missing["statusCode"] == "404"
    assert '"code": "not_found"' in missing["responseTemplates"]["application/json"]
