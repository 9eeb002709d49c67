"""scripts/deploy/package_bytecode.py on a small zip: listed modules become sourceless bytecode that
imports and runs, with tracebacks naming the module's path and line; dead weight goes; a
listed module missing from the zip stops the build with its name."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from scripts.deploy import package_bytecode

FILES = {
    "pkg/__init__.py": "",
    "pkg/fast.py": "VALUE = 42\n\ndef boom():\n    raise ValueError('line 4')\n",
    "pkg/slow.py": "VALUE = 7\n",
    "pkg/fast.pyi": "VALUE: int\n",
    "pkg-1.0.dist-info/RECORD": "pkg/fast.py,,\n",
    "pkg-1.0.dist-info/METADATA": "Name: pkg\n",
    "pkg-1.0.dist-info/licenses/LICENSE": "MIT\n",
    "charset_normalizer/md.cpython-313-x86_64-linux-gnu.so": "\x7fELF",
    "charset_normalizer/md.py": "PURE = True\n",
    "ecdsa/__init__.py": "",
    "ecdsa/test_keys.py": "import pytest\n",  # ecdsa ships its test suite: dropped
}


def _zip(path):
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, text)
    return path


def test_listed_modules_ship_as_bytecode_that_runs(tmp_path):
    path = _zip(tmp_path / "deployment.zip")
    stats = package_bytecode.rewrite(path, ["pkg/__init__.py", "pkg/fast.py"])
    names = set(zipfile.ZipFile(path).namelist())
    assert names == {"pkg/__init__.pyc", "pkg/fast.pyc", "pkg/slow.py", "pkg-1.0.dist-info/licenses/LICENSE",
                     "charset_normalizer/md.py", "ecdsa/__init__.py"}  # the licenses stay
    assert (stats["compiled"], stats["dropped"]) == (2, 5)
    zipfile.ZipFile(path).extractall(tmp_path / "task")
    probe = ("import sys, traceback; sys.dont_write_bytecode = True; import pkg.fast, pkg.slow\n"
             "print(pkg.fast.VALUE, pkg.slow.VALUE, type(pkg.fast.__spec__.loader).__name__)\n"
             "try:\n    pkg.fast.boom()\nexcept ValueError as e:\n"
             "    print(traceback.extract_tb(e.__traceback__)[-1][:2])")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path / "task", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["42 7 SourcelessFileLoader", "('pkg/fast.py', 4)"]


def test_a_listed_module_missing_from_the_zip_stops_the_build(tmp_path):
    path = _zip(tmp_path / "deployment.zip")
    before = path.read_bytes()
    with pytest.raises(SystemExit, match="pkg/gone.py"):
        package_bytecode.rewrite(path, ["pkg/fast.py", "pkg/gone.py"])
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]  # left as it was


def test_the_module_list_names_the_cold_path():
    modules = package_bytecode.cold_modules()
    assert {"app.py", "chalicelib/__init__.py", "chalice/app.py", "urllib3/connectionpool.py"} <= set(modules)
    assert all(m.endswith(".py") for m in modules)
