"""A stage as .chalice/config.json gives it: its variables, its function and log group names, its
log retention. Read by provision.py, package_template.py, channel_resources.py and api_keys.py;
imports none of them (the steps import this, never one another's runner)."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.deploy.log_groups import DEFAULT_RETENTION_DAYS, RETENTION_DAYS

ROOT = Path(__file__).resolve().parents[2]  # the project (tests point it at a copy)


def chalice_config() -> dict:
    return json.loads((ROOT / ".chalice" / "config.json").read_text())


def stage_config(stage: str) -> dict:
    stages = chalice_config()["stages"]
    if stage not in stages:
        raise SystemExit(f"unknown stage {stage!r}; stages: {', '.join(stages)}")
    return stages[stage]


def stage_variables(stage: str) -> dict[str, str]:
    config = chalice_config()
    return {**config.get("environment_variables", {}), **stage_config(stage).get("environment_variables", {})}


def stage_kind(stage: str) -> str:
    """What the stage is (local, test, dev or prod: chalicelib/settings/env.py STAGES): its own
    OTP_STAGE in .chalice/config.json, which its function runs with, so that a Chalice stage of
    any name (`staging`, `eu-prod`) is one of the four; a stage named after a kind may omit it."""
    from chalicelib.settings.env import STAGES

    kind = stage_variables(stage).get("OTP_STAGE") or (stage if stage in STAGES else None)
    if kind not in STAGES:
        raise SystemExit(f"stage {stage!r}: set its OTP_STAGE in .chalice/config.json to one of "
                         f"{', '.join(STAGES)} (what the stage is: dev and prod are deployed), not {kind!r}")
    return kind


def function_name(stage: str) -> str:
    """The API handler's name: chalice deploy names it <app>-<stage>, and make package does too."""
    return f"{chalice_config()['app_name']}-{stage}"


def log_group_name(stage: str) -> str:
    return f"/aws/lambda/{function_name(stage)}"


def log_retention_days(stage: str) -> int:
    """The stage's `log_retention_days` in .chalice/config.json (our key; chalice's own
    `log_retention_in_days` would name the API handler's log group wrongly), default 30."""
    days = stage_config(stage).get("log_retention_days", DEFAULT_RETENTION_DAYS)
    if days not in RETENTION_DAYS:
        raise SystemExit(f"stage {stage}: log_retention_days must be one of {RETENTION_DAYS}, not {days!r}")
    return days
