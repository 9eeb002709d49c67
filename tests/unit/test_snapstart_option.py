"""SnapStart as a stage option of `make package`: off unless the stage asks for it."""

from __future__ import annotations

from scripts import package_template


def test_no_stage_has_snapstart_unless_it_asks():
    function = package_template.resources("prod")["Resources"]["APIHandler"]
    assert "SnapStart" not in function["Properties"] and "AutoPublishAlias" not in function["Properties"]


def test_a_stage_with_snapstart_gets_it_on_a_published_alias_that_the_api_invokes(monkeypatch):
    original = package_template.stage_config
    monkeypatch.setattr(package_template, "stage_config", lambda stage: {**original(stage), "snapstart": True})
    merged = package_template.resources("prod")
    function = merged["Resources"]["APIHandler"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"} and function["AutoPublishAlias"] == "live"
    assert function["FunctionName"] == "phone-verify-prod"  # the log group's name still matches
    # The stage's own additions are still there (merged, not replaced).
    api = merged["Resources"]["RestAPI"]["Properties"]
    assert api["OpenApiVersion"] == "3.0.1" and "GatewayResponses" in api
