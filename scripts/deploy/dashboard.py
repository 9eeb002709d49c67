"""The operator's CloudWatch dashboard: what `make deploy` puts (PutDashboard, only when its body
changed), what `make package`'s template carries (AWS::CloudWatch::Dashboard) and what
`make destroy` deletes. Each widget is described in docs/dashboard.md.

Every metric it names is one the service emits (chalicelib/telemetry.py's EMF documents,
namespace PhoneVerify, with their exact dimension sets; tests/unit/test_dashboard.py checks it
against the code's metric calls), or AWS's own for API Gateway (ApiName, Stage) and Lambda
(FunctionName). What has no metric (a breaker tripping, starts by channel and country) is read
from the function's JSON request lines with CloudWatch Logs Insights, in a log widget.

Dashboard body: docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/
CloudWatch-Dashboard-Body-Structure.html (metric arrays [Namespace, MetricName, DimensionName,
DimensionValue, ..., {options}]; SEARCH('{Namespace,Dim1,Dim2} MetricName="X"', 'Sum', period)
for every value of a dimension).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.telemetry import NAMESPACE, SERVICE

WIDTH = 12  # two widgets a row on the dashboard's 24-column grid
HEIGHT = 6


def name(app_name: str, stage: str) -> str:
    return f"{app_name}-{stage}"


def _m(metric: str, **dimensions: str) -> list[Any]:
    """A PhoneVerify metric array, its dimensions as the EMF documents set them (service first)."""
    pairs = [x for k, v in {"service": SERVICE, **dimensions}.items() for x in (k, v)]
    return [NAMESPACE, metric, *pairs]


def _search(metric: str, *dimensions: str, stat: str = "Sum", period: int = 300, label: str = "") -> dict:
    """Every series of ``metric`` with exactly these dimensions (besides service), one line each."""
    schema = ",".join([NAMESPACE, "service", *dimensions])
    expression = f"SEARCH('{{{schema}}} MetricName=\"{metric}\" service=\"{SERVICE}\"', '{stat}', {period})"
    found = {"expression": expression, "id": metric[0].lower() + "".join(d[0] for d in dimensions)}
    return {**found, "label": label} if label else found


def _metrics_widget(title: str, metrics: list, region: str, stat: str = "Sum", period: int = 300,
                    **properties: Any) -> dict:
    return {"type": "metric", "width": WIDTH, "height": HEIGHT, "properties": {
        "title": title, "region": region, "view": "timeSeries", "stat": stat, "period": period,
        "metrics": metrics, **properties}}


def _logs_widget(title: str, query: str, log_group: str, region: str) -> dict:
    return {"type": "log", "width": WIDTH, "height": HEIGHT, "properties": {
        "title": title, "region": region, "view": "table",
        "query": f"SOURCE '{log_group}' | {query}"}}


def body(app_name: str, stage: str, function: str, api_stage: str, sends_per_hour: int,
         region: str) -> dict:
    """The dashboard's widgets, in the order docs/dashboard.md describes them."""
    log_group = f"/aws/lambda/{function}"
    api = ["ApiName", app_name, "Stage", api_stage]  # chalice's REST API is named after the app
    fn = ["FunctionName", function]
    widgets = [
        _metrics_widget("Starts, resends and approvals", [
            _m("VerificationsStarted"), _m("Resends"), _m("Approvals")], region),
        _metrics_widget("Conversion: approvals / verifications started (%)", [
            [*_m("Approvals"), {"id": "approvals", "visible": False}],
            [*_m("VerificationsStarted"), {"id": "started", "visible": False}],
            [{"expression": "IF(started > 0, 100 * FILL(approvals, 0) / started)", "id": "conversion",
              "label": "conversion (%)"}],
        ], region, period=3600, yAxis={"left": {"min": 0, "max": 100}},
            annotations={"horizontal": [{"label": "alarm: below 50%", "value": 50}]}),
        _logs_widget("Starts and resends by channel and country (request lines)",
                     "filter message = 'request' and ispresent(channel) and status >= 200 and status < 300"
                     " | stats count(*) as sends by channel, region | sort sends desc | limit 50",
                     log_group, region),
        _metrics_widget("Sends by provider and outcome", [
            [_search("Sends", "provider", "outcome")]], region),
        _metrics_widget("Provider latency (ms)", [
            [*_m("ProviderLatency"), {"stat": "p50", "label": "p50"}],
            [*_m("ProviderLatency"), {"stat": "p99", "label": "p99"}]], region, stat="p50"),
        _metrics_widget("Delivery statuses by country (providers' receipts)", [
            [_search("DeliveryReceipts", "country", "status")]], region),
        _metrics_widget("Send budget used: delivered sends per hour against OTP_MAX_SENDS_PER_HOUR", [
            [*_m("Sends", outcome="delivered"), {"label": "delivered sends"}]], region, period=3600,
            annotations={"horizontal": [{"label": "budget", "value": sends_per_hour},
                                        {"label": "alarm: 80%", "value": int(sends_per_hour * 0.8)}]}),
        _metrics_widget("Refusals by limit (429s), breakers' suspensions among them", [
            [_search("LimitsHit", "kind")]], region),
        _logs_widget("Breaker trips (a range or a country suspended for a channel)",
                     "filter message like / suspended range=/"
                     " | parse message '* suspended range=* channel=* sends=* approvals=* conversion=* ' as"
                     " breaker, range, channel, sends, approvals, conversion"
                     " | stats count(*) as trips, max(@timestamp) as last by breaker, range, channel"
                     " | sort last desc | limit 50", log_group, region),
        _metrics_widget("Checks by outcome", [[_search("Checks", "outcome")]], region),
        _metrics_widget("API Gateway: 4xx and 5xx answers", [
            ["AWS/ApiGateway", "4XXError", *api], ["AWS/ApiGateway", "5XXError", *api],
            ["AWS/ApiGateway", "Count", *api, {"yAxis": "right"}]], region),
        _metrics_widget("API Gateway latency (ms)", [
            ["AWS/ApiGateway", "Latency", *api, {"stat": "p50", "label": "p50"}],
            ["AWS/ApiGateway", "Latency", *api, {"stat": "p99", "label": "p99"}],
            ["AWS/ApiGateway", "IntegrationLatency", *api, {"stat": "p99", "label": "integration p99"}]],
            region, stat="p50"),
        _metrics_widget("Lambda: errors, throttles, duration", [
            ["AWS/Lambda", "Errors", *fn], ["AWS/Lambda", "Throttles", *fn],
            ["AWS/Lambda", "Duration", *fn, {"stat": "p99", "label": "duration p99 (ms)", "yAxis": "right"}]],
            region),
        _metrics_widget("Authenticator apps (TOTP): approvals, wrong codes, replays, suspensions", [
            _m("TotpApprovals"), _m("TotpIncorrectCodes"), _m("TotpReplays"), _m("TotpFactorsSuspended")],
            region),
        _metrics_widget("Failures to look at: keys, receipts, secrets, undo, refused callbacks", [
            _m("AuthenticationFailures"), _m("ReceiptFailures"), _m("ParameterReadFailures"),
            _m("UndoFailures"), _m("CallbacksRefused")], region),
        _metrics_widget("Events to your backend (when on)", [
            _m("EventsDelivered"), _m("EventsNotDelivered"), _m("EventRecordsUnreadable")], region),
    ]
    for i, widget in enumerate(widgets):  # two a row, in order
        widget["x"], widget["y"] = (i % 2) * WIDTH, (i // 2) * HEIGHT
    return {"start": "-PT12H", "periodOverride": "inherit", "widgets": widgets}


def for_stage(stage: str, region: str) -> dict:
    """The body for a stage of .chalice/config.json."""
    from chalicelib.config import Config
    from scripts.deploy.stage import chalice_config, function_name, stage_config, stage_variables

    limits = Config.from_env(stage_variables(stage)).limits
    return body(chalice_config()["app_name"], stage, function_name(stage),
                stage_config(stage).get("api_gateway_stage", "api"), limits.sends_per_hour, region)


def ensure_dashboard(cloudwatch: Any, stage: str) -> str:
    """PutDashboard when the dashboard is missing or its body differs: a second deploy changes
    nothing (the dashboard is one resource by name; PutDashboard replaces, never duplicates)."""
    from scripts.deploy.stage import chalice_config

    dashboard = name(chalice_config()["app_name"], stage)
    wanted = for_stage(stage, cloudwatch.meta.region_name)
    try:
        current = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard)["DashboardBody"])
    except _not_found(cloudwatch):
        current = None
    if current == wanted:
        return f"dashboard {dashboard} unchanged"
    cloudwatch.put_dashboard(DashboardName=dashboard, DashboardBody=json.dumps(wanted))
    return f"dashboard {dashboard} {'created' if current is None else 'updated'}"


