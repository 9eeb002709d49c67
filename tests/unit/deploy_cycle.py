"""Every AWS call a deployer's make targets make, recorded against moto, as (IAM action, ARN).

A copy of the project runs, in-process: `make secret` (provision secret), `make deploy`
(provision before, chalice deploy, provision after) three times with the stage's settings
varied the way a user may vary them (reserved concurrency, tags, API Gateway access logs,
events, End User Messaging's delivery topic, and the WhatsApp and email channels on, then off
again), `make package` (chalice package: no AWS call at all) and `make destroy` (chalice
delete, then the dashboard). Every botocore call goes through BaseClient._make_api_call, which
records it; moto answers, except SES v2's event destinations and End User Messaging Social, which moto 5.2.5
lacks: botocore's Stubber answers those in their documented shapes (tests/unit/channel_fakes.py).
"""

from __future__ import annotations

import os
import sys

import json
import shutil
from pathlib import Path
from typing import Any, Iterator

import botocore.client
from botocore.stub import Stubber

from tests.conftest import ROOT
from tests.unit.channel_fakes import NUMBER_ID, expect_email, expect_whatsapp

REGION, ACCOUNT = "us-east-1", "123456789012"  # moto's defaults
# sts:GetCallerIdentity needs no permission ("No permissions are required to perform this
# operation": docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
NO_PERMISSION = {"sts:GetCallerIdentity"}


def channel_variables(stage: str) -> dict[str, str]:
    """WhatsApp through End User Messaging Social and email through SES, with their topics."""
    return {
        "OTP_EMAIL_PROVIDER": "ses", "SES_FROM": "verify@example.com",
        "SES_CONFIGURATION_SET": f"phone-verify-{stage}-email",
        "OTP_EMAIL_EVENTS_TOPIC": f"phone-verify-{stage}-email-events",
        "OTP_WHATSAPP_PROVIDER": "end-user-messaging-social",
        "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID": NUMBER_ID,
        "OTP_WHATSAPP_EVENTS_TOPIC": f"phone-verify-{stage}-whatsapp-events",
    }


def _uri_path(operation: Any, params: dict) -> str:
    path = operation.http["requestUri"].split("?")[0]
    for name, shape in operation.input_shape.members.items():
        if shape.serialization.get("location") == "uri" and name in params:
            location = shape.serialization["name"]
            path = path.replace("{%s}" % location, str(params[name])).replace("{%s+}" % location, str(params[name]))
    return path


