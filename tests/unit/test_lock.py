"""The dependency lock: uv.lock agrees with pyproject.toml, and each requirements*.txt is exactly
what `make lock` exports from it, so nobody edits a requirements file by hand or forgets to lock
again after changing pyproject.toml. Offline, and with nothing in uv's cache: checking a lock that
is up to date needs no index, and the proof that the check catches a change uses a project whose
packages are local directories, which uv resolves with no index (a fresh machine has an empty cache,
and `uv lock --check --offline` on our own project then fails to resolve rather than saying the lock
is stale: the real project's drift is shown statically, from what uv.lock records, instead)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

UV = Path(sys.executable).with_name("uv")
EXPORTS = {  # file -> the groups `make lock` exports into it (see the Makefile)
    "requirements.txt": [],
    "requirements-run.txt": ["--group", "run"],
    "requirements-dev.txt": ["--group", "dev"],
    "requirements-cognito.txt": ["--only-group", "cognito"],  # the Cognito trigger's layer
}


def uv(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not UV.exists():
        pytest.fail(f"{UV} is missing: `make test` installs uv from requirements-dev.txt")
    return subprocess.run([str(UV), *args, "--offline", "--python", sys.executable], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def lock_check(cwd: Path) -> subprocess.CompletedProcess[str]:
    """The check: the one command both the check on this project and its proof below run."""
    return uv("lock", "--check", cwd=cwd)


def test_the_lock_agrees_with_pyproject() -> None:
    check = lock_check(ROOT)
    assert check.returncode == 0, f"uv.lock is stale: run `make lock`\n{check.stderr}"


@pytest.mark.parametrize("name", EXPORTS)
def test_each_requirements_file_is_the_lock_exported(name: str, tmp_path: Path) -> None:
    out = tmp_path / name
    export = uv("export", "--quiet", "--frozen", "--no-default-groups", "--no-emit-project",
                "--format", "requirements-txt", *EXPORTS[name], "-o", str(out))
    assert export.returncode == 0, export.stderr
    body = [line for line in out.read_text().splitlines() if not line.startswith("#    uv export")]
    ours = [line for line in (ROOT / name).read_text().splitlines() if not line.startswith("#    uv export")]
    assert ours == body, f"{name} differs from uv.lock: run `make lock`"


def test_every_requirement_is_pinned_with_a_hash() -> None:
    for name in EXPORTS:
        entries = [line for line in (ROOT / name).read_text().splitlines()
                   if line and not line.startswith((" ", "#"))]
        assert entries, name
        assert all("==" in line and line.endswith("\\") for line in entries), name  # hashes follow


# -- the proof that the check catches a change ---------------------------------------------------
# `uv lock --check` resolves again whenever the lock's recorded requirements differ from
# pyproject.toml, and only then compares; offline, with an empty cache, resolving our project
# needs PyPI's metadata and fails ("No solution found ... the network was disabled") before it can
# say "needs to be updated", and the same failure comes from a broken check (`uv lock` without
# `--check`). So the check is proved on a project whose dependencies are local directories (uv reads
# their static metadata, no index, no cache), and the real files' agreement is checked statically.

_PACKAGE = ('[project]\nname = "{}"\nversion = "1.0"\n\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n')
_PROJECT = """[project]
name = "locked"
version = "0.1.0"
requires-python = ">=3.12"
dependencies = ["alpha", "beta"]

[dependency-groups]
run = ["gamma"]
dev = [{include-group = "run"}, "delta"]

