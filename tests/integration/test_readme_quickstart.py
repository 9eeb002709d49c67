"""The README's quick start, run as a newcomer would paste it: its curl commands against the
app served as `make run` serves it (the local stage, the console provider and its inbox, a KMS
with the receipt key), each answer compared with the JSON sample written under the command."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any, Iterator

import pytest

from tests.conftest import ROOT
from tests.live import moto_kms

MAKE_RUN_URL = "http://127.0.0.1:8000"


def quick_start_commands() -> list[tuple[str, str | None]]:
    """(command, the sample answer written under it or None) for the quick start's curl block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", section, re.S) if "curl" in b]
    assert len(blocks) == 1, "the quick start has one curl block"
    commands: list[tuple[str, str | None]] = []
    for line in blocks[0].strip().splitlines():
        if line.startswith("# "):
            command, _ = commands[-1]
            commands[-1] = (command, line[2:])
        else:
            commands.append((line, None))
    return commands


def matches(sample: Any, answer: Any) -> bool:
    """Equal, except that "…" in a sample string stands for the rest of the value."""
    if isinstance(sample, dict):
        return (isinstance(answer, dict) and sample.keys() == answer.keys()
                and all(matches(sample[k], answer[k]) for k in sample))
    if isinstance(sample, str) and "…" in sample:
        return isinstance(answer, str) and answer.startswith(sample.split("…", 1)[0]) and len(answer) > 1
    return type(sample) is type(answer) and sample == answer


@pytest.fixture(scope="module")
def make_run_server(serve) -> Iterator[str]:
    with moto_kms("local") as kms:
        # One process (the inbox lives in the server's memory, as under `make run`); a table of
        # its own, so no other test's verification of the README's number is pending there.
        server = serve(stage="local", forking=False, OTP_TABLE_NAME="phone-verify-readme", **kms)
        yield server.url


def test_the_quick_start_answers_what_the_readme_shows(make_run_server: str) -> None:
    commands = quick_start_commands()
    assert sum(sample is not None for _, sample in commands) == 2  # the start and the check
    marker = "\n@@answer-end@@\n"
    script = "set -eu\n" + "".join(f"{command}\nprintf '{marker.strip()}\\n'\n" for command, _ in commands)
    run = subprocess.run(["bash", "-c", script.replace(MAKE_RUN_URL, make_run_server)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    answers = run.stdout.split(marker.lstrip("\n"))
    for (command, sample), answer in zip(commands, answers):
        if sample is not None:
            assert matches(json.loads(sample), json.loads(answer)), (command, sample, answer)


def test_the_comparison_sees_a_missing_field_and_a_wrong_value() -> None:
    sample = {"id": "VE…", "status": "approved", "valid": True}
    assert matches(sample, {"id": "VE12", "status": "approved", "valid": True})
    assert not matches(sample, {"id": "VE12", "status": "approved", "valid": True, "receipt": "x"})
    assert not matches(sample, {"id": "VE12", "status": "pending", "valid": True})
    assert not matches(sample, {"id": "XX12", "status": "approved", "valid": True})
    assert not matches({"resend_after": 30}, {"resend_after": 30.0})
