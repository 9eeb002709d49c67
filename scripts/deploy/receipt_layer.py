"""The API function's receipts layer: `cryptography` (with cffi and pycparser), for a stage with
OTP_RECEIPT_SIGNING=minute_key, which signs receipts in the function with the minute's key
(chalicelib/factors/minute_keys.py). The API's zip never holds it (tests/integration/test_package.py).

    python scripts/deploy/receipt_layer.py build --out build/dev/receipts-layer.zip [--arch x86_64]
    python scripts/deploy/receipt_layer.py publish --stage dev --zip build/dev/receipts-layer.zip
    python scripts/deploy/receipt_layer.py enabled --stage dev   # exit 0 when the stage signs so

Built as the Cognito trigger's layer is (scripts/deploy/layers.py), from the same
requirements-cognito.txt (`make lock` exports it from pyproject's cognito group, which holds
cryptography), keeping only the packages below. `publish` records the version's ARN in the stage's
``lambda_functions.api_handler.layers`` before `chalice deploy` reads it, and takes it out again
for a stage that signs with KMS; `make package` puts the zip in the template as an
``AWS::Serverless::LayerVersion`` attached to the API function."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.deploy import layers  # noqa: E402
from scripts.deploy.stage import function_name, stage_variables  # noqa: E402

FUNCTION = "api_handler"  # chalice's name for the API's function
RESOURCE = "APIHandler"  # as chalice package names it
LAYER_RESOURCE = "ReceiptsLayer"
ZIP = "receipts-layer.zip"
REQUIREMENTS = "requirements-cognito.txt"
PACKAGES = frozenset({"cryptography", "cffi", "pycparser"})


def enabled(stage: str) -> bool:
    return (stage_variables(stage).get("OTP_RECEIPT_SIGNING") or "kms").lower() == "minute_key"


def layer_name(stage: str) -> str:
    return f"{function_name(stage)}-receipts"


def requirements() -> str:
    return layers.layer_requirements((layers._stage.ROOT / REQUIREMENTS).read_text(), PACKAGES)


def build(out: Path, arch: str = "x86_64") -> str:
    size = layers.build(out, REQUIREMENTS, arch, PACKAGES)
    return f"{out}: the API's receipts layer (cryptography) for {layers.runtime()} on {arch} ({size} bytes)"


def template_additions(stage: str) -> dict:
    """`make package`'s layer (receipts-layer.zip beside the template) on the API function."""
    return {"Resources": {
        LAYER_RESOURCE: {"Type": "AWS::Serverless::LayerVersion", "Properties": {
            "LayerName": layer_name(stage), "ContentUri": f"./{ZIP}",
            "CompatibleRuntimes": [layers.runtime()], "RetentionPolicy": "Delete",
            "Description": "cryptography for the API's minute-key receipts"}},
        RESOURCE: {"Properties": {"Layers": [{"Ref": LAYER_RESOURCE}]}},
    }}


def _publish(lambda_client: Any, stage: str, body: bytes, arch: str) -> str:
    arn = layers.publish(lambda_client, layer_name(stage), "cryptography for the API's receipts", body, arch)
    changed = layers.record_layer(stage, FUNCTION, arn)
    return f"receipts layer {arn}" + (" (recorded in .chalice/config.json)" if changed else "")


def _off(stage: str) -> str | None:
    if layers.record_layer(stage, FUNCTION, None):
        return f"stage {stage} signs receipts with KMS: the receipts layer is off the API function"
    return None


def main(argv: list[str] | None = None) -> int:
    return layers.main(argv, __doc__.splitlines()[0], enabled=enabled, build=build, publish=_publish,
                       off=_off)


if __name__ == "__main__":
    sys.exit(main())
