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