def _function_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def permissions(service: str, operation: Any, params: dict) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one call is authorized against. API Gateway's
    actions are HTTP verbs on resource paths (docs.aws.amazon.com/apigateway/latest/
    developerguide/apigateway-iam-policy-resource-format-for-managing-api.html); passing a role
    to Lambda or SNS is iam:PassRole on the role."""
    name = operation.name
    if service == "apigateway":
        found = [(f"apigateway:{operation.http['method']}", f"arn:aws:apigateway:{REGION}::{_uri_path(operation, params)}")]
        # Setting the account's CloudWatch role passes that role to API Gateway
        # (docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html, "iam:PassRole").
        found += [("iam:PassRole", op["value"]) for op in params.get("patchOperations", [])
                  if op.get("path") == "/cloudwatchRoleArn"]
        return found
    action = f"{service}:{name}"
    if service == "iam":
        return [(action, f"arn:aws:iam::{ACCOUNT}:role/{params['RoleName']}")]
    if service == "lambda" and "EventSourceMapping" in name:
        # docs.aws.amazon.com/lambda/latest/dg/lambda-api-permissions-ref.html: an existing mapping
        # is its own resource (event-source-mapping:UUID); creating and listing name none ("*"),
        # creating is scoped by the condition key lambda:FunctionArn instead.
        if "UUID" in params:
            return [(action, f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{params['UUID']}")]
        return [(action, "*")]
    if service == "lambda":
        found = [(action, _function_arn(params.get("FunctionName") or params["Resource"]))]
        if "Role" in params:  # CreateFunction, UpdateFunctionConfiguration
            found.append(("iam:PassRole", params["Role"]))
        return found
    if service == "dynamodb":
        return [(action, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}")]
    if service == "ssm":
        return [(action, f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{params['Name']}")]
    if service == "logs":
        return [(action, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{params['logGroupName']}")]
    if service == "sns" and "TopicArn" in params:  # a subscription to a topic, a topic's policy
        return [(action, params["TopicArn"])]
    if service == "sns" and name == "CreateTopic":  # the topic it names
        return [(action, f"arn:aws:sns:{REGION}:{ACCOUNT}:{params['Name']}")]
    if service == "ses":  # SES v2: the configuration set (Service Authorization Reference, list_sesv2)
        name = params["ConfigurationSetName"]
        return [(action, f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{name}")]
    if service == "social-messaging":  # list_socialmessaging: phone-number-id/<id>, waba/<id>
        kind, _, resource_id = params["id"].rpartition("-")
        return [(action, f"arn:aws:social-messaging:{REGION}:{ACCOUNT}:{kind}/{resource_id}")]
    if service == "sns" and "SubscriptionArn" in params:  # authorized on its topic
        return [(action, params["SubscriptionArn"].rsplit(":", 1)[0])]
    if service == "sns":  # the SMS attributes are the account's: no resource
        found = [(action, "*")]
        role = params.get("attributes", {}).get("DeliveryStatusIAMRole")
        if role:
            found.append(("iam:PassRole", role))
        return found
    if service == "sqs":  # the queue's ARN, from its name or its URL (.../account/name)
        queue = params.get("QueueName") or params["QueueUrl"].rsplit("/", 1)[-1]
        return [(action, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")]
    if service == "monitoring" and "Dashboard" in name:  # arn:aws:cloudwatch::account:dashboard/name
        # (docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html: no region)
        names = params.get("DashboardNames") or [params["DashboardName"]]
        return [(f"cloudwatch:{name}", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{n}") for n in names]
    if service == "monitoring":  # CloudWatch's signing name; alarms are named resources
        return [(f"cloudwatch:{name}", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{params['AlarmName']}")]
    if service == "kms":  # docs.aws.amazon.com/kms/latest/developerguide/kms-api-permissions-reference.html
        if name == "CreateKey":  # no resource yet; Tags need kms:TagResource too
            return [(action, "*")] + ([("kms:TagResource", "*")] if params.get("Tags") else [])
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"  # an alias resolves to a key the caller names
        if name == "CreateAlias":  # authorized on the alias and on the key
            return [(action, f"arn:aws:kms:{REGION}:{ACCOUNT}:{params['AliasName']}"), (action, key)]
        return [(action, key)]
    return [(action, "*")]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._original = botocore.client.BaseClient._make_api_call

    def __enter__(self) -> "Recorder":
        original, calls = self._original, self.calls

        def record(client: Any, operation_name: str, params: dict) -> Any:
            model = client.meta.service_model
            operation = model.operation_model(operation_name)
            prefix = model.signing_name if model.service_name != "apigateway" else "apigateway"
            calls.extend(permissions(prefix, operation, params))
            return original(client, operation_name, params)

        botocore.client.BaseClient._make_api_call = record
        return self

    def __exit__(self, *exc: object) -> None:
        botocore.client.BaseClient._make_api_call = self._original


def project_copy(target: Path) -> Path:
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "chalicelib", target / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    # .chalice/deployments is chalice's cache of built dependencies (saves a pip run); deployed/ is not copied.
    shutil.copytree(ROOT / ".chalice", target / ".chalice", ignore=shutil.ignore_patterns("deployed"))
    return target


def _moto_imports_swagger() -> Iterator[None]:
    """moto 5.2.5 imports only OpenAPI 3 documents with an info.description (moto/apigateway/
    models.py import_rest_api, put_rest_api); chalice sends Swagger 2.0. The calls chalice
    makes are unchanged: only moto's parsing of the body is helped along."""
    from moto.apigateway.models import APIGatewayBackend

    real_put, real_import = APIGatewayBackend.put_rest_api, APIGatewayBackend.import_rest_api

    def put(self, function_id, api_doc, fail_on_warnings, mode="merge"):
        if "swagger" in api_doc:
            api_doc = {**{k: v for k, v in api_doc.items() if k != "swagger"}, "openapi": "3.0.1"}
            fail_on_warnings = False
        return real_put(self, function_id, api_doc, fail_on_warnings, mode)

    def import_(self, api_doc, fail_on_warnings):
        api_doc["info"].setdefault("description", "")
        return real_import(self, api_doc, fail_on_warnings)

    APIGatewayBackend.put_rest_api, APIGatewayBackend.import_rest_api = put, import_
    try:
        yield
    finally:
        APIGatewayBackend.put_rest_api, APIGatewayBackend.import_rest_api = real_put, real_import


