"""`make package`'s template: chalice package merged with the table and alarms, linted by
cfn-lint; the deployment zip stays under 1.5 MB."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LIMIT = 1_500_000


def test_package_lints_clean_and_the_zip_is_small(tmp_path):
    bin_dir = Path(sys.executable).parent
    resources = tmp_path / "resources.json"
    resources.write_text(subprocess.run([sys.executable, str(ROOT / "scripts" / "package_template.py"), "prod"],
                                        capture_output=True, text=True, check=True).stdout)
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    out = tmp_path / "out"
    subprocess.run([str(bin_dir / "chalice"), "package", "--stage", "prod", "--merge-template", str(resources),
                    str(out)], cwd=ROOT, env=env, check=True, capture_output=True)
    lint = subprocess.run([str(bin_dir / "cfn-lint"), str(out / "sam.json")], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    template = json.loads((out / "sam.json").read_text())
    table = template["Resources"]["VerificationsTable"]
    assert table["DeletionPolicy"] == "Retain"
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert {"ProviderFailureRateAlarm", "SendBudgetAlarm", "ConversionRateAlarm"} <= set(template["Resources"])
    api = template["Resources"]["RestAPI"]["Properties"]
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] == 100 and "DefinitionBody" in api  # merged, not replaced
    missing = template["Resources"]["GatewayResponseMissingAuthenticationToken"]["Properties"]
    assert missing["StatusCode"] == "404" and missing["RestApiId"] == {"Ref": "RestAPI"}
    function = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function")
    assert function["Properties"]["Timeout"] == 20 and function["Properties"]["MemorySize"] == 512
    assert function["Properties"]["ReservedConcurrentExecutions"] == 100

    size = (out / "deployment.zip").stat().st_size
    print(f"\ndeployment.zip: {size:,} bytes (limit {LIMIT:,})")
    assert size < LIMIT, f"deployment.zip is {size:,} bytes, over {LIMIT:,}"
