"""README.md, SECURITY.md, CHANGELOG.md and docs/*.md: every relative link points at a file of
this repository, and every `#anchor` at a heading of the file it names (GitHub's heading ids), so
moving or renaming a page or a heading fails here instead of leaving a dead link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", ROOT / "SECURITY.md", ROOT / "CHANGELOG.md",
         *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _prose(path: Path) -> str:
    """The page without its code blocks and inline code (a `](x)` there is not a link)."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    return re.sub(r"`[^`\n]*`", "", text)


def _heading_ids(path: Path) -> set[str]:
    """GitHub's ids: lower case, punctuation dropped (hyphens kept), spaces to hyphens, and
    -1, -2 ... on repeats; and an HTML anchor's (``<a id="...">``), which GitHub keeps."""
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    ids: set[str] = set(re.findall(r'<a id="([^"]+)"', text))
    for line in text.splitlines():
        if match := re.match(r"#{1,6} (.+)", line):
            base = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
            slug, n = base, 0
            while slug in ids:
                n += 1
                slug = f"{base}-{n}"
            ids.add(slug)
    return ids


def _relative_links(path: Path) -> list[str]:
    return [link for link in _LINK.findall(_prose(path))
            if not re.match(r"[a-z][a-z0-9+.-]*:", link)]  # http:, https:, mailto: are not ours


def test_there_are_pages_and_links() -> None:
    assert len(PAGES) > 5
    assert sum(len(_relative_links(page)) for page in PAGES) > 20


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        file = (page.parent / target).resolve() if target else page
        if not file.exists() or ROOT not in file.parents:
            broken.append(f"{link}: no file {file}")
        elif anchor and file.suffix == ".md" and anchor not in _heading_ids(file):
            broken.append(f"{link}: no heading #{anchor} in {file.name}")
    assert not broken, broken


def test_the_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path: Path, monkeypatch) -> None:
    """The check itself: a missing file and a missing heading are both reported."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n## A heading: with `code`\n\n[ok](#a-heading-with-code) [bad](#nope) "
                    "[gone](missing.md) [web](https://example.com)\n\n```\n[not a link](nowhere.md)\n```\n")
    assert _relative_links(page) == ["#a-heading-with-code", "#nope", "missing.md"]
    assert "a-heading-with-code" in _heading_ids(page)
    assert "nope" not in _heading_ids(page)
    page.write_text('- <a id="a-point"></a>**A point**\n', encoding="utf-8")
    assert _heading_ids(page) == {"a-point"}