def _chalice(project: Path, *args: str, environ: dict[str, str] | None = None) -> str:
    from chalice.cli import cli
    from click.testing import CliRunner

    # Chalice loads the app with the stage's variables put into os.environ (prod's
    # OTP_ALLOWED_COUNTRIES, say) and leaves them there: restore the process's environment,
    # or every later test in this process runs with the stage's settings.
    saved = dict(os.environ)
    os.environ.update(environ or {})
    # Chalice imports `app` (importlib.import_module): the copy's, read with the stage's
    # variables (its event handlers are bound at import), not one this process imported before.
    imported = sys.modules.pop("app", None)
    try:
        result = CliRunner().invoke(cli, ["--project-dir", str(project), *args], obj={}, catch_exceptions=False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        sys.modules.pop("app", None)
        if imported is not None:
            sys.modules["app"] = imported
    assert result.exit_code == 0, result.output
    return result.output


def run_cycle(project: Path, stage: str, monkeypatch: Any) -> dict[str, list[tuple[str, str]]]:
    """The recorded calls of each make target, for ``stage``, in a copy of the project."""
    import boto3
    from moto import mock_aws

    from scripts.deploy import provision
    from scripts.deploy import stage as stage_file
    from scripts.deploy.channel_resources import policy_statements, wildcard_arn

    monkeypatch.setattr(stage_file, "ROOT", project)
    config_file = project / ".chalice" / "config.json"
    configured = config_file.read_text()
    varied = json.loads(configured)
    varied["stages"][stage].update(reserved_concurrency=5, tags={"owner": "verify-team"}, api_access_logs=True)
    # ... and events on (docs/events.md): the stream's consumer, its mapping and failed-records queue.
    varied["stages"][stage]["environment_variables"].update(
        OTP_EVENTS_URL="https://backend.example.com/hooks",
        OTP_EVENTS_SECRET_PARAMETER=f"/phone-verify/{stage}/events-secret",
        # End User Messaging's delivery events: the configuration set's topic (the user's own).
        OTP_DELIVERY_EVENTS_TOPIC=f"phone-verify-{stage}-delivery-events",
        # ... and the channels (docs/channels.md): their topics and SES's configuration set.
        **channel_variables(stage))
    policy_file = project / ".chalice" / f"policy-{stage}.json"
    policy = policy_file.read_text()
    granted = json.loads(policy)
    granted["Statement"] += policy_statements(channel_variables(stage), wildcard_arn)
    recorded: dict[str, list[tuple[str, str]]] = {}

    def clients(*names: str) -> list[Any]:
        return [boto3.client(name, region_name=REGION) for name in names]

    # moto has no sesv2 event destinations nor socialmessaging: the one deploy with the channels
    # on makes these calls, answered as documented (a first deploy: nothing exists yet).
    sesv2, social = clients("sesv2", "socialmessaging")
    ses_stub, social_stub = Stubber(sesv2), Stubber(social)
    channels = channel_variables(stage)
    expect_email(ses_stub, channels["SES_CONFIGURATION_SET"],
                 f"arn:aws:sns:{REGION}:{ACCOUNT}:{channels['OTP_EMAIL_EVENTS_TOPIC']}")
    expect_whatsapp(social_stub, REGION, ACCOUNT,
                    f"arn:aws:sns:{REGION}:{ACCOUNT}:{channels['OTP_WHATSAPP_EVENTS_TOPIC']}")

    def deploy() -> None:  # as the Makefile's deploy target
        provision.before(stage, *clients("dynamodb", "ssm", "kms", "sqs", "cloudwatch", "sns"), sesv2, social)
        stream = provision.events_stream(stage, *clients("dynamodb"))
        _chalice(project, "deploy", "--stage", stage, environ={"OTP_EVENTS_STREAM_ARN": stream})
        provision.after(stage, *clients("apigateway", "logs", "iam", "sns"), "aws",
                        *clients("lambda", "dynamodb", "sqs", "cloudwatch"))

    variables = provision.stage_variables(stage)
    with mock_aws():
        boto3.client("sns", region_name=REGION).create_topic(Name=f"phone-verify-{stage}-delivery-events")
        patch = _moto_imports_swagger()
        next(patch)
        ses_stub.activate()
        social_stub.activate()
        try:
            with Recorder() as r:
                deploy()  # first deploy on an empty account: everything created
                config_file.write_text(json.dumps(varied))
                policy_file.write_text(json.dumps(granted))  # the channels' sends, as docs/channels.md says
                deploy()  # reserved concurrency and tags turned on
                config_file.write_text(configured)
                policy_file.write_text(policy)
                deploy()  # and off again
            recorded["deploy"] = r.calls
            with Recorder() as r:
                _chalice(project, "package", "--stage", stage, str(project / "build"))
            recorded["package"] = r.calls
            with Recorder() as r:
                _chalice(project, "delete", "--stage", stage)
                provision.destroy(stage, *clients("cloudwatch"))  # as the Makefile's destroy target
            recorded["destroy"] = r.calls
            # A second account's story: a table made by hand (no PITR, no SSE) and no secret yet.
            dynamodb, ssm = clients("dynamodb", "ssm")
            dynamodb.delete_table(TableName=variables["OTP_TABLE_NAME"])
            dynamodb.get_waiter("table_not_exists").wait(TableName=variables["OTP_TABLE_NAME"])
            dynamodb.create_table(TableName=variables["OTP_TABLE_NAME"], BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
            ssm.delete_parameter(Name=variables["OTP_SECRET_PARAMETER"])
            ssm.delete_parameter(Name=variables["OTP_IDENTITY_SECRET_PARAMETER"])
            with Recorder() as r:
                provision.secret(stage, *clients("ssm", "kms"))
            recorded["secret"] = r.calls
            with Recorder() as r:
                deploy()
            recorded["deploy"] += r.calls
            ses_stub.assert_no_pending_responses()
            social_stub.assert_no_pending_responses()
        finally:
            ses_stub.deactivate()
            social_stub.deactivate()
            next(patch, None)
    return recorded
