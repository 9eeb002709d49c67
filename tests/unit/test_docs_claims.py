"""Issue 30: what README.md and docs/*.md say about the code, checked against the code (the
variables' reference is tests/unit/test_docs_config.py's, the links test_docs_links.py's, the
snippets test_docs_snippets.py's): every `make` target a page names exists, every OTP_/SMS_
variable a page names is one the code reads, every repository path a page names exists, and the
providers' table and count are the registry's."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.docs_snippets import makefile_targets_and_variables
from tests.unit.test_docs_config import own_variables, provider_variables


@functools.cache
def read_variables() -> frozenset[str]:
    """The OTP_/SMS_ variables and the providers' settings the code reads (collected once)."""
    return frozenset(own_variables() | provider_variables())

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Named on purpose though nothing reads them any more: docs/events.md's move from the queue.
RETIRED = {"OTP_EVENTS_QUEUE"}
# Written by a run, git-ignored (.gitignore): a page may name them before they exist.
GENERATED = ("bench/results.json", "tests/browser/screenshots/", "build/")
_PATH = re.compile(r"`((?:app\.py|(?:chalicelib|scripts|tests|bench|examples|docs|\.chalice)/[^`\s]*))`")
NUMBERS = {10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen",
           16: "sixteen"}


def _ids(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_make_target_a_page_names_exists(page: Path) -> None:
    targets, _ = makefile_targets_and_variables()
    named = set(re.findall(r"`make ([a-z][a-z0-9-]*)", page.read_text(encoding="utf-8")))
    assert not named - targets, f"no such make target: {sorted(named - targets)}"


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_variable_a_make_command_sets_is_read(page: Path) -> None:
    """`make api-key STAGE=dev NAME=shop`, `PORT=9000 make run`: each name is the Makefile's, or
    read by what the target runs (scripts/find_python.sh's PYTHON, make run's variables, the
    stage's variables)."""
    from tests.unit.test_docs_config import _make_run_reads

    _, variables = makefile_targets_and_variables()
    finder = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", (ROOT / "scripts" / "find_python.sh").read_text()))
    known = variables | finder | set(_make_run_reads()) | read_variables()
    unknown = set()
    for code in re.findall(r"`([^`\n]*\bmake [a-z][^`\n]*)`", page.read_text(encoding="utf-8")):
        unknown |= set(re.findall(r"\b([A-Z][A-Z0-9_]*)=", code)) - known
    assert not unknown, f"make reads none of {sorted(unknown)}"


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_variable_a_page_names_is_one_the_code_reads(page: Path) -> None:
    named = set(re.findall(r"\b((?:OTP|SMS)_[A-Z0-9]+(?:_[A-Z0-9]+)*)\b", page.read_text(encoding="utf-8")))
    unknown = named - read_variables() - RETIRED
    assert not unknown, f"the code reads none of {sorted(unknown)}"


def repository_paths(text: str) -> list[str]:
    """Paths in inline code: `chalicelib/x.py`, `tests/unit/`, `.chalice/policy-STAGE.json` (a
    stage written STAGE or <stage> stands for dev); globs (`routes_*.py`) must match something."""
    found = []
    for path in _PATH.findall(text):
        path = path.rstrip(".,:;)").replace("STAGE", "dev").replace("<stage>", "dev")
        if ".chalice/deployed" not in path and not path.startswith(GENERATED):
            found.append(path)
    return found


@pytest.mark.parametrize("page", PAGES, ids=_ids)
def test_every_repository_path_a_page_names_exists(page: Path) -> None:
    missing = [p for p in repository_paths(page.read_text(encoding="utf-8"))
               if not list(ROOT.glob(p.split("::")[0].rstrip("/")))]
    assert not missing, f"no such file or folder: {missing}"


def test_the_path_check_sees_a_missing_module() -> None:
    paths = repository_paths("see `chalicelib/config.py`, `chalicelib/gone.py`, "
                             "`.chalice/policy-STAGE.json`, `bench/results.json`, "
                             "`tests/unit/test_x.py::test_y`.")
    assert paths == ["chalicelib/config.py", "chalicelib/gone.py", ".chalice/policy-dev.json",
                     "tests/unit/test_x.py::test_y"]
    assert [p for p in paths if not list(ROOT.glob(p.split("::")[0]))] == ["chalicelib/gone.py",
                                                                          "tests/unit/test_x.py::test_y"]


def _sms_providers() -> dict[str, bool]:
    from chalicelib.channels.providers import REGISTRY

    return {name: spec.voice for name, spec in REGISTRY.items() if "sms" in spec.channels}


def test_the_providers_table_lists_every_sms_provider_and_its_voice() -> None:
    page = (ROOT / "docs" / "providers.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z-]+)` \|.*\| (yes|no)\b[^|]*\|$", page, re.M))
    assert {name: voice == "yes" for name, voice in rows.items()} == _sms_providers()


def test_the_readme_counts_the_sms_providers_built_in() -> None:
    """The providers beside `console` (which only prints): "(twelve built in)" lagged the registry."""
    count = NUMBERS[len(_sms_providers()) - 1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"({count} built in)" in readme and f"the {count} SMS providers" in readme, count


def test_the_limits_tables_defaults_are_the_codes() -> None:
    """docs/limits.md restates the limits' defaults: each row's default cell gives, in order, the
    default of each bounded number or flag its variable cell names (0 and false read "off")."""
    from tests.unit.test_docs_config import _reads

    ints, flags = _reads("_int"), _reads("_bool")
    checked = 0
    for line in (ROOT / "docs" / "limits.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if not line.startswith("| ") or len(cells) != 4:
            continue
        expected = []
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)", cells[1]):
            if name in ints:
                expected.append("off" if ints[name][0] == 0 else str(ints[name][0]))
            elif name in flags:
                expected.append("on" if flags[name][0] else "off")
        if expected:
            checked += 1
            documented = re.findall(r"[0-9]+|\boff\b|\bon\b", cells[2])
            assert documented[:len(expected)] == expected, (cells, expected)
    assert checked >= 12
