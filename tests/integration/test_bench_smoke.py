"""The benchmark is not a test, but it must keep running: its smoke mode runs every section
with few repetitions and checks the shape of what it reports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_smoke_runs_every_section(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--output", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {"cold_start", "warm", "flat", "units", "cost"} <= set(results)
    assert results["units"]["request"]["writes"] == 5 and results["units"]["request"]["reads"] == 0
    assert results["units"]["check_right"]["reads"] == 0
    for figure in (results["cold_start"], results["warm"]["request"], results["warm"]["check"], results["flat"]):
        assert figure["ratio"] > 0
    assert "cold start" in run.stdout and "cost per 1,000 verifications" in run.stdout
