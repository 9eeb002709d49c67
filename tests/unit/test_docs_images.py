"""The pictures in README.md and docs/*.md: README shows the page at its top (before its first
section), every picture has alt text and is a PNG of this repository, and every picture of
docs/screenshots/ is one the browser tests take (`shoot(page, name, docs=True)` in
tests/browser/test_layout.py), so `make screenshots` takes it again when the page changes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.unit.test_docs_links import PAGES, _prose

SHOTS = ROOT / "docs" / "screenshots"
# ![alt](path) and <img src="path" alt="alt">, in either attribute order.
_MARKDOWN = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_HTML = re.compile(r"<img\s[^>]*>", re.I)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


def images(text: str) -> list[tuple[str, str]]:
    """(alt, src) of every picture in a page's prose, in order."""
    found = [(m.start(), m.group(1), m.group(2)) for m in _MARKDOWN.finditer(text)]
    for m in _HTML.finditer(text):
        attrs = dict(_ATTR.findall(m.group(0)))
        found.append((m.start(), attrs.get("alt", ""), attrs.get("src", "")))
    return [(alt, src) for _, alt, src in sorted(found)]


def _taken_by_the_tests() -> set[str]:
    names: set[str] = set()
    for test in (ROOT / "tests" / "browser").glob("test_*.py"):
        names.update(re.findall(r'shoot\(\w+, "([\w-]+)", docs=True\)', test.read_text(encoding="utf-8")))
    return names


def test_readme_shows_the_page_at_its_top() -> None:
    text = _prose(ROOT / "README.md")
    top = text.split("\n## ", 1)[0]
    shown = images(top)
    assert shown, "README.md shows no picture of the page before its first section"
    for _, src in shown:
        assert src.startswith("docs/screenshots/"), src  # the page as the browser tests saw it


def problems(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for alt, src in images(_prose(page)):
        file = (page.parent / src).resolve()
        if len(alt.strip()) < 10:
            problems.append(f"{src}: no alt text a reader without the picture can use")
        if not file.is_file() or root not in file.parents:
            problems.append(f"{src}: no file {file}")
        elif file.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
            problems.append(f"{src}: not a PNG")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_picture_exists_and_says_what_it_shows(page: Path) -> None:
    assert not problems(page)


def test_every_screenshot_is_taken_by_a_browser_test() -> None:
    taken = _taken_by_the_tests()
    assert taken, "no shoot(..., docs=True) in tests/browser"
    on_disk = {p.stem for p in SHOTS.glob("*.png")}
    assert on_disk - taken == set(), "pictures no test takes again: they drift from the page"
    assert taken - on_disk == set(), "run `make screenshots` and commit docs/screenshots/"
    shown = {Path(src).stem for page in PAGES for _, src in images(_prose(page)) if "screenshots/" in src}
    assert shown - taken == set()


def test_the_checker_sees_a_missing_picture_and_a_missing_alt(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text('# T\n\n![](gone.png)\n<img alt="The code step" src="docs/x.png" width="10">\n'
                    "`![not](a-picture.png)`\n")
    assert images(_prose(page)) == [("", "gone.png"), ("The code step", "docs/x.png")]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "x.png").write_bytes(b"GIF89a")
    assert problems(page, tmp_path) == ["gone.png: no alt text a reader without the picture can use",
                                        f"gone.png: no file {tmp_path / 'gone.png'}", "docs/x.png: not a PNG"]
