"""`make` alone prints the targets, one line each (README: "make help lists every target")."""

from __future__ import annotations

import re
import subprocess

from tests.conftest import ROOT


def _phony_targets() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    return re.search(r"^\.PHONY: (.*)$", makefile, re.M).group(1).split()  # type: ignore[union-attr]


def test_make_alone_is_help_and_lists_every_target_once() -> None:
    default = subprocess.run(["make", "-s"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    explicit = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert default.returncode == 0 and default.stdout == explicit.stdout
    listed = [line.split()[0] for line in default.stdout.splitlines() if line.startswith("  ")]
    assert sorted(listed) == sorted(t for t in _phony_targets() if t != "help")
    for line in default.stdout.splitlines()[1:]:
        assert len(line.split(maxsplit=1)) == 2, f"a target without its description: {line!r}"


# The stamps named old: `make -n` then prints the target's own commands, never an install.
OLD = [f"--old-file=.venv/{name}"
       for name in (".python-al2023", ".installed-run-al2023", ".installed-al2023")]


def _dry_run(*args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(["make", "-n", *OLD, *args], cwd=ROOT, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **env})


def test_make_package_measures_the_zip_without_gnu_stat():
    """`stat -c %s` is GNU's: macOS's and BSD's stat have no -c. Python measures it."""
    commands = _dry_run("package", "STAGE=prod").stdout
    assert "deployment.zip" in commands and "stat -c" not in commands
    assert "os.path.getsize" in commands


def test_a_browser_of_ones_own_is_used_and_not_installed(tmp_path):
    browser = tmp_path / "Google Chrome"  # a path with a space, as macOS's
    browser.write_text("#!/bin/sh\n")
    browser.chmod(0o755)
    old_tools = ["--old-file=.deps/checkov-venv/bin/checkov", "--old-file=.deps/node_modules/.bin/dynalite",
                 "--old-file=.deps/node_modules/twilio/package.json"]
    commands = _dry_run(*old_tools, "test", f"CHROMIUM={browser}").stdout
    assert "apt-get" not in commands and f'test -x "{browser}"' in commands
    default = _dry_run(*old_tools, "test", "CHROMIUM=/usr/bin/chromium").stdout
    assert 'test -x "/usr/bin/chromium"' in default


def test_a_missing_browser_is_one_line_that_says_what_to_set(tmp_path):
    """The check's own command, run: CHROMIUM names something that is not there."""
    makefile = (ROOT / "Makefile").read_text()
    check = re.search(r"^CHECK_BROWSER = @(.*)$", makefile, re.M).group(1)  # type: ignore[union-attr]
    missing = str(tmp_path / "nothing")
    result = subprocess.run(["sh", "-c", check.replace("$(CHROMIUM)", missing)], capture_output=True,
                            text=True)
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1
    assert f"CHROMIUM={missing}" in result.stderr and "make test" in result.stderr


def test_the_browser_tests_read_the_same_variable(tmp_path):
    import os
    import sys

    code = "from tests.browser.conftest import CHROMIUM; print(CHROMIUM)"
    found = subprocess.run([sys.executable, "-c", code],
                           cwd=ROOT, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "CHROMIUM": "/opt/chromium/chrome"})
    assert found.stdout.strip() == "/opt/chromium/chrome", found.stderr


def test_checkov_gets_a_venv_of_its_own_from_pinned_requirements():
    """Not in requirements-dev.txt (its pins would fight uv.lock): `make test` makes
    .deps/checkov-venv from tests/checkov/requirements.txt, every package pinned."""
    # --what-if: its requirements just changed, so the rule prints whether or not `make test`
    # (which runs this test) has already made the venv.
    commands = _dry_run("--old-file=.deps/node_modules/.bin/dynalite",
                        "--old-file=.deps/node_modules/twilio/package.json",
                        "--what-if=tests/checkov/requirements.txt", "test").stdout
    assert "-m venv .deps/checkov-venv" in commands
    assert ".deps/checkov-venv/bin/pip install" in commands
    assert "-r tests/checkov/requirements.txt" in commands
    pins = [line for line in (ROOT / "tests" / "checkov" / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")]
    assert any(line.startswith("checkov==") for line in pins) and all("==" in line for line in pins)
    assert "checkov" not in (ROOT / "requirements-dev.txt").read_text()
    assert "checkov" not in (ROOT / "pyproject.toml").read_text().split("[tool.uv]")[0]


def test_make_test_installs_better_auth_at_its_pin():
    """Better Auth from npm, unchanged (tests/integration/test_identity_platforms.py), pinned in
    tests/node/package.json like dynalite and twilio-node."""
    import json

    commands = _dry_run("--old-file=.deps/node_modules/.bin/dynalite",
                        "--old-file=.deps/node_modules/twilio/package.json",
                        "--what-if=tests/node/package.json", "test").stdout
    assert "npm install --prefix .deps" in commands
    assert "better-auth@$(node -p \"require('./tests/node/package.json').devDependencies['better-auth']\")" in commands
    pins = json.loads((ROOT / "tests" / "node" / "package.json").read_text())["devDependencies"]
    assert pins["better-auth"].count(".") == 2 and pins["better-auth"][0].isdigit()  # an exact version
