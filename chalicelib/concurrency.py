"""Independent DynamoDB writes of one request, issued at the same time.

A Lambda request spends most of its time waiting for DynamoDB; writes that do not depend on
each other (the send counters of one request) need not wait for each other. One small thread
pool per container, created on first use and shared by every request, runs them over the one
cached botocore client (botocore clients are thread-safe; the pool's threads share its
connection pool, 10 connections by default).

The pool is forgotten in a forked child (threads do not survive ``fork``: ``serve.py
--forking`` builds the service in the parent) and after a SnapStart restore (see
``chalicelib/snapstart.py``); the next request makes a new one.
"""

from __future__ import annotations

import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, NamedTuple, Sequence

# A new verification issues at most ten writes at once (prefix, country, budget, the v2
# attempt's two, and one per Service Rate Limit it names: at most five,
# twilio_v2/rate_limits.py); the caller's own thread runs one of them. Ten is also botocore's
# default connection pool (max_pool_connections): no write waits for a connection.
MAX_WORKERS = 9

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="dynamodb")
        return _pool


def forget_pool() -> None:
    """Drop the pool (its threads are gone in a forked child); the next use makes a new one."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=forget_pool)


def submit(fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """Start ``fn(*args)`` on the pool, in a copy of the caller's context (so the request's
    telemetry fields are the same object); the caller collects it with ``settle``."""
    context = contextvars.copy_context()
    return pool().submit(context.run, fn, *args)


def settle(future: Future[Any] | None) -> None:
    """Wait for ``future``; raise its exception if it raised. Returns None, so that
    ``f = settle(f)`` marks ``f`` settled."""
    if future is not None:
        future.result()


class Outcome(NamedTuple):
    value: Any = None
    error: Exception | None = None


def run_all(calls: Sequence[Callable[[], Any]]) -> list[Outcome]:
    """Run every call at once (the first in this thread) and wait for all of them: every
    outcome, value or exception, is returned in the calls' order; nothing is left running."""
    futures = [submit(call) for call in calls[1:]]
    outcomes = [_outcome(calls[0])] if calls else []
    for future in futures:
        try:
            outcomes.append(Outcome(value=future.result()))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, which decides
            outcomes.append(Outcome(error=exc))
    return outcomes


def _outcome(call: Callable[[], Any]) -> Outcome:
    try:
        return Outcome(value=call())
    except Exception as exc:  # noqa: BLE001 - handed to the caller, which decides
        return Outcome(error=exc)


def wait_quietly(future: Future[Any]) -> None:
    """Wait for ``future`` when another error is already on its way to the caller."""
    try:
        future.result()
    except Exception:  # noqa: BLE001, S110 - the caller is raising something else already
        pass
