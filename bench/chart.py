"""The ratios of bench/results.json as a bar chart, bench/results.svg (shown in docs/benchmarks.md).

    python bench/chart.py [bench/results.json]   # writes results.svg beside it (make bench does too)

One horizontal bar per ratio that has a goal (the figures `make bench`'s table prints with
"<= goal"), each with its goal as a vertical line across its row: a bar past its line is a goal
missed, drawn in another colour. Plain SVG written with the standard library (no plotting
package: the chart is a few rectangles and lines).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# (label, section path in results.json, ratio key, goal: a key in that section or a number).
# The goals without a key are the ones bench/report.py prints as constants.
RATIOS: tuple[tuple[str, tuple[str, ...], str, str | float], ...] = (
    # The cold start's goal is as on Lambda (make package's zip); docs/benchmarks.md gives the
    # source tree's figure no goal.
    ("cold start as on Lambda (make package's zip)", ("cold_start",), "ratio_package", "goal_ratio"),
    ("cold start as on Lambda (make deploy's zip)", ("cold_start",), "ratio_deploy", "goal_ratio"),
    ("warm request", ("warm", "request"), "ratio", "goal_ratio"),
    ("warm check", ("warm", "check"), "ratio", "goal_ratio"),
    ("warm v2 start", ("v2", "start"), "ratio", "goal_ratio"),
    ("warm v2 check", ("v2", "check"), "ratio", "goal_ratio"),
    ("v2 start naming two Rate Limits", ("v2", "rate_limits"), "ratio", "goal_ratio"),
    ("check with 100,000 pending vs 100", ("flat",), "ratio", "goal_ratio"),
    ("request with events vs without", ("events", "request"), "ratio", 1.05),
    ("check with events vs without", ("events", "check"), "ratio", 1.05),
    ("WhatsApp start vs floor", ("whatsapp",), "ratio", "goal_ratio"),
    ("Supabase hook send vs floor", ("hook",), "ratio", "goal_ratio"),
    ("Lambda package vs its size limit", ("package",), "ratio", 1.0),
)

ROW, LABEL_WIDTH, BAR_WIDTH, TOP = 28, 300, 400, 40


def ratios(results: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(label, ratio, goal) for each ratio with a goal that the results hold (a section a
    partial run skipped is left out)."""
    found = []
    for label, path, key, goal in RATIOS:
        section: Any = results
        for part in path:
            section = section.get(part) if isinstance(section, dict) else None
        if not isinstance(section, dict) or key not in section:
            continue
        limit = section.get(goal) if isinstance(goal, str) else goal
        if limit is not None:
            found.append((label, float(section[key]), float(limit)))
    return found


def svg(results: dict[str, Any]) -> str:
    rows = ratios(results)
    scale_max = max([1.5, *(max(r, g) * 1.1 for _, r, g in rows)])
    x = lambda value: LABEL_WIDTH + BAR_WIDTH * value / scale_max  # noqa: E731
    width, height = LABEL_WIDTH + BAR_WIDTH + 90, TOP + ROW * len(rows) + 40
    title = "make bench: each ratio (ours / floor) and its goal"
    if results.get("smoke"):
        title += " (smoke run)"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f"<title>{escape(title)}</title>",
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="10" y="22" font-size="14" font-weight="bold">{escape(title)}</text>']
    # The 1.0 line: at the floor.
    parts.append(f'<line x1="{x(1):.1f}" y1="{TOP - 6}" x2="{x(1):.1f}" y2="{TOP + ROW * len(rows)}" '
                 'stroke="#999999" stroke-dasharray="2,3"/>')
    for i, (label, ratio, goal) in enumerate(rows):
        y = TOP + ROW * i
        colour = "#2e7d32" if ratio <= goal else "#c62828"
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>',
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 5}" width="{x(ratio) - LABEL_WIDTH:.1f}" '
            'height="16" '
            f'fill="{colour}"><title>{escape(label)}: {ratio:.3f} (goal &lt;= {goal:g})</title></rect>',
            f'<line class="goal" x1="{x(goal):.1f}" y1="{y + 1}" x2="{x(goal):.1f}" y2="{y + 25}" '
            'stroke="#000000" stroke-width="2"/>',
            f'<text x="{max(x(ratio), x(goal)) + 6:.1f}" y="{y + 17}">{ratio:.2f} / {goal:g}</text>',
        ]
    legend_y = TOP + ROW * len(rows) + 24
    parts += [f'<text x="10" y="{legend_y}" fill="#555555">bar: the ratio (green: within its goal, '
              "red: past it); black line: the goal; dotted line: 1.0, the floor</text>", "</svg>"]
    return "\n".join(parts) + "\n"


def write(results: dict[str, Any], results_file: Path) -> Path:
    """The chart beside ``results_file`` (bench/results.json -> bench/results.svg)."""
    out = results_file.with_suffix(".svg")
    out.write_text(svg(results), encoding="utf-8")
    return out


if __name__ == "__main__":
    source = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results.json")
    print(write(json.loads(source.read_text()), source))
