"""The API's receipts layer (scripts/deploy/receipt_layer.py, issue 35): `cryptography` for
OTP_RECEIPT_SIGNING=minute_key, built as the Cognito trigger's layer is (scripts/deploy/layers.py),
attached to the API function by `make deploy` and `make package` only when the mode is on."""

from __future__ import annotations

import json
import shutil
import subprocess

from scripts.deploy import package_template, receipt_layer
from tests.conftest import ROOT
from tests.unit.test_makefile import OLD


def _with_minute_keys(monkeypatch, value: str = "minute_key"):
    for module in (package_template, receipt_layer):
        original = module.stage_variables
        monkeypatch.setattr(module, "stage_variables",
                            lambda stage, original=original: {**original(stage), "OTP_RECEIPT_SIGNING": value})


def test_the_layer_holds_cryptography_and_what_it_needs_with_uv_locks_hashes_and_nothing_else():
    text = receipt_layer.requirements()
    names = {line.split("==")[0] for line in text.splitlines() if line and not line.startswith(" ")}
    assert names == {"cryptography", "cffi", "pycparser"}
    assert text.count("--hash=sha256:") >= len(names)


def test_the_mode_is_read_from_the_stages_variables(monkeypatch):
    assert not receipt_layer.enabled("prod")  # the default: one KMS Sign per receipt
    _with_minute_keys(monkeypatch, "MINUTE_KEY")
    assert receipt_layer.enabled("prod")


def test_a_stage_that_signs_with_kms_packages_no_layer():
    resources = package_template.resources("prod")["Resources"]
    assert "ReceiptsLayer" not in resources
    assert "Layers" not in resources["APIHandler"].get("Properties", {})


def test_a_stage_with_minute_keys_packages_the_layer_on_the_api_function(monkeypatch):
    _with_minute_keys(monkeypatch)
    resources = package_template.resources("prod")["Resources"]
    layer = resources["ReceiptsLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "./receipts-layer.zip"
    assert layer["Properties"]["LayerName"] == "phone-verify-prod-receipts"
    assert resources["APIHandler"]["Properties"]["Layers"] == [{"Ref": "ReceiptsLayer"}]


def test_publish_records_the_layer_on_the_api_function_and_takes_it_off_when_the_mode_is_off(
        aws, tmp_path, monkeypatch):
    from scripts.deploy import stage as stage_file

    shutil.copytree(ROOT / ".chalice", tmp_path / ".chalice", ignore=shutil.ignore_patterns("deployed"))
    monkeypatch.setattr(stage_file, "ROOT", tmp_path)
    zipped = tmp_path / "receipts-layer.zip"
    zipped.write_bytes(b"PK-receipts")
    _with_minute_keys(monkeypatch)
    assert receipt_layer.main(["publish", "--stage", "dev", "--zip", str(zipped)]) == 0
    functions = json.loads((tmp_path / ".chalice" / "config.json").read_text())["stages"]["dev"]["lambda_functions"]
    (arn,) = functions["api_handler"]["layers"]
    assert ":layer:phone-verify-dev-receipts:1" in arn
    _with_minute_keys(monkeypatch, "kms")
    assert receipt_layer.main(["publish", "--stage", "dev"]) == 0
    functions = json.loads((tmp_path / ".chalice" / "config.json").read_text())["stages"]["dev"]["lambda_functions"]
    assert "api_handler" not in functions


def _dry_run(*args: str) -> str:
    result = subprocess.run(["make", "-n", *OLD, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_receipts_layer_builds_for_the_architecture_asked():
    assert ("scripts/deploy/receipt_layer.py build --arch aarch64 --out build/dev/receipts-layer.zip"
            in _dry_run("receipts-layer", "STAGE=dev", "LAYER_ARCH=aarch64"))


def test_make_deploy_publishes_the_layer_before_chalice_deploy_and_package_writes_it_beside_the_template():
    deploy = _dry_run("deploy", "STAGE=dev")
    publish = deploy.index("receipt_layer.py publish --stage dev --arch x86_64 --zip build/dev/receipts-layer.zip")
    assert deploy.index("receipt_layer.py enabled --stage dev") < publish < deploy.index("chalice_deploy.py deploy")
    package = _dry_run("package", "STAGE=dev")
    build = package.index("receipt_layer.py build --arch x86_64 --out build/dev/out/receipts-layer.zip")
    assert package.index("chalice package") < build < package.index("cfn-lint")