def delete_dashboard(cloudwatch: Any, stage: str) -> str:
    """`make destroy`: the dashboard goes with the function (it shows nothing without it)."""
    from scripts.deploy.stage import chalice_config

    dashboard = name(chalice_config()["app_name"], stage)
    try:
        cloudwatch.delete_dashboards(DashboardNames=[dashboard])
    except _not_found(cloudwatch):
        return f"no dashboard {dashboard}"
    return f"dashboard {dashboard} deleted"


def _not_found(cloudwatch: Any) -> tuple[type[Exception], ...]:
    """GetDashboard's and DeleteDashboards' error for a missing name: DashboardNotFoundError,
    code ResourceNotFound (botocore's cloudwatch service model; moto raises the latter)."""
    return (cloudwatch.exceptions.DashboardNotFoundError, cloudwatch.exceptions.ResourceNotFound)


def template_resource(stage: str) -> dict:
    """`make package`'s AWS::CloudWatch::Dashboard: the same body, in the stack's region."""
    from scripts.deploy.stage import chalice_config

    text = json.dumps(for_stage(stage, "${AWS::Region}"))
    return {"Type": "AWS::CloudWatch::Dashboard", "Properties": {
        "DashboardName": name(chalice_config()["app_name"], stage), "DashboardBody": {"Fn::Sub": text}}}
