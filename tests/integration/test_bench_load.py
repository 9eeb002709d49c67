"""`make bench ARGS=--load` (bench/load.py) at its smallest: the forking dev server on dynalite,
a few clients, every verification started and checked, no error, and every counter exact
afterwards (the check the load run makes: a counter that lost or doubled a count fails it).
Its figures mean nothing at this size; docs/benchmarks.md has a real run's."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_load_run_completes_with_exact_counters(tmp_path):
    output = tmp_path / "results.json"  # a full run's, standing in: the run adds its load beside the rest
    output.write_text(json.dumps({"cold_start": {"ratio_package": 1.1}}))
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--load", "--clients", "3",
                             "--verifications", "12", "--output", str(output)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    load = json.loads(result.stdout[result.stdout.index("{"):])["load"]
    assert (load["errors"], load["sms_in_log"], load["counters_exact"]) == (0, 12, True), load
    assert load["counters"]["approvals"] == load["counters"]["budget"] == 12
    assert load["start_p99_ms"] >= load["start_p50_ms"] > 0 and load["ratio"] > 0
    assert json.loads(output.read_text()) == {"cold_start": {"ratio_package": 1.1}, "load": load}
    missing = tmp_path / "none.json"  # no full run's results.json: printed only, nothing written
    again = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--load", "--clients", "1",
                            "--verifications", "2", "--output", str(missing)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and not missing.exists(), again.stderr[-2000:]
