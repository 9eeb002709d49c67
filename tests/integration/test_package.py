"""`make package`'s template: chalice package merged with the table, the log group and the
alarms, linted by cfn-lint, on the Lambda's own runtime; SAM's transform of it (run offline
with samtranslator) has one throttled stage and the gateway responses in the API's body; the
deployment zip stays under 2 MB (the bar since issue 34; the cold start, measured by `make bench`,
is the real one). Also: the region check, the runtime and find_python.sh."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LIMIT = 2_000_000
LAMBDA_PYTHONS = {(3, 13): "python3.13", (3, 12): "python3.12"}


def _make_package(build: Path, env: dict[str, str], stage: str = "prod",
                  cwd: Path = ROOT) -> subprocess.CompletedProcess:
    # -o: the .venv is taken as it is (tests run inside it; make test built it).
    return subprocess.run(["make", "-s", "-o", ".venv/.installed-al2023", "package", f"STAGE={stage}",
                           f"BUILD={build}"], cwd=cwd, env=env, capture_output=True, text=True)


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTP_ALARM"))}
    return {**env, "HOME": str(home), "AWS_CONFIG_FILE": str(home / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "none")}


@pytest.fixture(scope="module")
def packaged(tmp_path_factory) -> dict:
    build = tmp_path_factory.mktemp("prod")
    env = {**_clean_env(build), "AWS_DEFAULT_REGION": "eu-west-1", "OTP_ALARM_EMAIL": "ops@example.com"}
    result = _make_package(build, env)
    assert result.returncode == 0, result.stdout + result.stderr  # includes cfn-lint's verdict
    template = json.loads((build / "out" / "sam.json").read_text())
    return {"template": template, "zip": build / "out" / "deployment.zip"}


def _transformed(template: dict) -> dict:
    """SAM's own transform, offline: what CloudFormation will create."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the template names no managed policy
        def load(self) -> dict:
            return {}

    template = json.loads(json.dumps(template))
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    function["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"  # what `aws cloudformation package` writes
    return transform(template, {}, NoManagedPolicies())


def _function(template: dict) -> dict:
    return next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")


def test_the_function_runs_on_the_runtime_of_the_python_that_packaged_it(packaged):
    runtime = _function(packaged["template"])["Properties"]["Runtime"]
    assert runtime in {"python3.13", "python3.12"}
    assert runtime == LAMBDA_PYTHONS[sys.version_info[:2]]


def test_tests_run_on_the_lambdas_python():
    assert sys.version_info[:2] in LAMBDA_PYTHONS, f"tests run on {sys.version}, not a Lambda runtime"


def test_the_table_alarms_and_merged_api(packaged):
    template = packaged["template"]
    table = template["Resources"]["VerificationsTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {"ProviderFailureRateAlarm", "SendBudgetAlarm", "ConversionRateAlarm"} <= set(template["Resources"])
    api = template["Resources"]["RestAPI"]["Properties"]
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == 100 and "DefinitionBody" in api  # merged, not replaced
    function = _function(template)["Properties"]
    assert function["Timeout"] == 20 and function["MemorySize"] == 512
    assert "ReservedConcurrentExecutions" not in function  # opt-in per stage (README: Quotas)


def test_gateway_responses_are_in_the_apis_own_properties(packaged):
    template = packaged["template"]
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::ApiGateway::GatewayResponse"]
    responses = template["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert '"code": "not_found"' in responses["MISSING_AUTHENTICATION_TOKEN"]["ResponseTemplates"]["application/json"]


def test_sam_makes_one_throttled_stage_and_puts_the_gateway_responses_in_the_body(packaged):
    resources = _transformed(packaged["template"])["Resources"]
    stages = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert [s["StageName"] for s in stages] == ["api"]
    assert stages[0]["MethodSettings"][0]["ThrottlingRateLimit"] == 100
    # No implicit stage named "Stage" either way SAM could make one (a Stage resource or a Deployment's StageName).
    assert all(r["Properties"].get("StageName") != "Stage" for r in resources.values()
               if r["Type"] in ("AWS::ApiGateway::Deployment", "AWS::ApiGateway::Stage"))
    api = next(r for r in resources.values() if r["Type"] == "AWS::ApiGateway::RestApi")
    body = api["Properties"]["Body"]
    assert body["x-amazon-apigateway-gateway-responses"]["THROTTLED"]["statusCode"] == "429"
    assert not [r for r in resources.values() if r["Type"] == "AWS::ApiGateway::GatewayResponse"]


def test_no_gateway_response_of_the_stack_repeats_the_request(packaged):
    """Issue 28 item 3, in what CloudFormation gets (SAM's body): each response rendered as API
    Gateway would, its $context.error.messageString repeating the request's Authorization."""
    from tests.unit.helpers import render_gateway_response

    basic = "Basic U0thYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYmFiYWJhYjpzM2NyM3Q="
    api = next(r for r in _transformed(packaged["template"])["Resources"].values()
               if r["Type"] == "AWS::ApiGateway::RestApi")
    responses = api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {"MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(responses)
    for kind, response in responses.items():
        body = json.loads(render_gateway_response(response["responseTemplates"]["application/json"], basic))
        assert basic.split()[1] not in json.dumps(body) and set(body["error"]) == {"code", "message"}, kind


def test_unknown_v2_paths_reach_the_function(packaged):
    """A greedy /v2/{proxy+} resource on every method, integrated with the function like every
    route (the function answers Twilio's 20404); no authorizer: the function decides."""
    paths = packaged["template"]["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    catch_all = paths["/v2/{proxy+}"]
    assert {"get", "post", "put", "patch", "delete", "head", "options"} <= set(catch_all)
    for operation in catch_all.values():
        assert operation["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
        assert not operation.get("security")
        assert operation["parameters"] == [{"name": "proxy", "in": "path", "required": True, "type": "string"}]
    # A v2 route's path takes every method too (Twilio's 405 from the function for the others,
    # chalicelib/twilio_v2/routes.py), so no /v2 request gets API Gateway's own answer.
    for path in ("/v2/Services", "/v2/Services/{sid}/VerificationCheck", "/v2/Attempts/{sid}"):
        assert {"get", "post", "put", "patch", "delete", "head", "options"} <= set(paths[path]), path
        integrations = [op["x-amazon-apigateway-integration"]["type"] for op in paths[path].values()]
        assert set(integrations) == {"aws_proxy"}, path


def test_every_metric_in_alarm_math_is_filled_with_zero(packaged):
    alarms = [r["Properties"] for r in packaged["template"]["Resources"].values()
              if r["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in r["Properties"]]
    assert len(alarms) == 2
    for alarm in alarms:
        metric_ids = {m["Id"] for m in alarm["Metrics"] if "MetricStat" in m}
        expressions = {m["Id"]: m["Expression"] for m in alarm["Metrics"] if "Expression" in m}
        for metric in metric_ids:
            users = {i: e for i, e in expressions.items() if re.search(rf"\b{metric}\b", e)}
            assert list(users.values()) == [f"FILL({metric}, 0)"], (metric, users)


def test_the_function_log_group_has_the_stages_retention(packaged):
    resources = packaged["template"]["Resources"]
    group = resources["FunctionLogGroup"]["Properties"]
    function = _function(packaged["template"])
    assert group == {"LogGroupName": f"/aws/lambda/{function['Properties']['FunctionName']}", "RetentionInDays": 30}
    assert "FunctionLogGroup" in function["DependsOn"]  # before the function can write to it


def test_the_alarm_topic_mails_otp_alarm_email(packaged):
    topic = packaged["template"]["Resources"]["AlarmTopic"]["Properties"]
    assert topic["Subscription"] == [{"Protocol": "email", "Endpoint": "ops@example.com"}]


def test_the_role_policy_takes_the_stacks_partition(packaged):
    policy = packaged["template"]["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    text = json.dumps(policy)
    assert "arn:aws:" not in text and "${AWS::Partition}" in text
    sms = next(s for s in policy["Statement"] if s["Action"] == ["sns:Publish"])
    assert sms["NotResource"] == [{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"}] and "Resource" not in sms


def test_the_zip_is_small(packaged):
    size = packaged["zip"].stat().st_size
    print(f"\ndeployment.zip: {size:,} bytes (limit {LIMIT:,})")
    assert size < LIMIT, f"deployment.zip is {size:,} bytes, over {LIMIT:,}"


def _top_level(zip_path: Path) -> set[str]:
    import zipfile

    return {name.split("/")[0] for name in zipfile.ZipFile(zip_path).namelist()}


def test_the_apis_zip_holds_no_cryptography_nor_the_encryption_sdk(packaged):
    """The Cognito trigger's SDK is in its layer only (scripts/deploy/cognito_trigger.py)."""
    names = _top_level(packaged["zip"])
    assert "chalicelib" in names  # the zip read is the API's
    assert not {n for n in names if n.startswith(("cryptography", "aws_encryption_sdk", "_cffi_backend", "cffi"))}


def test_make_package_without_a_region_stops_with_a_message(tmp_path):
    result = _make_package(tmp_path / "build", _clean_env(tmp_path))
    assert result.returncode != 0
    assert "No AWS region configured" in result.stderr and "AWS_DEFAULT_REGION" in result.stderr
    assert not (tmp_path / "build" / "out").exists()


def _fake_python(path: Path, exit_code: int, version: str = "") -> Path:
    path.write_text(f"#!/bin/sh\n{'echo ' + version if version else ''}\nexit {exit_code}\n")
    path.chmod(0o755)
    return path


def _find_python(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(ROOT / "scripts" / "find_python.sh")], env=env, capture_output=True, text=True)


def test_find_python_refuses_a_python_that_does_not_run(tmp_path):
    shim = _fake_python(tmp_path / "python3.13", 1)  # a pyenv shim whose version is not installed
    result = _find_python({"PATH": "/usr/bin:/bin", "PYTHON": str(shim), "HOME": str(tmp_path)})
    assert result.returncode == 1 and result.stdout == ""
    assert "is not a working Python 3.13 or 3.12" in result.stderr


def test_find_python_names_what_to_install_when_there_is_none(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("python3.13", "python3.12", "python3"):
        _fake_python(bin_dir / name, 1)  # every candidate on PATH refuses
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path / "pyenv")}
    if any((Path(d) / n).exists() for d in ("/usr/bin", "/bin", "/usr/local/bin") for n in ("python3.13", "python3.12")):
        pytest.skip("this machine has a system Python 3.13/3.12, which the script rightly finds")
    result = _find_python(env)
    assert result.returncode == 1 and result.stdout == ""
    assert "No Python 3.13 or 3.12 found" in result.stderr and "pyenv install 3.13" in result.stderr


def test_find_python_finds_this_python():
    result = _find_python({"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": "/nonexistent"})
    assert result.returncode == 0 and result.stdout.strip()


@pytest.fixture(scope="module")
def dev_packaged(tmp_path_factory) -> dict:
    """A copy of the project whose dev stage turns events, End User Messaging's delivery topic,
    the WhatsApp and email channels, Cognito's CustomSMSSender trigger and minute-key receipts on: `make package`'s steps (chalice package merged,
    cfn-lint in the stack's region) and SAM's transform of the template."""
    import shutil

    from tests.unit.deploy_cycle import channel_variables

    tmp_path = tmp_path_factory.mktemp("dev")
    project = tmp_path / "project"
    project.mkdir()
    for name in ("app.py", "requirements.txt"):
        shutil.copy(ROOT / name, project / name)
    for name in ("chalicelib", "scripts", ".chalice"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("__pycache__", "deployed"))
    config = json.loads((project / ".chalice" / "config.json").read_text())
    config["stages"]["dev"]["environment_variables"].update(
        OTP_EVENTS_URL="https://backend.example.com/hooks", OTP_EVENTS_SECRET_PARAMETER="/phone-verify/dev/events",
        OTP_DELIVERY_EVENTS_TOPIC="phone-verify-dev-delivery-events", **channel_variables("dev"),
        OTP_HOOK_COGNITO_KEY_ID="alias/phone-verify-dev-cognito", OTP_RECEIPT_SIGNING="minute_key")
    (project / ".chalice" / "config.json").write_text(json.dumps(config))
    env = {**_clean_env(tmp_path), "AWS_DEFAULT_REGION": "eu-west-1"}
    bin_dir = Path(sys.executable).parent
    resources = subprocess.run([sys.executable, "scripts/deploy/package_template.py", "dev"], cwd=project, env=env,
                               capture_output=True, text=True, check=True).stdout
    (project / "resources.json").write_text(resources)
    subprocess.run([str(bin_dir / "chalice"), "package", "--stage", "dev", "--merge-template", "resources.json",
                    "out"], cwd=project, env=env, capture_output=True, text=True, check=True)
    # make package's last step, as for the prod stage: the cold path as bytecode, the unread files dropped.
    subprocess.run([sys.executable, "scripts/deploy/package_bytecode.py", "out/deployment.zip"], cwd=project, env=env,
                   capture_output=True, text=True, check=True)
    lint = subprocess.run([str(bin_dir / "cfn-lint"), "out/sam.json"], cwd=project, env=env,
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    template = json.loads((project / "out" / "sam.json").read_text())
    for function in [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]:
        function["Properties"]["CodeUri"] = "s3://bucket/deployment.zip"
    for layer in [r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::LayerVersion"]:
        # as `aws cloudformation package` writes it
        layer["Properties"]["ContentUri"] = "s3://bucket/" + layer["Properties"]["ContentUri"].lstrip("./")
    return {"template": template, "transformed": _transformed(template)["Resources"],
            "zip": project / "out" / "deployment.zip"}


def _topic_arn(name: str) -> dict:
    return {"Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:" + name}


def test_a_stage_with_events_packages_the_stream_mapping_and_the_delivery_subscription(dev_packaged):
    """The stream mapping with its error handling, and the delivery topic's subscription and
    permission (that topic only)."""
    transformed = dev_packaged["transformed"]
    [mapping] = [r["Properties"] for r in transformed.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["VerificationsTable", "StreamArn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"] and mapping["BisectBatchOnFunctionError"]
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["EventsFailedQueue", "Arn"]}
    assert 0 < mapping["MaximumRetryAttempts"] and 0 < mapping["MaximumRecordAgeInSeconds"] < 86_400
    topic = _topic_arn("phone-verify-dev-delivery-events")  # the user's own topic, by name
    [subscription] = [r["Properties"] for r in transformed.values() if r["Type"] == "AWS::SNS::Subscription"
                      and r["Properties"]["TopicArn"] == topic]
    assert subscription["Protocol"] == "lambda"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["DeliveryStatus", "Arn"]}
    permissions = [r["Properties"] for r in transformed.values() if r["Type"] == "AWS::Lambda::Permission"
                   and r["Properties"]["Principal"] == "sns.amazonaws.com"
                   and r["Properties"]["FunctionName"] == {"Ref": "DeliveryStatus"}]
    assert [p["SourceArn"] for p in permissions] == [topic]  # that topic only


def test_a_stage_with_the_channels_packages_their_topics_configuration_set_and_subscriptions(dev_packaged):
    """Issue 24: with WhatsApp (End User Messaging Social) and email (SES) on, the stack makes
    their topics (each publishable by its one service), SES's configuration set with its event
    destination, and subscribes each handler through the stack's topic, which it waits for;
    cfn-lint with the SAM transform is clean (the fixture); the zip stays small."""
    template, transformed = dev_packaged["template"], dev_packaged["transformed"]
    types = {name: r["Type"] for name, r in transformed.items()}
    assert types["EmailConfigurationSet"] == "AWS::SES::ConfigurationSet"
    assert types["EmailEventDestination"] == "AWS::SES::ConfigurationSetEventDestination"
    for handler, topic, principal in (("EmailEvents", "EmailEventsTopic", "ses.amazonaws.com"),
                                      ("WhatsappEvents", "WhatsAppEventsTopic",
                                       "social-messaging.amazonaws.com")):
        assert types[topic] == "AWS::SNS::Topic" and types[f"{topic}Policy"] == "AWS::SNS::TopicPolicy"
        [statement] = transformed[f"{topic}Policy"]["Properties"]["PolicyDocument"]["Statement"]
        assert statement["Principal"] == {"Service": principal}
        [subscription] = [r["Properties"] for r in transformed.values() if r["Type"] == "AWS::SNS::Subscription"
                          and r["Properties"]["Endpoint"] == {"Fn::GetAtt": [handler, "Arn"]}]
        assert subscription["TopicArn"] == {"Fn::Sub": "${" + topic + "}"}  # the stack's topic: it waits for it
        [permission] = [r["Properties"] for r in transformed.values() if r["Type"] == "AWS::Lambda::Permission"
                        and r["Properties"]["FunctionName"] == {"Ref": handler}]
        assert permission["SourceArn"] == subscription["TopicArn"]
        function = transformed[handler]["Properties"]
        assert function["FunctionName"] == "phone-verify-dev-" + ("email_events" if handler == "EmailEvents"
                                                                  else "whatsapp_events")
    api_policy = template["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    send = {a for s in api_policy["Statement"] for a in s["Action"]}
    assert {"ses:SendEmail", "social-messaging:SendWhatsAppMessage"} <= send
    assert "WhatsAppEventsTopicArn" in template["Outputs"]  # and the command that sets it on the account
    assert dev_packaged["zip"].stat().st_size < LIMIT


# A cold start from the packaged zip, in a fresh interpreter with the unpacked zip first on
# sys.path (as /var/task is on Lambda) and writing no bytecode (/var/task is read-only): boto3's
# import (botocore takes urllib3 and certifi from the zip), then app.py, a start and a check
# against moto. Prints the statuses and which files of the zip each phase loaded.
_COLD_PROBE = r"""
import json, os, sys
sys.dont_write_bytecode = True
here = os.getcwd()
sys.path.append(os.environ["PROJECT_ROOT"])  # bench.events only; the zip's app and chalicelib come first

def loaded():
    return {os.path.relpath(m.__file__, here) for m in list(sys.modules.values())
            if getattr(m, "__file__", None) and m.__file__.startswith(here + os.sep)}

import boto3
boto3.client("dynamodb", region_name="us-east-1")
phases = {"boto3": sorted(loaded())}
from moto import mock_aws  # moto imports requests & co. from the zip: not counted
mock = mock_aws()
mock.start()
from scripts.deploy.create_table import ensure_table
ensure_table(boto3.client("dynamodb"), os.environ["OTP_TABLE_NAME"])
before = loaded()
import app
from bench.events import Context, api_event
start = app.app(api_event("POST", "/v1/verifications", {"to": "+14155552671"}), Context())
from chalicelib.channels.providers.console import OUTBOX
code = OUTBOX[0]["body"].split(" is ")[1][:6]
check = app.app(api_event("POST", "/v1/verifications/check", {"to": "+14155552671", "code": code}), Context())
# The providers the deployed stages name (.chalice/config.json: SNS), as their first send imports them.
import importlib
from chalicelib.channels.providers import REGISTRY
for name in json.loads(os.environ["STAGE_PROVIDERS"]):
    importlib.import_module(REGISTRY[name].path.split(":")[0])
phases["app"] = sorted(loaded() - before)
import requests, charset_normalizer.md
response = requests.models.Response()
response._content = "Vérification refusée : numéro inconnu".encode("utf-8")  # no charset header
sys.__stdout__.write(json.dumps({"start": start["statusCode"], "check": check["statusCode"], "phases": phases,
                                 "md": charset_normalizer.md.__file__, "requests": requests.__file__,
                                 "detector": requests.compat.chardet.__name__,
                                 "text": response.text}) + "\n")
"""


def _stage_providers() -> set[str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {stage["environment_variables"]["SMS_PROVIDER"] for stage in config["stages"].values()
            if "SMS_PROVIDER" in stage.get("environment_variables", {})}


@pytest.fixture(scope="module")
def packaged_cold_start(packaged, tmp_path_factory) -> dict:
    import zipfile

    unpacked = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(packaged["zip"]) as archive:
        archive.extractall(unpacked)
    env = {**os.environ, "PROJECT_ROOT": str(ROOT), "OTP_STAGE": "test", "OTP_TABLE_NAME": "cold-probe",
           "OTP_SECRET": "probe-secret-0123456789abcdef0123456789", "SMS_PROVIDER": "console",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "probe", "AWS_SECRET_ACCESS_KEY": "probe",
           "PYTHONPATH": "", "STAGE_PROVIDERS": json.dumps(sorted(_stage_providers()))}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL")}
    result = subprocess.run([sys.executable, "-c", _COLD_PROBE], cwd=unpacked, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"unpacked": unpacked, **json.loads(result.stdout.strip().splitlines()[-1])}


def test_the_packaged_zip_serves_a_start_and_a_check(packaged_cold_start):
    assert (packaged_cold_start["start"], packaged_cold_start["check"]) == (201, 200)
    assert "app.pyc" in packaged_cold_start["phases"]["app"], "app.py did not load from the zip"
    assert "chalicelib/channels/providers/sns.pyc" in packaged_cold_start["phases"]["app"]  # dev and prod send by SNS


def test_a_cold_start_loads_no_module_of_the_zip_from_source(packaged_cold_start):
    """Lambda cannot cache bytecode in /var/task: a module the cold path imports from source
    compiles on every cold start. scripts/cold_modules.txt lists the cold path's modules."""
    files = [f for phase in packaged_cold_start["phases"].values() for f in phase]
    from_source = sorted(f for f in files if f.endswith(".py"))
    assert not from_source, "add to scripts/cold_modules.txt:\n" + "\n".join(from_source)
    assert all(f.endswith((".pyc", ".so")) for f in files), files


def test_what_the_zip_drops_no_import_needs(packaged, packaged_cold_start):
    """charset_normalizer's extensions are gone and its pure-Python twins load instead:
    requests still decodes a body sent without a charset (the providers' error text)."""
    import zipfile

    names = zipfile.ZipFile(packaged["zip"]).namelist()
    assert not [n for n in names if n.endswith((".pyi", ".dist-info/RECORD", ".dist-info/METADATA"))]
    assert not [n for n in names if n.startswith("charset_normalizer/") and n.endswith(".so")]
    assert packaged_cold_start["md"].endswith("charset_normalizer/md.py")
    assert packaged_cold_start["detector"] == "charset_normalizer"  # what Response.text guesses with
    assert packaged_cold_start["requests"].startswith(str(packaged_cold_start["unpacked"]))
    assert packaged_cold_start["text"] == "Vérification refusée : numéro inconnu"
    # The source of a shipped .pyc is not shipped too (it would cost the bytes twice).
    assert not [n for n in names if n.endswith(".pyc") and n[:-1] in names]


def test_a_stage_with_the_cognito_trigger_packages_its_function_with_the_layer_and_the_api_without(dev_packaged):
    """SAM makes the trigger's layer an AWS::Lambda::LayerVersion that only the trigger's function
    names; the API's function has only its receipts layer (OTP_RECEIPT_SIGNING=minute_key), and the
    one zip both share holds no cryptography."""
    transformed = dev_packaged["transformed"]
    layers = sorted(name for name, r in transformed.items() if r["Type"] == "AWS::Lambda::LayerVersion"
                    and name.startswith("CognitoSdkLayer"))
    assert len(layers) == 1
    trigger = transformed["CognitoSms"]["Properties"]
    assert trigger["Layers"] == [{"Ref": layers[0]}] and trigger["FunctionName"] == "phone-verify-dev-cognito_sms"
    assert trigger["Handler"] == "app.cognito_sms"
    assert trigger["Timeout"] == 5  # under the 5 s Cognito waits before it retries
    assert trigger["Environment"]["Variables"]["OTP_REQUEST_BUDGET_SECONDS"] == "4"
    assert trigger["Environment"]["Variables"]["OTP_HOOK_COGNITO_KEY_ID"] == "alias/phone-verify-dev-cognito"
    assert trigger["Role"] == {"Fn::GetAtt": ["CognitoSmsRole", "Arn"]}
    others = [r["Properties"] for name, r in transformed.items()
              if r["Type"] == "AWS::Lambda::Function" and name not in ("CognitoSms", "APIHandler")]
    assert others and not any(p.get("Layers") for p in others)
    assert transformed["CognitoKey"]["Type"] == "AWS::KMS::Key"
    names = _top_level(dev_packaged["zip"])
    assert not {n for n in names if n.startswith(("cryptography", "aws_encryption_sdk"))}


def test_a_stage_with_minute_key_receipts_packages_the_receipts_layer_on_the_api_function_only(dev_packaged):
    """OTP_RECEIPT_SIGNING=minute_key (scripts/deploy/receipt_layer.py): `cryptography` in a layer
    the API's function names, never in its zip, which stays under the limit."""
    transformed = dev_packaged["transformed"]
    (layer,) = [name for name, r in transformed.items()
                if r["Type"] == "AWS::Lambda::LayerVersion" and name.startswith("ReceiptsLayer")]
    assert transformed[layer]["Properties"]["Content"]["S3Key"] == "receipts-layer.zip"
    assert transformed["APIHandler"]["Properties"]["Layers"] == [{"Ref": layer}]
    assert transformed["APIHandler"]["Properties"]["Environment"]["Variables"]["OTP_RECEIPT_SIGNING"] == "minute_key"
    names = _top_level(dev_packaged["zip"])
    assert not {n for n in names if n.startswith(("cryptography", "cffi", "_cffi_backend"))}
    assert dev_packaged["zip"].stat().st_size < LIMIT
