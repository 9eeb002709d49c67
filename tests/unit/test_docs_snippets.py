"""Issue 30: every fenced snippet of README.md and docs/*.md is run (tests/integration/
test_docs_snippets.py), checked here, or marked ``(not run here)`` in its page: none is
skipped silently. The checks: a JSON snippet parses; an env fragment (``dotenv``) names only
variables the code reads and the configuration accepts it; an sh block of make commands names
the Makefile's targets and variables; a text figure's repository paths exist."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.docs_snippets import (
    Snippet, check_make, commands, dotenv, make_commands, missing_paths, samples, shell_references, snippets,
    trailing_samples,
)
from tests.unit.test_docs_config import own_variables, provider_variables

ALL = snippets()


def _of(kind: str, *languages: str) -> list[Snippet]:
    return [s for s in ALL if s.kind == kind and (not languages or s.language in languages)]


def test_every_snippet_is_run_checked_or_marked_not_run() -> None:
    unmarked = [f"{s.id} ({s.info or 'no language'})" for s in ALL if s.kind == "unmarked"]
    assert not unmarked, ("give each a language this test runs or checks, or mark it "
                          f"'(not run here)' after its language (docs/testing.md): {unmarked}")
    kinds = Counter(s.kind for s in ALL)
    assert kinds["run"] >= 10 and kinds["checked"] >= 10 and kinds["not run"] >= 5, kinds


@pytest.mark.parametrize("snippet", _of("checked", "json"), ids=lambda s: s.id)
def test_a_json_snippet_parses(snippet: Snippet) -> None:
    json.loads(snippet.code)


@pytest.mark.parametrize("snippet", _of("checked", "dotenv"), ids=lambda s: s.id)
def test_an_env_fragment_names_variables_the_code_reads_and_configures(snippet: Snippet) -> None:
    from chalicelib.config import Config

    fragment = dotenv(snippet.code)
    unknown = sorted(set(fragment) - own_variables() - provider_variables())
    assert not unknown, f"{snippet.id}: no code reads {unknown}"
    # On the local stage (WhatsApp and email on, with the console provider), as `make run` is.
    stages = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]
    Config.from_env({**stages["local"]["environment_variables"], "OTP_SECRET": "s" * 32, **fragment})


@pytest.mark.parametrize("snippet", [s for s in _of("checked", "sh")], ids=lambda s: s.id)
def test_a_make_snippet_names_the_makefiles_targets_and_variables(snippet: Snippet) -> None:
    assert not check_make(snippet), check_make(snippet)


@pytest.mark.parametrize("snippet", _of("checked", "text"), ids=lambda s: s.id)
def test_a_text_figures_paths_exist(snippet: Snippet) -> None:
    missing = missing_paths(snippet.code)
    assert not missing, f"{snippet.id} names paths that do not exist: {missing}"


@pytest.mark.parametrize("snippet", [s for s in ALL if s.language == "sh"], ids=lambda s: s.id)
def test_an_sh_snippet_reads_only_variables_it_sets_or_the_code_reads(snippet: Snippet) -> None:
    from tests.unit.test_docs_config import _make_run_reads

    unknown = shell_references(snippet.code) - own_variables() - provider_variables()
    unknown -= set(_make_run_reads())
    assert not unknown, f"{snippet.id} reads {sorted(unknown)}: set nowhere in it, read nowhere in the code"


@pytest.mark.parametrize("snippet", _of("run", "python"), ids=lambda s: s.id)
def test_a_python_snippet_compiles(snippet: Snippet) -> None:
    compile(snippet.code, snippet.id, "exec")


def test_the_checks_see_what_they_must(tmp_path: Path) -> None:
    """The classifier and the checks themselves: an unmarked Swift or bare block, a wrong make
    target, an unknown variable, a missing path are all seen."""
    page = tmp_path / "page.md"
    page.write_text("```swift\nlet a = 1\n```\n\n```\nfree text\n```\n\n"
                    "```swift (not run here)\nlet b = 2\n```\n\n"
                    "```sh\nmake run\nmake nope STAGE=dev BOGUS=1\n```\n\n```sh (run)\nls\n```\n\n"
                    "```dotenv\nOTP_NOT_A_VARIABLE=1  # a comment\n```\n\n"
                    "```text\nchalicelib/no_such_module.py  gone\nchalicelib/config.py  here\n```\n")
    found = {s.code.split("\n", 1)[0]: s for s in snippets([page])}
    assert {line: s.kind for line, s in found.items()} == {
        "let a = 1": "unmarked", "free text": "unmarked", "let b = 2": "not run", "make run": "checked",
        "ls": "unmarked", "OTP_NOT_A_VARIABLE=1  # a comment": "checked",
        "chalicelib/no_such_module.py  gone": "checked"}
    assert check_make(found["make run"]) == ["make nope: no such target",
                                             "make variable BOGUS is not the Makefile's"]
    fragment = dotenv(found["OTP_NOT_A_VARIABLE=1  # a comment"].code)
    assert set(fragment) - own_variables() == {"OTP_NOT_A_VARIABLE"}
    assert missing_paths(found["chalicelib/no_such_module.py  gone"].code) == ["chalicelib/no_such_module.py"]
    assert shell_references('A=1\ncurl $A/$B ${OTP_STAGE}\n') == {"B", "OTP_STAGE"}
    assert make_commands("make run\ncurl -s x\n") is None  # a block with anything else is not checked
    mixed = snippets([_page(tmp_path, "```sh\nmake secret STAGE=prod\naws ssm put-parameter --name x\n```")])
    assert [s.kind for s in mixed] == ["unmarked"]  # only curl runs: never make or aws by mistake
    safe = "```sh\nAPI=http://127.0.0.1:8000\nCODE=$(curl -s $API/x)\ncurl -s $API/y \\\n  -d z\n```\n"
    assert [s.kind for s in snippets([_page(tmp_path, safe)])] == ["run"]


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "other.md"
    page.write_text(text)
    return page


def test_the_command_reader_joins_lines_and_reads_the_samples() -> None:
    listed = commands('A=1\ncurl -s $A \\\n  -d x\n# 201 {"id": "VE…"}\n'
                      '# 403 {"error": {}} (a wrong code)\n# prose\n')
    assert listed == [("A=1", []), ("curl -s $A    -d x",
                                    ['201 {"id": "VE…"}', '403 {"error": {}} (a wrong code)', "prose"])]
    assert samples(listed[1][1]) == [(201, {"id": "VE…"}), (403, {"error": {}})]
    assert trailing_samples('print(x)\n# {"a": 1}\n# {"a": null}\n') == [{"a": None}, {"a": 1}]
    assert trailing_samples('# {"a": 1}\nprint(x)\n') == []
