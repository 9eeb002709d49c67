"""`make deploy`'s zip: what `chalice deploy` uploads, built offline by chalice's own build
stage with scripts/deploy/chalice_deploy.py's packager (no AWS call, no credentials), holds the
cold path as bytecode as `make package`'s does, and serves a start and a check from a cold
interpreter loading no module of the zip from source (tests/integration/test_package.py's probe)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_package import _COLD_PROBE, _clean_env, _stage_providers

_BUILD = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from scripts.deploy.chalice_deploy import deploy_zip
first = deploy_zip("prod")
print(json.dumps({"zip": str(first), "again": str(deploy_zip("prod"))}))
"""


@pytest.fixture(scope="module")
def deployed_zip(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("home")
    env = {**_clean_env(home), "AWS_DEFAULT_REGION": "eu-west-1", "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([sys.executable, "-c", _BUILD, str(ROOT)], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "log": result.stdout}


def test_the_deploy_path_uploads_the_rewritten_copy_and_reuses_it(deployed_zip):
    path = Path(deployed_zip["zip"])
    assert path.parent == ROOT / ".chalice" / "deployments"
    assert re.fullmatch(r"[0-9a-f]{32}-python3\.1[23]-bytecode-[0-9a-f]{12}\.zip", path.name), path.name
    assert (path.parent / re.sub(r"-bytecode-[0-9a-f]{12}", "", path.name)).exists()  # chalice's own, untouched
    assert deployed_zip["again"] == deployed_zip["zip"]  # the same inputs: the same zip, not rebuilt


def test_the_deploy_zip_holds_the_cold_path_as_bytecode(deployed_zip):
    from scripts.deploy.package_bytecode import cold_modules

    names = set(zipfile.ZipFile(deployed_zip["zip"]).namelist())
    modules = cold_modules()
    assert {m + "c" for m in modules} <= names and not set(modules) & names
    assert "app.pyc" in names and "app.py" not in names
    assert not [n for n in names if n.endswith(".pyc") and n[:-1] in names]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyi")]
    assert os.path.getsize(deployed_zip["zip"]) < 2_000_000


def test_the_deploy_zip_serves_a_cold_start_from_bytecode_only(deployed_zip, tmp_path):
    with zipfile.ZipFile(deployed_zip["zip"]) as archive:
        archive.extractall(tmp_path)
    env = {**os.environ, "PROJECT_ROOT": str(ROOT), "OTP_STAGE": "test", "OTP_TABLE_NAME": "cold-probe",
           "OTP_SECRET": "probe-secret-0123456789abcdef0123456789", "SMS_PROVIDER": "console",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "probe", "AWS_SECRET_ACCESS_KEY": "probe",
           "PYTHONPATH": "", "STAGE_PROVIDERS": json.dumps(sorted(_stage_providers()))}
    env = {k: v for k, v in env.items() if not k.startswith("AWS_ENDPOINT_URL")}
    result = subprocess.run([sys.executable, "-c", _COLD_PROBE], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert (probe["start"], probe["check"]) == (201, 200)
    files = [f for phase in probe["phases"].values() for f in phase]
    assert "app.pyc" in files and not [f for f in files if f.endswith(".py")], files


def test_make_deploy_runs_chalice_through_the_bytecode_packager():
    recipe = re.search(r"^deploy:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe is not None
    assert "scripts/deploy/chalice_deploy.py deploy --stage $(STAGE)" in recipe.group(1)
    assert "bin/chalice deploy" not in recipe.group(1)
