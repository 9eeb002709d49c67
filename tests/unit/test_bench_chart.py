"""`make bench`'s chart (bench/chart.py): one bar per ratio with a goal, each with its goal line,
valid SVG; bench/run.py writes it beside results.json; docs/benchmarks.md shows it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from bench import chart
from tests.conftest import ROOT

SVG = "{http://www.w3.org/2000/svg}"

SAMPLE = {
    "smoke": False,
    "package": {"bytes": 900_000, "limit_bytes": 1_500_000, "ratio": 0.6},
    "cold_start": {"ratio": 1.3, "ratio_package": 1.07, "ratio_compiling": 1.5, "goal_ratio": 1.15},
    "warm": {"request": {"ratio": 1.0, "goal_ratio": 1.3}, "check": {"ratio": 1.4, "goal_ratio": 1.3}},
    "flat": {"ratio": 1.05, "goal_ratio": 1.1, "list_scan_ratio": 734.1},  # no goal: no bar
    "events": {"request": {"ratio": 1.02}, "check": {"ratio": 1.04}},
    "receipts": {"ratio": 1.3},  # no goal: no bar
}


def test_one_bar_per_ratio_with_its_goal_line() -> None:
    root = ET.fromstring(chart.svg(SAMPLE))  # parses: well-formed XML
    assert root.tag == f"{SVG}svg"
    bars = root.findall(f".//{SVG}rect[@class='bar']")
    goals = root.findall(f".//{SVG}line[@class='goal']")
    expected = chart.ratios(SAMPLE)
    assert len(expected) == 7  # cold (as on Lambda), warm x2, flat, events x2, package (no v2, no whatsapp)
    assert len(bars) == len(goals) == len(expected)
    for bar, goal, (label, ratio, limit) in zip(bars, goals, expected):
        assert bar.findtext(f"{SVG}title", "").startswith(f"{label}: {ratio:.3f}")
        # The bar's length and the goal's position are on one scale: the ratio over the goal.
        bar_end = float(bar.get("x", 0)) + float(bar.get("width", 0))
        zero = chart.LABEL_WIDTH
        assert abs((bar_end - zero) / (float(goal.get("x1", 0)) - zero) - ratio / limit) < 0.01
    colours = [bar.get("fill") for bar in bars]
    assert colours[2] != colours[1]  # warm check 1.4 > 1.3: drawn as a goal missed


def test_bench_writes_the_chart_beside_results(tmp_path: Path) -> None:
    out = chart.write(SAMPLE, tmp_path / "results.json")
    assert out == tmp_path / "results.svg"
    ET.parse(out)
    run = (ROOT / "bench" / "run.py").read_text()
    assert "chart.write(results, Path(args.output))" in run


def test_the_committed_chart_is_the_results_and_docs_show_it() -> None:
    committed = ROOT / "bench" / "results.svg"
    ET.parse(committed)
    assert "../bench/results.svg" in (ROOT / "docs" / "benchmarks.md").read_text()
    results = ROOT / "bench" / "results.json"
    if results.exists():  # results.json is not committed; where a run left one, they agree
        assert committed.read_text() == chart.svg(json.loads(results.read_text()))
