"""The operator's dashboard (scripts/deploy/dashboard.py, docs/dashboard.md): every PhoneVerify metric
it names is one the code emits, with the dimension set its EMF document carries; AWS's own
metrics with their documented dimensions and this stage's names; `make deploy` puts it once
(moto), `make destroy` deletes it, `make package`'s template has it; each widget is in the docs."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib.telemetry import NAMESPACE, SERVICE
from scripts.deploy import dashboard, package_template, provision
from scripts.deploy import stage as deploy_stage
from tests.conftest import ROOT

REGION = "us-east-1"
# AWS's metrics and the dimensions they are published with: API Gateway REST APIs (ApiName,
# Stage: docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html)
# and Lambda (FunctionName: docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html).
AWS_METRICS = {
    "AWS/ApiGateway": ({"4XXError", "5XXError", "Count", "Latency", "IntegrationLatency"},
                       {"ApiName", "Stage"}),
    "AWS/Lambda": ({"Errors", "Throttles", "Duration", "Invocations", "ConcurrentExecutions"},
                   {"FunctionName"}),
}


def emitted() -> set[tuple[str, frozenset[str]]]:
    """(metric, dimension names) of every EMF series the code can write, read from the code:
    each ``metric("Name", ..., dim=...)`` call in chalicelib (the name a string, or either of
    two), and telemetry.end_request's own tuples; with ``service`` added, and each metric with
    a provider rolled up without it too (telemetry.emf_documents)."""
    found: set[tuple[str, frozenset[str]]] = set()

    def names(node: ast.expr) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return names(node.body) + names(node.orelse)
        return []

    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called == "metric":
                dims = frozenset(k.arg for k in node.keywords if k.arg)
                found |= {(n, dims) for n in names(node.args[0])}
            elif called == "append" and isinstance(node.args[0], ast.Tuple) and len(node.args[0].elts) == 4:
                name, _, _, dims_node = node.args[0].elts
                if isinstance(dims_node, ast.Dict):
                    dims = frozenset(k.value for k in dims_node.keys if isinstance(k, ast.Constant))
                    found |= {(n, dims) for n in names(name)}
    series = set()
    for name, dims in found:
        series.add((name, dims | {"service"}))
        if "provider" in dims:
            series.add((name, (dims - {"provider"}) | {"service"}))
    return series


def _series(body: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every metric a widget draws, SEARCH expressions too."""
    found = []
    for widget in body["widgets"]:
        for row in widget["properties"].get("metrics", []):
            plain = [x for x in row if not isinstance(x, dict)]
            if plain:
                namespace, metric, *pairs = plain
                found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2]))))
            for options in (x for x in row if isinstance(x, dict) and "SEARCH(" in x.get("expression", "")):
                found_search = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", options["expression"])
                assert found_search, options
                schema, metric = found_search.groups()
                namespace, *dims = schema.split(",")
                found.append((namespace, metric, {d: "*" for d in dims}))
    return found


@pytest.fixture(params=["dev", "prod"])
def body(request) -> dict:
    return dashboard.for_stage(request.param, REGION)


def test_the_code_emits_what_the_alarms_and_the_dashboard_need():
    series = emitted()
    assert ("Sends", frozenset({"service", "provider", "outcome"})) in series
    assert ("Sends", frozenset({"service", "outcome"})) in series  # the roll-up without provider
    assert ("LimitsHit", frozenset({"service", "kind"})) in series  # end_request's own
    assert ("VerificationsStarted", frozenset({"service"})) in series
    assert ("Resends", frozenset({"service"})) in series


def test_every_metric_on_the_dashboard_is_one_the_code_emits(body):
    series = emitted()
    stage = body["widgets"][-4]["properties"]["metrics"][0][3]  # the Lambda widget's FunctionName
    for namespace, metric, dims in _series(body):
        if namespace == NAMESPACE:
            assert (metric, frozenset(dims)) in series, (metric, dims)
            assert dims["service"] in (SERVICE, "*")
        else:
            metrics, dimensions = AWS_METRICS[namespace]
            assert metric in metrics and set(dims) == dimensions, (namespace, metric, dims)
    assert stage.startswith("phone-verify-")


def test_the_dashboard_names_this_stages_api_and_function():
    body = dashboard.for_stage("prod", REGION)
    text = json.dumps(body)
    assert '"FunctionName", "phone-verify-prod"' in text
    assert '"ApiName", "phone-verify", "Stage", "api"' in text
    for widget in body["widgets"]:
        assert widget["properties"]["region"] == REGION
        if widget["type"] == "log":
            assert widget["properties"]["query"].startswith("SOURCE '/aws/lambda/phone-verify-prod' | ")


def test_the_widgets_cover_what_the_operator_asked_for(body):
    titles = " | ".join(w["properties"]["title"] for w in body["widgets"]).lower()
    for wanted in ("starts", "by channel and country", "conversion", "breaker trips", "suspensions",
                   "delivery statuses", "budget", "4xx and 5xx", "latency"):
        assert wanted in titles, wanted
    # Laid out two a row, nothing overlapping.
    assert len({(w["x"], w["y"]) for w in body["widgets"]}) == len(body["widgets"])


