"""checkov on a packaged template, offline: one line per finding that is neither fixed nor
skipped with its reason (scripts/deploy/template_checks.py), exit 1 when there is any.

    python scripts/deploy/checkov_run.py build/prod/out/sam.json

checkov runs from its own venv (`make checkov` makes .deps/checkov-venv from
tests/checkov/requirements.txt; CHECKOV=/path/to/checkov names another). Offline: no platform
key, --skip-download (no guidelines or policies fetched), BC_SKIP_MAPPING (no mapping fetched),
CKV_SKIP_PACKAGE_UPDATE_CHECK (no PyPI look-up for a newer version).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / ".deps" / "checkov-venv" / "bin" / "checkov"
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


def checkov() -> Path:
    path = Path(os.environ.get("CHECKOV") or DEFAULT)
    if not path.exists():
        raise SystemExit(f"no checkov at {path}: `make checkov` installs it "
                         "(or set CHECKOV=/path/to/checkov)")
    return path


def run(template: Path) -> dict:
    """checkov's JSON report on ``template`` (the CloudFormation framework only)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_API_KEY", "PRISMA_"))}
    result = subprocess.run(
        [str(checkov()), "--file", str(template), "--framework", "cloudformation", "--skip-download",
         "--output", "json", "--soft-fail"],
        env={**env, **OFFLINE}, capture_output=True, text=True, timeout=600)
    try:
        report = json.loads(result.stdout)
    except ValueError:
        raise SystemExit(f"checkov printed no report (exit {result.returncode}): "
                         f"{result.stderr[-2000:]}") from None
    return report[0] if isinstance(report, list) else report


def findings(report: dict) -> list[str]:
    return [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]


def main(argv: list[str]) -> int:
    report = run(Path(argv[0]))
    summary = report["summary"]
    for line in findings(report):
        print(f"checkov: {line}", file=sys.stderr)
    print(f"checkov {summary['checkov_version']} on {argv[0]}: {summary['failed']} finding(s) left; checks "
          f"met {summary['passed']}, skipped with a reason {summary['skipped']} (deploy/template_checks.py)")
    return 1 if summary["failed"] or summary["parsing_errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
