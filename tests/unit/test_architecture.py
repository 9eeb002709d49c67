"""The house's rules (docs/architecture.md, issue 30): chalicelib/ is a package per capability over
a small kernel. Read from the source (ast), so a rule broken anywhere, at the top of a module or
inside a function, fails here:

- no import cycle among our modules (the imports that run: a ``TYPE_CHECKING`` block does not);
- the kernel (chalicelib's top-level modules and settings/) imports no capability, nor wiring.py;
- a capability takes from another only its public face (``from chalicelib.verify import X``, the
  names its ``__init__`` exports), never its internals (``chalicelib.verify.store``);
- no capability imports chalicelib/wiring.py or app.py (they are handed factories instead), and
  the capabilities' own dependencies form no circle;
- at most 12 modules at chalicelib's top level; each public face names what its modules define
  and importing it loads none of them (the cold start).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CAPABILITIES = ("verify", "factors", "totp", "passkeys", "delivery", "events", "channels", "web", "openapi",
                "hooks", "twilio_v2")
COMPOSITION = ("chalicelib.wiring",)  # the composition root: it may import anything, lazily
MAX_TOP_LEVEL = 12


def _modules(root: Path, top: str = "chalicelib") -> dict[str, Path]:
    modules = {}
    for path in (root / top).rglob("*.py"):
        parts = path.relative_to(root).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, modules: dict[str, Path], top: str = "chalicelib") -> list[tuple[str, int, bool]]:
    """(module imported, line, runs) for every chalicelib import in ``path``; ``runs`` is False
    inside ``if TYPE_CHECKING:``. ``from P import name`` names P.name when that is a module."""
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, runs: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for grandchild in child.body:
                    visit_one(grandchild, False)
                for grandchild in child.orelse:
                    visit_one(grandchild, runs)
            else:
                visit_one(child, runs)

    def visit_one(node: ast.AST, runs: bool) -> None:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(top):
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.append((name if name in modules else node.module, node.lineno, runs))
        elif isinstance(node, ast.Import):
            found.extend((a.name, node.lineno, runs) for a in node.names if a.name.startswith(top))
        visit(node, runs)

    visit(ast.parse(path.read_text()), True)
    return found


def layer(module: str) -> str:
    """``kernel``, ``composition`` or the capability a module belongs to."""
    if module in COMPOSITION:
        return "composition"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in CAPABILITIES:
        return parts[1]
    return "kernel"  # chalicelib itself, its top-level modules and settings/


def violations(root: Path) -> list[str]:
    """Every broken rule under ``root`` (a checkout), one line each."""
    modules = _modules(root)
    problems = []
    top = sorted(p.name for p in (root / "chalicelib").glob("*.py") if p.name != "__init__.py")
    if len(top) > MAX_TOP_LEVEL:
        problems.append(f"{len(top)} modules at chalicelib's top level (at most {MAX_TOP_LEVEL}): {top}")
    graph: dict[str, set[str]] = {name: set() for name in modules}
    capability_graph: dict[str, set[str]] = {c: set() for c in CAPABILITIES}
    for name, path in sorted(modules.items()):
        own = layer(name)
        where = path.relative_to(root)
        for target, line, runs in imports(path, modules):
            if runs and target in modules and target != name:
                graph[name].add(target)
            theirs = layer(target)
            if target in ("chalicelib.wiring", "app") and own != "composition":
                problems.append(f"{where}:{line}: imports {target} (the composition root hands factories in)")
            elif own == "kernel" and theirs not in ("kernel",):
                problems.append(f"{where}:{line}: the kernel imports {target} ({theirs})")
            elif own in CAPABILITIES and theirs in CAPABILITIES and theirs != own:
                capability_graph[own].add(theirs)
                if target != f"chalicelib.{theirs}":
                    problems.append(f"{where}:{line}: {own} imports {target}, {theirs}'s internals "
                                    f"(take it from chalicelib.{theirs}'s public face)")
    problems += [f"import cycle: {' -> '.join(c)}" for c in _cycles(graph)]
    problems += [f"capabilities in a circle: {' -> '.join(c)}" for c in _cycles(capability_graph)]
    return list(dict.fromkeys(problems))  # one line per import statement


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                visit(nxt, path + [nxt])
        done.add(node)

    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    return cycles


def test_the_house_keeps_its_rules():
    assert violations(ROOT) == []


def test_no_import_cycle_among_the_scripts():
    """scripts/: deploy/, keys/, local/; a step never imports the runner that runs it (the circle
    channel_resources.py <-> provision.py ended: both read the stage from deploy/stage.py)."""
    modules = _modules(ROOT, "scripts")
    graph = {name: {t for t, _, runs in imports(path, modules, "scripts") if runs and t in modules and t != name}
             for name, path in modules.items()}
    assert _cycles(graph) == []


def test_at_most_twelve_modules_at_chalicelibs_top_level():
    top = [p for p in (ROOT / "chalicelib").glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= MAX_TOP_LEVEL, sorted(p.name for p in top)


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_a_public_face_names_what_its_modules_define_and_loads_none_of_them(capability):
    """``from chalicelib.<capability> import X`` finds X, and importing the package alone loads
    none of its modules (nothing heavy at cold start: scripts/cold_modules.txt)."""
    probe = (
        "import importlib, sys\n"
        f"face = importlib.import_module('chalicelib.{capability}')\n"
        f"loaded = sorted(m for m in sys.modules if m.startswith('chalicelib.{capability}.'))\n"
        "assert not loaded, loaded\n"
        "for name in face.__all__:\n"
        "    getattr(face, name)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# -- the rules catch what they are for: each broken once in a small tree -----------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in {"chalicelib/__init__.py": "", **files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_the_rules_catch_an_import_cycle(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/verify/__init__.py": "",
        "chalicelib/verify/a.py": "def f():\n    from chalicelib.verify import b\n",
        "chalicelib/verify/b.py": "from chalicelib.verify.a import f\n",
    })
    assert any(p.startswith("import cycle") for p in violations(root))


def test_an_import_under_type_checking_makes_no_cycle(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/verify/__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                         "    from chalicelib.verify.a import f\n",
        "chalicelib/verify/a.py": "from chalicelib.verify import b\n",
        "chalicelib/verify/b.py": "X = 1\n",
    })
    assert violations(root) == []


def test_the_rules_catch_the_kernel_importing_a_capability(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/config.py": "def f():\n    from chalicelib.channels import brand_problem\n",
        "chalicelib/channels/__init__.py": "",
    })
    assert violations(root) == ["chalicelib/config.py:2: the kernel imports chalicelib.channels (channels)"]


def test_the_rules_catch_an_import_of_another_capabilitys_internals(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/totp/__init__.py": "",
        "chalicelib/totp/service.py": "from chalicelib.verify.models import ReceiptBinding\n",
        "chalicelib/verify/__init__.py": "",
        "chalicelib/verify/models.py": "ReceiptBinding = None\n",
    })
    assert len(violations(root)) == 1 and "verify's internals" in violations(root)[0]
    face = _tree(tmp_path, {"chalicelib/totp/service.py": "from chalicelib.verify import ReceiptBinding\n"})
    assert violations(face) == []


def test_the_rules_catch_a_capability_importing_the_composition_root(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/web/__init__.py": "",
        "chalicelib/web/routes.py": "from chalicelib import wiring\n",
        "chalicelib/wiring.py": "",
    })
    assert violations(root) == ["chalicelib/web/routes.py:1: imports chalicelib.wiring "
                                "(the composition root hands factories in)"]


def test_the_rules_catch_capabilities_in_a_circle(tmp_path):
    root = _tree(tmp_path, {
        "chalicelib/web/__init__.py": "from chalicelib import verify\n",
        "chalicelib/verify/__init__.py": "def f():\n    from chalicelib import web\n",
    })
    assert any(p.startswith("capabilities in a circle") for p in violations(root))


def test_the_rules_catch_a_thirteenth_top_level_module(tmp_path):
    root = _tree(tmp_path, {f"chalicelib/m{i}.py": "" for i in range(13)})
    assert violations(root) and "13 modules at chalicelib's top level" in violations(root)[0]
