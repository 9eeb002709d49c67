"""`make bench ARGS="--load --throttle 100"` (bench/load.py) at its smallest: the dev server's
warmed workers on dynalite, a few clients, every verification started and checked, no error,
and every counter exact afterwards (the check the load run makes: a counter that lost or
doubled a count fails it); then the same with one DynamoDB write in 10 throttled once in the
server's processes (bench/load_server.py), whose throttles are counted from the server's log.
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
                             "--verifications", "12", "--throttle", "10", "--output", str(output)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    printed = json.loads(result.stdout[result.stdout.index("{"):])
    load, throttled = printed["load"], printed["load_throttled"]
    for run in (load, throttled):
        assert (run["errors"], run["sms_in_log"], run["counters_exact"]) == (0, 12, True), run
        assert run["counters"]["approvals"] == run["counters"]["budget"] == 12
        assert run["start_p99_ms"] >= run["start_p50_ms"] > 0 and run["ratio"] > 0
        assert run["check_p99_ms"] > 0
        # The workers' CPU is read (a start and a check take milliseconds of it), as is the floor's.
        cpu = run["cpu_ms_per_verification"]
        assert cpu["server"] > 1 and cpu["dynalite"] > 1 and cpu["floor_replay"] > 1, cpu
    # The same verifications called in process, without HTTP, are measured too.
    assert 1 < load["cpu_ms_per_verification"]["in_process_app"], load
    # About 170 writes at 1 in 10: throttles were injected (none in the plain run), each one
    # absorbed by botocore's retry (no error), and no retried write counted twice (exact).
    assert load["throttled_writes"] == 0 and throttled["throttled_writes"] > 0, throttled
    assert throttled["throttle_one_in"] == 10
    assert throttled["start_p99_delta_ms"] == round(throttled["start_p99_ms"] - load["start_p99_ms"], 1)
    assert json.loads(output.read_text()) == {"cold_start": {"ratio_package": 1.1}, "load": load,
                                              "load_throttled": throttled}
    missing = tmp_path / "none.json"  # no full run's results.json: printed only, nothing written
    again = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--load", "--clients", "1",
                            "--verifications", "2", "--output", str(missing)],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and not missing.exists(), again.stderr[-2000:]
