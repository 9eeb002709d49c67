"""checkov on `make package`'s template, offline, from its own venv (`make test` makes
.deps/checkov-venv; CHECKOV=/path names another): no finding is left that is neither fixed nor
skipped with its reason (scripts/deploy/template_checks.py), on prod as configured and on prod with
every option on (events, email and WhatsApp, End User Messaging's delivery events, access logs,
Cognito's trigger);
each skip is on the page (docs/going-live.md#checkov), and what is fixed passes, not skipped."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from scripts.deploy import checkov_run
from tests.conftest import ROOT
from tests.integration.test_package import _clean_env, _make_package

EVERY_OPTION = {
    "OTP_EVENTS_URL": "https://backend.example.com/hooks",
    "OTP_EVENTS_SECRET_PARAMETER": "/phone-verify/prod/events-secret",
    "OTP_EMAIL_PROVIDER": "ses", "SES_FROM": "Verify <verify@example.com>",
    "SES_CONFIGURATION_SET": "phone-verify-prod", "OTP_EMAIL_EVENTS_TOPIC": "phone-verify-prod-email-events",
    "OTP_WHATSAPP_PROVIDER": "end-user-messaging-social",
    "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID": "phone-number-id-0123abcd",
    "OTP_WHATSAPP_EVENTS_TOPIC": "phone-verify-prod-whatsapp-events",
    "OTP_DELIVERY_EVENTS_TOPIC": "phone-verify-prod-delivery-events",
    # Cognito's CustomSMSSender trigger: its key, layer (built by make package) and function.
    "OTP_HOOK_COGNITO_KEY_ID": "alias/phone-verify-prod-cognito",
}


def _tree_with_every_option(target: Path) -> Path:
    """A copy of the project whose prod stage turns every option on (the .venv linked, not copied)."""
    shutil.copytree(ROOT, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".deps", "build", "__pycache__", ".hypothesis", ".pytest_cache", "node_modules"))
    (target / ".venv").symlink_to(ROOT / ".venv")
    config_path = target / ".chalice" / "config.json"
    config = json.loads(config_path.read_text())
    config["stages"]["prod"]["environment_variables"].update(EVERY_OPTION)
    config["stages"]["prod"]["api_access_logs"] = True
    config_path.write_text(json.dumps(config, indent=2))
    return target


@pytest.fixture(scope="module", params=["as-configured", "every-option"])
def report(request, tmp_path_factory) -> dict:
    checkov_run.checkov()  # fails with what to run when the venv is missing: never a silent pass
    build = tmp_path_factory.mktemp("build")
    env = {**_clean_env(build), "AWS_DEFAULT_REGION": "eu-west-1", "OTP_ALARM_EMAIL": "ops@example.com"}
    root = ROOT if request.param == "as-configured" else _tree_with_every_option(
        tmp_path_factory.mktemp("tree") / "phone-verify")
    result = _make_package(build, env, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    return checkov_run.run(build / "out" / "sam.json")


def test_no_finding_is_left_that_is_neither_fixed_nor_explained(report):
    summary = report["summary"]
    assert summary["parsing_errors"] == 0 and summary["resource_count"] >= 10
    assert summary["passed"] >= 10  # checkov read the template: it is not passing by checking nothing
    assert checkov_run.findings(report) == []


def test_each_skip_gives_its_reason_in_the_template_and_on_the_page(report):
    skipped = report["results"]["skipped_checks"]
    assert skipped, "the skips are read from the template's Metadata"
    reasons = [(c.get("check_result") or {}).get("suppress_comment") or "" for c in skipped]
    assert all(len(reason) > 40 for reason in reasons), skipped
    page = (ROOT / "docs" / "going-live.md").read_text()
    section = page[page.index("## checkov"):]
    documented = set(re.findall(r"CKV_AWS_\d+", section))
    assert {c["check_id"] for c in skipped} <= documented


def test_what_is_fixed_passes_and_is_not_skipped(report):
    passed = {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    assert ("CKV_AWS_26", "AWS::SNS::Topic.AlarmTopic") in passed  # the alarm topic is encrypted
    handlers = {r for check, r in passed if check == "CKV_AWS_116"}  # a dead-letter queue
    if report["summary"]["resource_count"] > 20:  # every option: the functions SNS invokes
        assert {"AWS::Serverless::Function.DeliveryStatus", "AWS::Serverless::Function.EmailEvents",
                "AWS::Serverless::Function.WhatsappEvents"} <= handlers
        topics = ("EmailEventsTopic", "WhatsAppEventsTopic")
        assert {("CKV_AWS_26", f"AWS::SNS::Topic.{topic}") for topic in topics} <= passed
        assert ("CKV_AWS_76", "AWS::Serverless::Api.RestAPI") in passed  # access logs on: no skip
    assert not {c for c, _ in skipped} & {"CKV_AWS_26", "CKV_AWS_7"}