def test_the_breaker_query_parses_the_line_the_breaker_writes():
    source = (ROOT / "chalicelib" / "verify" / "limits.py").read_text()
    assert '"%s suspended range=%s channel=%s sends=%d approvals=%d conversion=%.1f%% "' in source
    body = dashboard.for_stage("prod", REGION)
    query = next(w["properties"]["query"] for w in body["widgets"] if "Breaker" in w["properties"]["title"])
    assert "parse message '* suspended range=* channel=* sends=* approvals=* conversion=* '" in query


def test_every_widget_is_described_in_the_docs():
    docs = (ROOT / "docs" / "dashboard.md").read_text()
    for widget in dashboard.for_stage("prod", REGION)["widgets"]:
        assert f"**{widget['properties']['title']}**" in docs, widget["properties"]["title"]
    assert "docs/dashboard.md" in (ROOT / "scripts" / "deploy" / "dashboard.py").read_text()
    assert "(dashboard.md)" in (ROOT / "docs" / "deploying.md").read_text()


@pytest.fixture
def deployed(tmp_path, monkeypatch):
    """What `provision.after` needs: a deployed/prod.json naming a REST API (as test_provision)."""
    with mock_aws():
        apigateway = boto3.client("apigateway", region_name=REGION)
        api = apigateway.create_rest_api(name="phone-verify")
        root = apigateway.get_resources(restApiId=api["id"])["items"][0]["id"]
        apigateway.put_method(restApiId=api["id"], resourceId=root, httpMethod="GET",
                              authorizationType="NONE")
        apigateway.put_integration(restApiId=api["id"], resourceId=root, httpMethod="GET", type="MOCK")
        apigateway.create_deployment(restApiId=api["id"], stageName="api")
        (tmp_path / ".chalice" / "deployed").mkdir(parents=True)
        (tmp_path / ".chalice" / "config.json").write_text((ROOT / ".chalice" / "config.json").read_text())
        (tmp_path / ".chalice" / "deployed" / "prod.json").write_text(json.dumps({"resources": [
            {"resource_type": "rest_api", "rest_api_id": api["id"], "rest_api_url": "https://x/api/"}]}))
        monkeypatch.setattr(deploy_stage, "ROOT", tmp_path)
        yield boto3.client("cloudwatch", region_name=REGION)


def _after(cloudwatch) -> list[str]:
    c = lambda name: boto3.client(name, region_name=REGION)  # noqa: E731
    return provision.after("prod", c("apigateway"), c("logs"), c("iam"), c("sns"), "aws",
                           c("lambda"), c("dynamodb"), c("sqs"), cloudwatch)


def test_deploy_puts_the_dashboard_once_and_a_second_deploy_changes_nothing(deployed):
    cloudwatch = deployed
    assert "dashboard phone-verify-prod created" in _after(cloudwatch)
    listed = cloudwatch.list_dashboards()["DashboardEntries"]
    assert [d["DashboardName"] for d in listed] == ["phone-verify-prod"]
    stored = json.loads(cloudwatch.get_dashboard(DashboardName="phone-verify-prod")["DashboardBody"])
    assert stored == dashboard.for_stage("prod", REGION)
    assert "dashboard phone-verify-prod unchanged" in _after(cloudwatch)
    assert len(cloudwatch.list_dashboards()["DashboardEntries"]) == 1


def test_a_changed_dashboard_is_put_back(deployed):
    cloudwatch = deployed
    cloudwatch.put_dashboard(DashboardName="phone-verify-prod", DashboardBody=json.dumps({"widgets": []}))
    assert "dashboard phone-verify-prod updated" in _after(cloudwatch)
    assert len(json.loads(cloudwatch.get_dashboard(DashboardName="phone-verify-prod")["DashboardBody"])
               ["widgets"]) == len(dashboard.for_stage("prod", REGION)["widgets"])


def test_destroy_deletes_the_dashboard_and_a_second_destroy_is_fine(deployed):
    cloudwatch = deployed
    _after(cloudwatch)
    assert provision.destroy("prod", cloudwatch) == ["dashboard phone-verify-prod deleted"]
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []
    assert provision.destroy("prod", cloudwatch) == ["no dashboard phone-verify-prod"]
    makefile = (ROOT / "Makefile").read_text()
    destroy = makefile.split("\ndestroy:", 1)[1].split("\n\n", 1)[0]
    assert "chalice delete --stage $(STAGE)" in destroy and "provision.py destroy --stage $(STAGE)" in destroy


def test_the_packaged_template_has_the_same_dashboard_in_the_stacks_region():
    resource = package_template.resources("prod")["Resources"]["OperatorDashboard"]
    assert resource["Type"] == "AWS::CloudWatch::Dashboard"
    assert resource["Properties"]["DashboardName"] == "phone-verify-prod"
    text = resource["Properties"]["DashboardBody"]["Fn::Sub"]
    assert json.loads(text) == dashboard.for_stage("prod", "${AWS::Region}")
    # Fn::Sub substitutes ${...} only: the region is the one variable in the body.
    assert set(re.findall(r"\$\{([^}]*)\}", text)) == {"AWS::Region"}


def test_nothing_of_it_goes_into_the_lambda_zip():
    cold = (ROOT / "scripts" / "cold_modules.txt").read_text()
    assert "dashboard" not in cold
    assert not any("dashboard" in line for line in Path(ROOT / "app.py").read_text().splitlines())
