"""schemathesis against the served app: every phase, a fixed seed, four checks. Any 5xx, any
undocumented status, any body that does not match its schema or content type fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"


def test_schemathesis_finds_nothing(serve, tmp_path):
    server = serve(OTP_MAX_VERIFICATIONS_PER_NUMBER_PER_DAY="1000", OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW="1000",
                   OTP_MAX_SENDS_PER_PREFIX_PER_HOUR="100000")
    schemathesis = Path(sys.executable).parent / "schemathesis"
    run = subprocess.run(
        [str(schemathesis), "run", f"{server.url}/openapi.json",
         "--checks", CHECKS, "--phases", "examples,coverage,fuzzing,stateful",
         "--seed", "20261122", "--max-examples", "15", "--workers", "1",
         "--request-timeout", "20"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path,
    )
    summary = run.stdout[-6000:]
    print(summary)
    assert run.returncode == 0, summary + run.stderr[-2000:]