[tool.uv.sources]
alpha = { path = "alpha" }
beta = { path = "beta" }
gamma = { path = "gamma" }
delta = { path = "delta" }
epsilon = { path = "epsilon" }
"""
CHANGES = {  # what a contributor edits in pyproject.toml and forgets to lock
    "a runtime dependency dropped": ('dependencies = ["alpha", "beta"]', 'dependencies = ["alpha"]'),
    "a runtime dependency added": ('"alpha", "beta"]', '"alpha", "beta", "epsilon"]'),
    "a dev dependency added": ('"delta"]', '"delta", "epsilon"]'),
    "an included group changed": ('run = ["gamma"]', 'run = ["gamma", "epsilon"]'),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_dependency_changed_without_locking_fails_the_check(change: str, tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma", "delta", "epsilon"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pyproject.toml").write_text(_PACKAGE.format(name))
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(_PROJECT)
    locked = uv("lock", cwd=tmp_path)
    assert locked.returncode == 0, locked.stderr
    assert lock_check(tmp_path).returncode == 0, "a lock just made must pass the check"
    before, after = CHANGES[change]
    assert before in _PROJECT
    pyproject.write_text(_PROJECT.replace(before, after, 1))
    check = lock_check(tmp_path)
    assert check.returncode != 0 and "needs to be updated" in check.stderr, check.stderr


def _requirement(name: str, extras: list[str] | tuple[str, ...] = (), specifier: str = "",
                 marker: str = "") -> tuple[str, tuple[str, ...], str, str]:
    return canonicalize_name(name), tuple(sorted(extras)), specifier, marker


def _from_pyproject(line: str) -> tuple[str, tuple[str, ...], str, str]:
    req = Requirement(line)
    return _requirement(req.name, sorted(req.extras), str(req.specifier), str(req.marker or ""))


def _from_lock(entry: dict[str, object]) -> tuple[str, tuple[str, ...], str, str]:
    extras = entry.get("extras", [])
    assert isinstance(extras, list), entry
    return _requirement(str(entry["name"]), extras, str(entry.get("specifier", "")),
                        str(entry.get("marker", "")))


def recorded_disagreements(pyproject: dict[str, Any], lock: dict[str, Any]) -> list[str]:
    """Where uv.lock's record of the project's requirements (what uv compares with pyproject.toml
    before it decides to resolve) differs from pyproject.toml: the groups as uv records them, each
    ``{include-group}`` as its own entry (uv records an included group's entries in both groups)."""
    project = next(p for p in lock["package"] if p.get("source") == {"virtual": "."})
    metadata = project.get("metadata", {})
    dependencies = pyproject["project"].get("dependencies", [])
    wanted = {"dependencies": sorted(_from_pyproject(r) for r in dependencies)}
    recorded = {"dependencies": sorted(_from_lock(r) for r in metadata.get("requires-dist", []))}
    groups = pyproject.get("dependency-groups", {})

    def flat(group: str) -> list[str]:
        return [r for item in groups[group]
                for r in (flat(item["include-group"]) if isinstance(item, dict) else [item])]

    for group in groups:
        wanted[group] = sorted(_from_pyproject(r) for r in flat(group))
        recorded[group] = sorted(_from_lock(r) for r in metadata.get("requires-dev", {}).get(group, []))
    for group in metadata.get("requires-dev", {}):
        recorded.setdefault(group, sorted(_from_lock(r) for r in metadata["requires-dev"][group]))
        wanted.setdefault(group, [])
    return [f"{group}: pyproject.toml {wanted[group]} but uv.lock {recorded[group]}"
            for group in sorted(wanted) if wanted[group] != recorded[group]]


def test_the_lock_records_pyprojects_requirements() -> None:
    """The real files, statically (an empty cache cannot resolve them offline): the lock's record
    is pyproject.toml's requirements, name for name and pin for pin."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert recorded_disagreements(pyproject, lock) == [], "uv.lock is stale: run `make lock`"


@pytest.mark.parametrize("edit", ["a runtime dependency dropped", "a pin changed", "a dev dependency added"])
def test_a_change_to_the_real_pyproject_disagrees_with_the_lock(edit: str) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    pyotp = next(line for line in text.splitlines() if line.strip().startswith('"pyotp=='))
    edited = {
        "a runtime dependency dropped": text.replace(pyotp + "\n", "", 1),
        "a pin changed": text.replace('"pyotp==2.12.0"', '"pyotp==2.11.0"', 1),
        "a dev dependency added": text.replace('    "uv==', '    "six==1.17.0",\n    "uv==', 1),
    }[edit]
    assert edited != text, "the edit must change pyproject.toml (the pins moved: update this test)"
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    assert recorded_disagreements(tomllib.loads(edited), lock) != []
