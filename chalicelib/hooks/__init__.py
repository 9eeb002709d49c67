"""The identity platforms' hooks (docs/identity-platforms.md): routes.py (the blueprint),
core.py (what they share: the secret, the replay guard, the start), one module per platform."""

from typing import TYPE_CHECKING

from chalicelib import public_face

if TYPE_CHECKING:
    from chalicelib.hooks.openapi import hook_paths as hook_paths

_EXPORTS = {
    "hook_paths": "chalicelib.hooks.openapi",
}
__all__ = sorted(_EXPORTS)

if not TYPE_CHECKING:
    __getattr__ = public_face(__name__, _EXPORTS)
