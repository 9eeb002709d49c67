"""The dependency lock: uv.lock agrees with pyproject.toml, and each requirements*.txt is exactly
what `make lock` exports from it, so nobody edits a requirements file by hand or forgets to lock
again after changing pyproject.toml. Offline: checking a lock that is up to date needs no index."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UV = Path(sys.executable).with_name("uv")
EXPORTS = {  # file -> the groups `make lock` exports into it (see the Makefile)
    "requirements.txt": [],
    "requirements-run.txt": ["--group", "run"],
    "requirements-dev.txt": ["--group", "dev"],
}


def uv(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    if not UV.exists():
        pytest.fail(f"{UV} is missing: `make test` installs uv from requirements-dev.txt")
    return subprocess.run([str(UV), *args, "--offline", "--python", sys.executable], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_the_lock_agrees_with_pyproject() -> None:
    check = uv("lock", "--check")
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


def test_a_dependency_changed_without_locking_fails_the_check(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyotp = next(line for line in text.splitlines() if line.strip().startswith('"pyotp=='))
    pyproject.write_text(text.replace(pyotp + "\n", "", 1))  # a runtime dependency dropped
    check = uv("lock", "--check", cwd=tmp_path)
    assert check.returncode != 0 and "needs to be updated" in check.stderr, check.stderr
