"""SnapStart's rule in code: nothing unique survives a snapshot restore unchecked.

Under SnapStart every container of a version starts from one snapshot of memory, so whatever
the snapshot holds is shared by all of them: ``random``'s state (seeded once, at import),
open connections, the thread pool's threads, secrets cached with the time they were read.
After a restore the runtime calls the hooks registered with its ``snapshot_restore_py``
module (shipped in the Lambda Python runtimes, python3.12+:
https://docs.aws.amazon.com/lambda/latest/dg/snapstart-runtime-hooks-python.html); ours
reseeds ``random`` from the OS, drops the thread pool, and forgets the cached service (its
AWS clients and connections, its secrets), so the first request after a restore builds them
afresh. Codes and ids come from ``secrets`` (the OS, never a snapshot), and so do budget
shards (chalicelib/verify/limits.py). Outside Lambda the module is absent and nothing is registered.
"""

from __future__ import annotations

from typing import Callable


def after_restore(forget_cached_service: Callable[[], None]) -> None:
    import random

    from chalicelib import concurrency

    random.seed()  # from os.urandom: each restored container its own sequence
    concurrency.forget_pool()
    forget_cached_service()


def register(forget_cached_service: Callable[[], None]) -> bool:
    """Register ``after_restore`` with the runtime when it offers hooks; returns whether it did."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(after_restore, forget_cached_service)
    return True
