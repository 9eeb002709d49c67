"""Lambda layers built from uv.lock's exported requirements (with their hashes), shared by the
Cognito trigger's (scripts/deploy/cognito_trigger.py: the AWS Encryption SDK) and the API's
receipts layer (scripts/deploy/receipt_layer.py: `cryptography` for OTP_RECEIPT_SIGNING=minute_key).

A layer is ``pip download --platform manylinux2014_<arch> --only-binary=:all:`` of a requirements
file for the Lambda's Python, without what the Lambda runtime ships (boto3 and its dependencies),
unpacked under python/ into a zip whose bytes depend only on the wheels (fixed dates and order),
so that publishing makes a new version only when they changed."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Collection

from scripts.deploy import stage as _stage

# What the Lambda Python runtime ships (boto3 and what it needs): left out of every layer.
RUNTIME_SHIPS = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
                           "urllib3"})
ARCHITECTURES = {"x86_64": "x86_64", "aarch64": "arm64"}  # pip's manylinux arch -> Lambda's name
_FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def runtime() -> str:
    return f"python3.{sys.version_info.minor}"  # the Lambda's runtime is the Python that packages


def layer_requirements(text: str, only: Collection[str] | None = None) -> str:
    """A requirements file without the packages the runtime ships and, with ``only``, without
    any package not named there (each entry is its line and the hash lines that continue it)."""
    kept, keep = [], True
    for line in text.splitlines():
        if line and not line.startswith((" ", "#")):
            name = re.split(r"[=<>!~;\s]", line, maxsplit=1)[0].lower()
            keep = name not in RUNTIME_SHIPS and (only is None or name in only)
        if keep and not line.startswith("#"):
            kept.append(line)
    return "\n".join(kept) + "\n"


def download_command(requirements: Path, dest: Path, arch: str = "x86_64") -> list[str]:
    """The wheels for the Lambda's platform, checked against uv.lock's hashes."""
    if arch not in ARCHITECTURES:
        raise SystemExit(f"LAYER_ARCH must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
    return [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--require-hashes", "--only-binary=:all:", "--platform", f"manylinux2014_{arch}",
            "--implementation", "cp", "--python-version", f"3.{sys.version_info.minor}",
            "--dest", str(dest), "-r", str(requirements)]


def layer_zip(wheels: list[Path]) -> bytes:
    """The wheels unpacked under python/ (where Lambda puts a layer's Python packages on the
    path), with fixed dates and order: the same wheels make the same bytes."""
    entries: dict[str, bytes] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if not name.endswith("/") and ".dist-info/RECORD" not in name:
                    entries[f"python/{name}"] = archive.read(name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, _FIXED_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name])
    return out.getvalue()


def build(out: Path, requirements_file: str, arch: str = "x86_64",
          only: Collection[str] | None = None) -> int:
    """Writes the layer's zip to ``out``; its size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = Path(tmp) / "layer.txt"
        requirements.write_text(layer_requirements((_stage.ROOT / requirements_file).read_text(), only))
        wheels = Path(tmp) / "wheels"
        subprocess.run(download_command(requirements, wheels, arch), check=True)
        body = layer_zip(sorted(wheels.glob("*.whl")))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    return len(body)


def publish(lambda_client: Any, name: str, what: str, body: bytes, arch: str = "x86_64") -> str:
    """The layer's ARN: its latest version when it holds these bytes, else a new version."""
    digest = hashlib.sha256(body).hexdigest()
    versions = lambda_client.list_layer_versions(LayerName=name).get("LayerVersions", [])
    latest = max(versions, key=lambda v: v["Version"], default=None)
    if latest is not None and latest.get("Description", "").endswith(digest):
        return str(latest["LayerVersionArn"])
    published = lambda_client.publish_layer_version(
        LayerName=name, Content={"ZipFile": body}, CompatibleRuntimes=[runtime()],
        CompatibleArchitectures=[ARCHITECTURES[arch]], LicenseInfo="Apache-2.0",
        Description=f"{what}, sha256 {digest}")
    return str(published["LayerVersionArn"])


def record_layer(stage: str, function: str, arn: str | None) -> bool:
    """Put the layer's ARN in the stage's ``lambda_functions.<function>.layers`` (what `chalice
    deploy` reads), or take it out (None); True when the file changed."""
    path = _stage.ROOT / ".chalice" / "config.json"
    config = json.loads(path.read_text())
    functions = config["stages"][stage].setdefault("lambda_functions", {})
    entry = functions.get(function, {})
    if arn is None:
        if "layers" not in entry:
            return False
        del entry["layers"]
        if not entry:
            del functions[function]
    elif entry.get("layers") == [arn]:
        return False
    else:
        functions[function] = {**entry, "layers": [arn]}
    path.write_text(json.dumps(config, indent=2) + "\n")
    return True


def main(argv: list[str] | None, description: str, *, enabled: Callable[[str], bool],
         build: Callable[[Path, str], str], publish: Callable[[Any, str, bytes, str], str],
         off: Callable[[str], str | None]) -> int:
    """The command line of a layer's script (`build --out ZIP [--arch A]`, `publish --stage S
    --zip ZIP`, `enabled --stage S`: exit 0 when the stage uses the layer). ``build`` says what
    it wrote; ``publish`` publishes and records, saying what it did; ``off``, for a stage without
    the layer, what there is to say (None: nothing)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("step", choices=["build", "publish", "enabled"])
    parser.add_argument("--stage")
    parser.add_argument("--arch", default="x86_64")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--zip", type=Path)
    args = parser.parse_args(argv)
    if args.step == "enabled":
        return 0 if enabled(args.stage) else 1
    if args.step == "build":
        print(build(args.out, args.arch))
        return 0
    if not enabled(args.stage):
        said = off(args.stage)
        if said:
            print(said)
        return 0
    import boto3

    print(publish(boto3.client("lambda"), args.stage, args.zip.read_bytes(), args.arch))
    return 0
