"""No import cycles among our modules: each module imports cleanly on its own, and the
configuration and the provider registry do not import each other both ways."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.unit.test_architecture import imports


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every chalicelib module a file imports and runs, at the top or inside a function (not in a
    ``TYPE_CHECKING`` block: tests/unit/test_architecture.py)."""
    return {name for name, _, runs in imports(path, modules) if runs}


def _module_graph() -> dict[str, set[str]]:
    modules = {}
    for path in (ROOT / "chalicelib").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return {name: {m for m in _imports(path, modules) if m in modules and m != name}
            for name, path in modules.items()}


def test_the_configuration_and_the_providers_do_not_import_each_other():
    """The providers' registry is configuration (chalicelib/settings/providers.py): the
    configuration reads it there, never from the providers' package, which imports neither."""
    graph = _module_graph()
    assert "chalicelib.settings.providers" in graph["chalicelib.config"]
    assert "chalicelib.channels.providers" not in graph["chalicelib.config"]
    assert "chalicelib.config" not in graph["chalicelib.channels.providers"]


def test_no_import_cycle_among_our_modules():
    graph = _module_graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif len(path) < 12:
                visit(nxt, path + [nxt])

    for name in graph:
        visit(name, [name])
    assert not cycles, cycles[:3]


def test_each_module_imports_on_its_own():
    for name in ("chalicelib.config", "chalicelib.channels.providers", "chalicelib.errors",
                 "chalicelib.verify.limits"):
        run = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr


def test_app_is_routes_only():
    """The composition root is chalicelib/wiring.py and the route groups are blueprints; app.py
    stays a short list of routes (issue 20)."""
    source = (ROOT / "app.py").read_text()
    assert len(source.splitlines()) < 300
    assert "boto3" not in source and "functools.cache" not in source


def test_the_passkeys_verifier_loads_on_the_passkey_routes_only():
    """ecdsa and rsa (pure Python, issue 34) and the verifier are imported on first use: the
    app's import (every cold start) loads none of them, a passkey verification loads them."""
    probe = ("import sys, app\n"
             "heavy = ('ecdsa', 'rsa', 'pyasn1', 'chalicelib.passkeys.webauthn',\n"
             "         'chalicelib.passkeys.service')\n"
             "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
             "from chalicelib.passkeys import cose\n"
             "cose.PublicKey(cose.ES256, x=b'\\x01' * 32, y=b'\\x02' * 32).verify(b'', b'')\n"
             "assert 'ecdsa' in sys.modules\n")
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
