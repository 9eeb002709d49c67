"""docs/architecture.md's diagram has a box for every kind of resource the deploy makes: the
kinds are read from what the make targets build, with every option on (events, End User
Messaging's delivery topic, the WhatsApp and email channels, access logs, SnapStart):

- `make package`: the resources chalice package writes (tests/unit/deploy_cycle.py runs it in a
  copy of the project) and the ones scripts/deploy/package_template.py merges into them;
- `make deploy`: every call provision.py and chalice deploy make that creates or changes
  something, recorded on moto by tests/unit/deploy_cycle.py (as test_policy.py does).

A kind this test cannot place (a new resource type, a new AWS service called) fails too: give
it a box, then a line in KIND_BOX or SERVICE_BOX."""

from __future__ import annotations

import json
import re

import pytest

from scripts.deploy import package_template
from tests.conftest import ROOT

# CloudFormation types -> the diagram's box (by node id). Functions are told apart by name.
KIND_BOX = {
    "AWS::Serverless::Api": "apigw",
    "AWS::ApiGateway::Account": "apigw",  # the account's CloudWatch role for access logs
    "AWS::Serverless::Function": None,  # by logical id: see _function_box
    "AWS::Lambda::Permission": "roles",  # a grant: who may invoke the function
    "AWS::Lambda::Version": "lambda",  # SnapStart's published version and its alias
    "AWS::Lambda::Alias": "lambda",
    "AWS::IAM::Role": "roles",
    "AWS::DynamoDB::Table": "ddb",
    "AWS::SNS::Topic": "topics",  # AlarmTopic: "alarms"
    "AWS::SNS::TopicPolicy": "topics",
    "AWS::SQS::Queue": "sqs",
    "AWS::KMS::Key": "kms",  # TopicsKey: encrypts the SNS topics; CognitoKey: Cognito's codes
    "AWS::KMS::Alias": "kms",
    "AWS::Serverless::LayerVersion": "cognito",  # the Cognito trigger's AWS Encryption SDK
    "AWS::CloudWatch::Alarm": "cw",
    "AWS::CloudWatch::Dashboard": "cw",
    "AWS::Logs::LogGroup": "cw",
    "AWS::SES::ConfigurationSet": "ses",
    "AWS::SES::ConfigurationSetEventDestination": "ses",
}
# IAM service prefixes of the calls make deploy makes -> box.
SERVICE_BOX = {
    "dynamodb": "ddb", "ssm": "ssm", "kms": "kms", "sqs": "sqs", "cloudwatch": "cw", "logs": "cw",
    "ses": "ses", "social-messaging": "eum", "iam": "roles", "apigateway": "apigw",
    "lambda": None,  # by function: see _function_box
    "sns": None,  # topics, or the account's SMS settings (SNS SMS)
}
CHANGES = re.compile(r"^(Create|Put|Update|Set|Tag|Add|Attach|Publish|Associate|Enable|Delete"
                     r"|POST|PUT|PATCH|DELETE)")


