"""`make deploy`'s chalice: `chalice deploy`, its zip rewritten as `make package`'s is.

    python scripts/deploy/chalice_deploy.py deploy --stage prod

`chalice deploy` builds and uploads its own zip, with no hook between the two, and that zip
holds source only: every cold start of a function deployed the default way compiled the ~100
modules of the cold path (1.68 of the floor, against `make package`'s 1.18: docs/benchmarks.md).
This runs chalice's own command line in this process with one change: its packager's
``create_deployment_package`` (chalice.deploy.packager.LambdaDeploymentPackager, what the
deployer's build stage calls) returns a copy of chalice's zip rewritten by
scripts/deploy/package_bytecode.py, the same step `make package` runs. So both deploy paths
upload the same bytes, and `.chalice/deployed/<stage>.json` stays chalice's own: nothing to
migrate.

chalice keeps its zip in `.chalice/deployments/<hash of requirements.txt, the app's files and
vendor/>-<python>.zip` and reuses it while that hash holds; the rewritten copy sits beside it,
named also by a hash of what the rewrite depends on (scripts/cold_modules.txt, package_bytecode.py
and this Python's bytecode magic), so a change to any of them builds a new one, and chalice's own
zip is never modified (a rewrite of it in place would be rewritten again on reuse).

``deploy_zip`` builds the zip `chalice deploy` would upload, through chalice's own build stage
(chalice.deploy.deployer.create_build_stage) and offline: no AWS call is needed to build it
(tests/integration/test_deploy_zip.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.deploy import package_bytecode  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
_INSTALLED = "_phone_verify_bytecode"


def _rewrite_key() -> str:
    """What the rewrite's output depends on besides chalice's zip."""
    h = hashlib.sha256(importlib.util.MAGIC_NUMBER)
    for path in (ROOT / "scripts" / "cold_modules.txt", HERE / "package_bytecode.py"):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def bytecode_zip(chalice_zip: str | Path) -> Path:
    """The copy of ``chalice_zip`` with the cold path as bytecode (made once per inputs)."""
    source = Path(chalice_zip)
    target = source.with_name(f"{source.stem}-bytecode-{_rewrite_key()}.zip")
    if not target.exists():
        tmp = target.with_name("partial-" + target.name)  # (rewrite's own temporary: partial-...tmp)
        shutil.copyfile(source, tmp)
        stats = package_bytecode.rewrite(tmp, package_bytecode.cold_modules())
        os.replace(tmp, target)
        print(f"{target.name}: {stats['compiled']} modules as bytecode, {stats['dropped']} files dropped, "
              f"{stats['bytes_before']:,} -> {stats['bytes']:,} bytes", flush=True)
    return target


def install() -> None:
    """Make chalice's packager hand back the rewritten zip (idempotent)."""
    from chalice.deploy.packager import LambdaDeploymentPackager

    original = LambdaDeploymentPackager.create_deployment_package
    if getattr(original, _INSTALLED, False):
        return

    def create_deployment_package(self: Any, project_dir: str, python_version: str) -> str:
        return str(bytecode_zip(original(self, project_dir, python_version)))

    setattr(create_deployment_package, _INSTALLED, True)
    LambdaDeploymentPackager.create_deployment_package = create_deployment_package  # type: ignore[method-assign]


def deploy_zip(stage: str, project_dir: Path = ROOT) -> Path:
    """The zip `chalice deploy --stage <stage>` uploads, built by its own build stage, offline."""
    from chalice.cli.factory import CLIFactory
    from chalice.deploy import models
    from chalice.deploy.deployer import DeploymentPackager, create_build_stage
    from chalice.deploy.swagger import TemplatedSwaggerGenerator
    from chalice.utils import UI, OSUtils

    install()
    config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
    stage_steps = create_build_stage(OSUtils(), UI(), TemplatedSwaggerGenerator(), config)
    [packager] = [step for step in stage_steps._steps if isinstance(step, DeploymentPackager)]
    package = models.DeploymentPackage(models.Placeholder.BUILD_STAGE)
    packager.handle_deploymentpackage(config, package)
    return Path(str(package.filename))


def main(argv: list[str]) -> int:
    install()
    from chalice.cli import main as chalice_main

    sys.argv = ["chalice", *argv]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
