"""API Gateway's stage throttle (scripts/deploy/gateway_settings.py): by the stage's kind, or the
stage's own `api_throttle` in .chalice/config.json, the same on both deploy paths (`make deploy`
sets it after chalice deploy, `make package` writes it into the template). docs/scale.md: at
10,000 verifications a second prod's default (100/s) is a hundred times too low, so it must be a
setting, not code."""

from __future__ import annotations

import json

import pytest

from scripts.deploy import gateway_settings, package_template
from scripts.deploy import stage as deploy_stage


def _with_stage(monkeypatch, name: str, like: str, **options) -> None:
    """.chalice/config.json with one more stage: a copy of ``like``'s with ``options`` over it."""
    real = deploy_stage.chalice_config()

    def config() -> dict:
        copied = json.loads(json.dumps(real))
        copied["stages"][name] = {**copied["stages"][like], **options}
        return copied

    monkeypatch.setattr(deploy_stage, "chalice_config", config)


def test_each_kind_keeps_its_default():
    assert gateway_settings.throttling("prod") == (100, 200)
    assert gateway_settings.throttling("dev") == (10, 20)


def test_a_stage_of_any_name_is_throttled_as_its_kind(monkeypatch):
    """`eu-prod` (OTP_STAGE=prod) was throttled as dev (10/s) when the table was keyed by name."""
    _with_stage(monkeypatch, "eu-prod", "prod")
    assert gateway_settings.throttling("eu-prod") == (100, 200)


def test_the_stages_own_throttle_is_applied_on_both_paths(monkeypatch):
    _with_stage(monkeypatch, "prod", "prod", api_throttle={"rate": 25000, "burst": 12500})
    assert gateway_settings.throttling("prod") == (25000.0, 12500)
    template = package_template.resources("prod")["Resources"]["RestAPI"]["Properties"]
    assert template["MethodSettings"][0]["ThrottlingRateLimit"] == 25000.0
    assert template["MethodSettings"][0]["ThrottlingBurstLimit"] == 12500


class _Stage:
    """API Gateway's update_stage, as make deploy calls it."""

    def __init__(self) -> None:
        self.patches: list[dict] = []

    def update_stage(self, restApiId: str, stageName: str, patchOperations: list[dict]) -> None:
        self.patches = patchOperations


def test_make_deploy_sets_the_stages_own_throttle(monkeypatch):
    _with_stage(monkeypatch, "big", "prod", api_throttle={"rate": 12.5, "burst": 30})
    apigateway = _Stage()
    said = gateway_settings.ensure_throttling(apigateway, "api-id", "api", "big")
    assert {p["path"]: p["value"] for p in apigateway.patches} == {
        "/*/*/throttling/rateLimit": "12.5", "/*/*/throttling/burstLimit": "30"}
    assert said == "API Gateway stage api: throttling 12.5 requests/s, burst 30"


@pytest.mark.parametrize("option", [
    {"rate": 0, "burst": 10}, {"rate": 10, "burst": 0}, {"rate": -1, "burst": 10},
    {"rate": 10, "burst": 2.5}, {"rate": "10", "burst": 20}, {"rate": True, "burst": 20},
    {"rate": 10}, {"rate": 10, "burst": 20, "period": "DAY"}, [10, 20], 100,
    {"rate": 10, "burst": 2_000_000}, {"rate": 1e9, "burst": 20},
])
def test_a_wrong_throttle_is_one_line_naming_the_stage_and_option(monkeypatch, option):
    _with_stage(monkeypatch, "big", "prod", api_throttle=option)
    with pytest.raises(SystemExit) as refused:
        gateway_settings.throttling("big")
    message = str(refused.value)
    assert message.startswith("stage big: api_throttle must be") and "\n" not in message
