"""`make package`'s last step: rewrites chalice's deployment.zip, in place, for the cold start.

    python scripts/deploy/package_bytecode.py build/prod/out/deployment.zip

Lambda's /var/task is read-only and chalice's zip holds no bytecode, so every cold start used to
compile each module it imported from source (docs/benchmarks.md). This step:
- replaces the source of the modules a cold start imports (scripts/cold_modules.txt) with
  sourceless .pyc files compiled by this Python, which is the Lambda runtime's
  (scripts/find_python.sh; bytecode only loads on the minor version that wrote it). Python's
  path finder loads `name.pyc` when there is no `name.py` (SourcelessFileLoader); no timestamp
  or hash is checked. The other modules keep their source: their bytecode is larger than their
  source zipped, and they load only on the routes that use them;
- drops what no runtime import loads: charset_normalizer's mypyc extensions (`md` and `cd`:
  their pure-Python twins md.py and cd.py are in the zip and load instead; requests uses the
  package only to guess the encoding of a response body sent without a charset), type stubs
  (.pyi), a working tree's own ``__pycache__`` (chalice zips chalicelib/ as it finds it: after
  `make test` it holds bytecode of whatever Python ran the tests), the dist-info RECORD files
  (pip's list of installed files, 31 KB compressed) and METADATA files (each package's PyPI
  description: 35 KB compressed; nothing in the zip reads a distribution's metadata: requests
  checks its dependencies' `__version__` attributes; the licenses stay), and ecdsa's own test
  modules (``ecdsa/test_*.py``, 72 KB compressed: the package ships its test suite; the passkeys
  import ``ecdsa`` and its curves, never them).
tests/integration/test_package.py unpacks the result and runs a start and a check from it.
"""

from __future__ import annotations

import importlib.util
import marshal
import os
import sys
import zipfile
from pathlib import Path, PurePosixPath

MODULE_LIST = Path(__file__).resolve().parents[1] / "cold_modules.txt"
LAMBDA_PYTHONS = ((3, 13), (3, 12))


def cold_modules(path: Path = MODULE_LIST) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def dropped(name: str) -> bool:
    """Files no runtime import of the package loads."""
    path = PurePosixPath(name)
    if "__pycache__" in path.parts:
        return True  # a working tree's own bytecode (tests, make run): another Python's, stale or not
    if path.suffix == ".pyi" or (path.name in ("RECORD", "METADATA") and path.parent.suffix == ".dist-info"):
        return True  # stubs for type checkers; pip's list of installed files; the PyPI description
    # md.cpython-313-x86_64-linux-gnu.so and cd.cpython-...: the extension loader comes first,
    # so with them present the pure-Python md.py/cd.py beside them never load.
    if str(path.parent) == "ecdsa" and path.name.startswith("test_"):
        return True  # ecdsa's test suite, shipped in the package; nothing imports it
    return path.parent.name == "charset_normalizer" and path.suffix == ".so"


def sourceless_pyc(source: bytes, name: str) -> bytes:
    """PEP 552 bytecode: magic, flags 0b01 (hash-based, unchecked), source hash, marshalled
    code; what py_compile writes with PycInvalidationMode.UNCHECKED_HASH. Tracebacks name `name`
    (the path inside the zip) and its line numbers."""
    code = compile(source, name, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")
    return importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source) + marshal.dumps(code)


def rewrite(zip_path: Path, modules: list[str]) -> dict[str, int]:
    if sys.version_info[:2] not in LAMBDA_PYTHONS:
        raise SystemExit(f"bytecode for Lambda must be compiled by Python 3.13 or 3.12, not {sys.version}")
    wanted = set(modules)
    before = zip_path.stat().st_size
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(zip_path) as src:
        missing = sorted(wanted - set(src.namelist()))
        if missing:
            raise SystemExit(f"{zip_path} lacks modules named in {MODULE_LIST.name} (remove them there): "
                             + ", ".join(missing))
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
            compiled, removed = _copy(src, out, wanted)
    os.replace(tmp, zip_path)
    return {"bytes_before": before, "bytes": zip_path.stat().st_size, "compiled": compiled,
            "dropped": removed}


def _copy(src: zipfile.ZipFile, out: zipfile.ZipFile, wanted: set[str]) -> tuple[int, int]:
    compiled = removed = 0
    for info in src.infolist():
        if dropped(info.filename):
            removed += 1
            continue
        data = src.read(info)
        if info.filename in wanted:
            pyc = zipfile.ZipInfo(info.filename + "c", info.date_time)
            pyc.external_attr, pyc.compress_type = info.external_attr, zipfile.ZIP_DEFLATED
            out.writestr(pyc, sourceless_pyc(data, info.filename))
            compiled += 1
        else:
            out.writestr(info, data)
    return compiled, removed


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit(__doc__)
    stats = rewrite(Path(argv[0]), cold_modules())
    print(f"{argv[0]}: {stats['compiled']} modules as bytecode, {stats['dropped']} files dropped, "
          f"{stats['bytes_before']:,} -> {stats['bytes']:,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
