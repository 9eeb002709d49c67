"""The phone verification domain: a package per capability over a small kernel (docs/architecture.md)."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable


def public_face(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A capability package's ``__getattr__`` (PEP 562): each name of its public face, imported
    from the module that defines it on first use, so importing the package costs nothing (the
    cold start) and another capability never names the package's internals."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    return __getattr__
