"""The fenced snippets of README.md and docs/*.md, each classified by its fence's info string
(the convention is docs/testing.md's "The docs' snippets run"):

- run: ``sh`` (curl commands and variables only), ``python``, ``js``
  (tests/integration/test_docs_snippets.py runs them against the served app, placeholders filled);
- checked: ``json`` (parses), ``dotenv`` (every name is a variable the code reads, and the
  configuration accepts the fragment), an ``sh`` block of ``make`` commands only (each target and
  variable is the Makefile's), ``text`` and ``mermaid`` figures (a text figure's repository paths
  exist);
- not run: a language followed by ``(not run here`` (Swift, Kotlin, Go, Java, the AWS CLI, ...).

Anything else is ``unmarked``, which the tests refuse: no snippet is skipped silently."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = "(not run here"
RUN = ("sh", "python", "js")
FIGURES = ("text", "mermaid")
# An sh command that runs: curl, or a variable set to a value or to what curl answers.
_CURL = re.compile(r"(?:[A-Z_][A-Z0-9_]*=(?:\$\()?)?curl |[A-Z_][A-Z0-9_]*=[^\s$`;|&]*$")
_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Snippet:
    page: str  # relative to the repository
    line: int  # of the opening fence
    info: str
    code: str
    heading: str = ""  # the nearest heading above it

    @property
    def language(self) -> str:
        return self.info.split(" ", 1)[0] if self.info else ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        """run, checked, not run, or unmarked."""
        if NOT_RUN in self.info:
            return "not run"
        if self.info != self.language:
            return "unmarked"  # an info string this convention does not know
        if self.language in ("json", "dotenv", *FIGURES):
            return "checked"
        if self.language == "sh" and make_commands(self.code):
            return "checked"
        if self.language == "sh" and not all(_CURL.match(c) for c, _ in commands(self.code)):
            return "unmarked"  # only curl runs here: never a make target or an AWS command by mistake
        return "run" if self.language in RUN else "unmarked"


def snippets(pages: list[Path] = PAGES) -> list[Snippet]:
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            name = str(page.relative_to(ROOT)) if ROOT in page.parents else page.name
            headings = re.findall(r"^#{1,6} (.+)$", _FENCE.sub("", text[:match.start()]), re.M)
            heading = headings[-1] if headings else ""
            found.append(Snippet(name, line, match.group(1).strip(), match.group(2), heading))
    return found


def commands(code: str) -> list[tuple[str, list[str]]]:
    """An sh block's commands (continuation lines joined), each with the ``# `` comment lines
    written under it (the sample answers, when they are JSON)."""
    found: list[tuple[str, list[str]]] = []
    pending = ""
    for raw in code.splitlines():
        line = raw.rstrip()
        if not pending and line.startswith("#"):
            if found:
                found[-1][1].append(line.lstrip("#").strip())
            continue
        if not line:
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            found.append((pending, []))
            pending = ""
    return found


def make_commands(code: str) -> list[list[str]] | None:
    """The words of each ``make ...`` command (a trailing comment dropped), or None when the
    block holds anything but make commands."""
    found = []
    for command, _ in commands(code):
        words = shlex.split(command, comments=True)
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]  # VAR=value make ...
        if not words or words[0] != "make":
            return None
        found.append(words[1:])
    return found or None


def samples(comment_lines: list[str]) -> list[tuple[int | None, object]]:
    """The sample answers under a command: ``# {json}`` or ``# 201 {json}`` lines."""
    found: list[tuple[int | None, object]] = []
    for line in comment_lines:
        # A remark in brackets may follow the JSON.
        match = re.fullmatch(r"(?:([1-5][0-9]{2}) )?(\{.*\})(?: \(.*\))?", line)
        if match:
            found.append((int(match.group(1)) if match.group(1) else None, json.loads(match.group(2))))
    return found


def matches(sample: object, answer: object) -> bool:
    """Equal, except that "…" in a sample string stands for the rest of the value."""
    if isinstance(sample, dict):
        return (isinstance(answer, dict) and sample.keys() == answer.keys()
                and all(matches(sample[k], answer[k]) for k in sample))
    if isinstance(sample, list):
        return (isinstance(answer, list) and len(sample) == len(answer)
                and all(matches(s, a) for s, a in zip(sample, answer)))
    if isinstance(sample, str) and "…" in sample:
        return isinstance(answer, str) and answer.startswith(sample.split("…", 1)[0]) and len(answer) > 1
    return type(sample) is type(answer) and sample == answer


def trailing_samples(code: str) -> list[object]:
    """The ``# {json}`` lines that end a Python snippet: what its last print shows."""
    found: list[object] = []
    for line in reversed(code.rstrip().splitlines()):
        if not line.startswith("# {"):
            break
        found.append(json.loads(line[2:]))
    return found


def makefile_targets_and_variables() -> tuple[set[str], set[str]]:
    text = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))
    variables = set(re.findall(r"\$\(([A-Z_][A-Z0-9_]*)\)", text))
    variables |= set(re.findall(r"\$\$([A-Z_][A-Z0-9_]*)", text))
    variables |= set(re.findall(r"^([A-Z_][A-Z0-9_]*) *[?:]?=", text, re.M))
    return targets, variables


def check_make(snippet: Snippet) -> list[str]:
    """What is wrong with an sh block of make commands: unknown targets or variables."""
    targets, variables = makefile_targets_and_variables()
    wrong = []
    for words in make_commands(snippet.code) or []:
        for word in words:
            if "=" in word:
                if word.split("=", 1)[0] not in variables:
                    wrong.append(f"make variable {word.split('=', 1)[0]} is not the Makefile's")
            elif word not in targets:
                wrong.append(f"make {word}: no such target")
    return wrong


def dotenv(code: str) -> dict[str, str]:
    """NAME=value lines (shell quoting, a trailing comment) as a mapping."""
    found = {}
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        assert len(words) == 1 and "=" in words[0], f"not NAME=value: {line!r}"
        name, value = words[0].split("=", 1)
        found[name] = value
    return found


_PATH = re.compile(r"(?:app\.py|(?:chalicelib|scripts|tests|bench|examples|docs)/[^\s]*)")


def figure_paths(code: str) -> list[str]:
    """The repository paths a text figure's lines begin with (the tree of docs/architecture.md)."""
    return [m.group(0) for line in code.splitlines() if (m := _PATH.match(line))]


def missing_paths(code: str) -> list[str]:
    return [path for path in figure_paths(code) if not list(ROOT.glob(path.rstrip("/")))]


def shell_references(code: str) -> set[str]:
    """The upper-case variables an sh snippet reads (``$NAME``, ``${NAME}``) and does not set."""
    read = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", code))
    return read - set(re.findall(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=", code, re.M))


def route_of(snippet: Snippet) -> str | None:
    """The v1 route a JSON snippet is the body of: the heading above it names `POST /path`."""
    match = re.fullmatch(r"`POST (/[^`\s{}]+)`", snippet.heading)
    return match.group(1) if match and snippet.language == "json" else None
