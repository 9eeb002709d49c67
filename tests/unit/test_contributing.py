"""The contributor's kit (CONTRIBUTING.md): the files a fork's contributor and GitHub read agree
with the project: the Python version, CI's matrix, Dependabot's entries and the files they
update, pre-commit's hooks and `make lint`, every imported package declared, no reference to a
file that does not exist."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import yaml

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared() -> set[str]:
    return {re.split(r"[=<>!~\[ ]", d, maxsplit=1)[0].lower() for d in PYPROJECT["project"]["dependencies"]}


def test_python_version_is_a_lambda_runtime_the_project_accepts():
    version = (ROOT / ".python-version").read_text().strip()
    assert version in ("3.12", "3.13")
    assert PYPROJECT["project"]["requires-python"] == ">=3.12"
    assert f"python{version}" in (ROOT / "scripts" / "find_python.sh").read_text()


def test_ci_runs_make_test_on_both_runtimes_with_the_matrix_python():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["strategy"]["matrix"]["python"] == ["3.12", "3.13"]
    steps = job["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "${{ matrix.python }}"
    [run] = [s["run"] for s in steps if "run" in s]
    assert run.startswith("make test") and f"PYTHON=${{{{ steps.{setup['id']}.outputs.python-path }}}}" in run
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")  # one run, no matrix


def test_dependabot_watches_uv_pip_npm_and_actions_where_their_files_are():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    entries = {u["package-ecosystem"]: u["directory"] for u in config["updates"]}
    assert set(entries) == {"uv", "pip", "npm", "github-actions"}
    assert (ROOT / entries["uv"].lstrip("/") / "uv.lock").exists()
    assert (ROOT / entries["pip"].lstrip("/") / "requirements.txt").exists()
    assert (ROOT / entries["npm"].lstrip("/") / "package.json").exists()
    assert (ROOT / ".github" / "workflows").is_dir()
    # uv's pull requests change the lock only: the file says how the requirements are exported again.
    assert "make lock" in (ROOT / ".github" / "dependabot.yml").read_text()


def test_the_npm_tools_are_installed_at_the_versions_dependabot_updates():
    pins = json.loads((ROOT / "tests" / "node" / "package.json").read_text())["devDependencies"]
    assert set(pins) == {"dynalite", "twilio", "better-auth"}
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", version) for version in pins.values())
    makefile = (ROOT / "Makefile").read_text()
    assert not re.search(r"(dynalite|twilio|better-auth)@\d", makefile), "the Makefile pins a version of its own"
    assert "tests/node/package.json" in makefile


def test_pre_commit_runs_what_make_lint_runs():
    hooks = {h["id"]: h for repo in yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
             for h in repo["hooks"]}
    assert {"ruff", "mypy", "ruff-format"} <= set(hooks)
    assert hooks["ruff"]["entry"].endswith("-m ruff check") and hooks["mypy"]["entry"].endswith("-m mypy")
    assert "--check" in hooks["ruff-format"]["entry"]  # a check: it never rewrites a file
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)  # type: ignore[union-attr]
    for path in ("app.py", "chalicelib", "scripts"):
        assert path in lint and re.escape(path).replace("\\", "") in hooks["ruff"]["files"].replace("\\", "")


def _third_party_imports() -> set[str]:
    found = set()
    for path in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else []
            found |= {name.split(".")[0] for name in names}
    return {n for n in found if n not in sys.stdlib_module_names and n not in ("chalicelib", "app")}


def test_every_package_the_lambda_code_imports_is_declared():
    """What the function imports is what its package carries: declared in pyproject's
    dependencies (a package borrowed from another's dependencies goes when that one drops it),
    or given by the Lambda runtime (boto3, botocore, SnapStart's hook) or chalice."""
    runtime = {"boto3", "botocore", "snapshot_restore_py", "chalice"}
    # The Cognito trigger's layer (pyproject's cognito group), attached to that function only.
    layer = {re.split(r"[=<>!~\[ ]", d, maxsplit=1)[0].lower() for d in PYPROJECT["dependency-groups"]["cognito"]}
    distributions = packages_distributions()
    undeclared = sorted(
        module for module in _third_party_imports() - runtime
        if not {d.lower() for d in distributions.get(module, [module])} & (_declared() | layer))
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {', '.join(undeclared)}"
    assert "idna" in _third_party_imports()  # the collector sees the imports inside functions too


def test_the_layers_packages_are_imported_by_the_cognito_trigger_and_the_minute_keys_only():
    """aws-encryption-sdk (and its cryptography) is in the trigger's layer, cryptography in the
    API's receipts layer (OTP_RECEIPT_SIGNING=minute_key), never in the API's zip: imported by
    chalicelib/hooks/cognito.py and chalicelib/factors/minute_keys.py alone, inside their
    functions (never at import time)."""
    importers = sorted(str(p.relative_to(ROOT)) for p in [ROOT / "app.py", *(ROOT / "chalicelib").rglob("*.py")]
                       if re.search(r"^\s*(?:import|from) (?:aws_encryption_sdk|cryptography)\b", p.read_text(), re.M))
    assert importers == ["chalicelib/factors/minute_keys.py", "chalicelib/hooks/cognito.py"]
    for importer in importers:
        tree = ast.parse((ROOT / importer).read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert not [n for n in top if "aws_encryption_sdk" in ast.dump(n) or "cryptography" in ast.dump(n)]
    minute_keys = (ROOT / "chalicelib" / "factors" / "minute_keys.py").read_text()
    assert "aws_encryption_sdk" not in minute_keys


def test_pyproject_names_no_file_that_does_not_exist():
    text = (ROOT / "pyproject.toml").read_text()
    named = set(re.findall(r"[\w./-]+\.(?:md|txt|py|json|lock)\b", text))
    missing = sorted(n for n in named if not (ROOT / n).exists() and not (ROOT / "docs" / n).exists())
    assert not missing, f"pyproject.toml refers to: {', '.join(missing)}"


def test_the_contributors_templates_and_guide_exist():
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    for section in ("## Set-up", "## The test layers", "## Adding a provider", "## Adding a channel",
                    "## The rules a change keeps", "## Style", "CHROMIUM="):
        assert section in guide
    assert (ROOT / ".github" / "pull_request_template.md").read_text().strip()
    for template in sorted((ROOT / ".github" / "ISSUE_TEMPLATE").glob("*.md")):
        front = yaml.safe_load(template.read_text().split("---")[1])
        assert front["name"] and front["about"], template
    assert len(list((ROOT / ".github" / "ISSUE_TEMPLATE").glob("*.md"))) >= 2