def diagram_boxes() -> dict[str, str]:
    """Node id -> label of the Mermaid flowchart at the top of docs/architecture.md."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no Mermaid diagram"
    return {m.group(1): m.group(2) for m in re.finditer(r"\b(\w+)(?:\[\(|\[|\(\()([^\])]+)", block.group(1))}


def _function_box(name: str) -> str:
    from scripts.deploy.channel_resources import HANDLERS
    from scripts.deploy.events_resources import FUNCTION

    from scripts.deploy.cognito_trigger import FUNCTION as COGNITO

    handlers = {"delivery_status", *HANDLERS}
    camel = lambda h: "".join(p.capitalize() for p in h.split("_"))  # noqa: E731  (chalice package's ids)
    if name.endswith(FUNCTION) or name == camel(FUNCTION):
        return "consumer"
    if name.endswith(COGNITO) or name == camel(COGNITO):
        return "cognito"
    if any(name.endswith(h) or name == camel(h) for h in handlers):
        return "handlers"
    return "lambda"


def package_kinds(monkeypatch, sam: dict) -> dict[str, str]:
    """(what, box) for every resource of the merged template, every option on."""
    from tests.unit.deploy_cycle import channel_variables

    from scripts.deploy import cognito_trigger

    variables, config = package_template.stage_variables, package_template.stage_config
    for module in (package_template, cognito_trigger):
        monkeypatch.setattr(module, "stage_variables", lambda stage: {
            **variables(stage), **channel_variables(stage), **OPTIONS_ON})
    monkeypatch.setattr(package_template, "stage_config",
                        lambda stage: {**config(stage), "api_access_logs": True, "snapstart": True})
    merged = package_template.deep_merge(package_template.resources("prod"), sam)["Resources"]
    found = {}
    for logical_id, resource in merged.items():
        kind = resource.get("Type")
        assert kind, f"{logical_id}: merged into no resource of chalice package's"
        assert kind in KIND_BOX, f"make package makes a {kind} ({logical_id}): draw it, then map it here"
        box = KIND_BOX[kind]
        if kind == "AWS::Serverless::Function":
            box = _function_box(logical_id)
        if logical_id == "AlarmTopic":
            box = "alarms"
        found[f"{kind} {logical_id}"] = box
        if kind == "AWS::DynamoDB::Table" and "StreamSpecification" in resource["Properties"]:
            found[f"{logical_id}'s stream"] = "stream"
        if "DynamoDB" in json.dumps(resource.get("Properties", {}).get("Events", {})):
            found[f"{logical_id}'s event source mapping"] = "stream"
    return found


def deploy_kinds(calls: list[tuple[str, str]]) -> dict[str, str]:
    """(what, box) for every call of make deploy that makes or changes something."""
    found = {}
    for action, arn in calls:
        service, _, name = action.partition(":")
        if not CHANGES.match(name) or service == "iam" and name == "PassRole":
            continue
        assert service in SERVICE_BOX, f"make deploy calls {action}: draw its service, then map it here"
        box = SERVICE_BOX[service]
        if service == "lambda":
            box = "stream" if "EventSourceMapping" in name else _function_box(arn.rsplit(":", 1)[-1])
        if service == "sns":
            box = "topics" if name in ("CreateTopic", "SetTopicAttributes", "Subscribe") else "sns"
        if service == "dynamodb" and name == "UpdateTable":
            found["the table's stream"] = "stream"
        found[f"{action} {arn}"] = box
    return found


OPTIONS_ON = {"OTP_EVENTS_URL": "https://backend.example.com/hooks",
              "OTP_EVENTS_SECRET_PARAMETER": "/phone-verify/prod/events-secret",
              "OTP_DELIVERY_EVENTS_TOPIC": "phone-verify-prod-delivery-events",
              "OTP_HOOK_COGNITO_KEY_ID": "alias/phone-verify-prod-cognito"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """make deploy's calls (run_cycle: options on in its second deploy) and chalice package's
    template of a stage with every option on, each in a copy of the project."""
    from tests.unit.deploy_cycle import _chalice, channel_variables, project_copy, run_cycle

    with pytest.MonkeyPatch.context() as monkeypatch:
        recorded = run_cycle(project_copy(tmp_path_factory.mktemp("deploy")), "prod", monkeypatch)
    project = project_copy(tmp_path_factory.mktemp("package"))
    config_file = project / ".chalice" / "config.json"
    config = json.loads(config_file.read_text())
    config["stages"]["prod"]["environment_variables"].update(**OPTIONS_ON, **channel_variables("prod"))
    config_file.write_text(json.dumps(config))
    _chalice(project, "package", "--stage", "prod", str(project / "out"))  # no AWS call (test_policy.py)
    return recorded["deploy"], json.loads((project / "out" / "sam.json").read_text())


def test_every_kind_make_package_builds_has_a_box(built, monkeypatch):
    boxes = diagram_boxes()
    kinds = package_kinds(monkeypatch, built[1])
    assert {"lambda", "consumer", "handlers", "stream", "ses", "alarms", "cognito"} <= set(kinds.values())
    missing = sorted(what for what, box in kinds.items() if box not in boxes)
    assert not missing, f"no box in docs/architecture.md for: {missing}"


def test_every_kind_make_deploy_creates_has_a_box(built):
    boxes = diagram_boxes()
    kinds = deploy_kinds(built[0])
    assert {"kms", "eum", "ses", "stream", "consumer", "sns", "cw"} <= set(kinds.values())
    missing = sorted(what for what, box in kinds.items() if box not in boxes)
    assert not missing, f"no box in docs/architecture.md for: {missing}"


def test_the_boxes_name_what_they_stand_for():
    boxes = diagram_boxes()
    for box, words in {"kms": "KMS", "ses": "SES", "eum": "End User Messaging", "stream": "stream",
                       "consumer": "events consumer", "sqs": "SQS", "topics": "SNS topics",
                       "handlers": "SNS handlers", "alarms": "alarm", "cw": "dashboard",
                       "roles": "IAM", "cognito": "Cognito trigger", "userpool": "Cognito user pool"}.items():
        assert words in boxes.get(box, ""), (box, boxes.get(box))


def test_the_checker_sees_a_missing_box(monkeypatch, tmp_path):
    page = tmp_path / "docs" / "architecture.md"
    page.parent.mkdir()
    page.write_text("# x\n\n```mermaid\nflowchart LR\n    a[A] --> ddb[(DynamoDB)]\n```\n")
    import tests.unit.test_architecture_diagram as me

    monkeypatch.setattr(me, "ROOT", tmp_path)
    assert me.diagram_boxes() == {"a": "A", "ddb": "DynamoDB"}
    assert "kms" not in me.diagram_boxes()
