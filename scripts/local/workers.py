"""serve.py --workers N: N long-lived processes, forked from a warmed parent, each serving one
connection at a time, as N warm Lambda containers serve one request at a time each.

Why (docs/benchmarks.md, "Load: what a user sees"): with ``--forking`` a client's keep-alive
connection gets a new child, whose first request pays what a warm container has already paid:
phonenumbers compiling its region's patterns (about 16 ms of CPU), the modules the routes
import on first use, the DynamoDB connections and the thread pool (chalicelib/concurrency.py).
Under 50 concurrent clients those first requests were each client's slowest, and the p99. Here
the parent pays the CPU part once before forking (no socket is open yet: a connection shared by
two processes would mix their answers), and each worker opens its own connections and pool
before it accepts a connection.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from http.server import HTTPServer
from typing import Any

IDLE_SECONDS = 30  # a worker holds an idle keep-alive connection this long, then takes the next
# The modules a start and a check import on first use (chalicelib's routes import lazily, for the
# cold start: tests/unit/test_imports.py); tests/integration/test_serve_workers.py fails, naming
# the module, when a first request in a worker imports one this list misses.
FIRST_USE_MODULES = (
    "chalicelib.channels.providers.console",
    "chalicelib.verify.rate_buckets",
    "chalicelib.factors.receipts",
)


READY = "[worker ready]"


class WorkerHTTPServer(HTTPServer):
    """One connection at a time; the listening socket is shared by the workers, and the kernel
    hands each new connection to one of those waiting in accept()."""

    request_queue_size = 256  # the default 5 resets connections under a concurrent burst


def warm_before_fork() -> None:
    """What each worker's first request would compute, computed once in the parent: no I/O."""
    import importlib

    import phonenumbers

    from chalicelib import wiring
    from chalicelib.channels.phone import require_reachable

    for name in FIRST_USE_MODULES:
        importlib.import_module(name)
    region = wiring.get_config().default_region
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is not None:  # compiles the region's patterns, as the first number of it does
        try:
            require_reachable(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164),
                              region)
        except Exception:  # an example refused (a type the stage refuses) has still warmed the patterns
            pass
    client = wiring.get_service()._store._client
    for operation in client.meta.service_model.operation_names:  # botocore's per-operation models
        client.meta.service_model.operation_model(operation)


def warm_after_fork() -> None:
    """The worker's own DynamoDB connections and thread pool, and botocore's first UpdateItem
    and GetItem (their endpoint, serializer and parser caches), as many at once as a start's
    widest wave of writes, on an item that does not exist: the reads find nothing and each
    update's condition (the item exists) fails, so nothing is written."""
    from chalicelib import concurrency, wiring

    client = wiring.get_service()._store._client
    table = wiring.get_config().table_name
    key = {"pk": {"S": "warm#worker"}}

    def read() -> Any:
        return client.get_item(TableName=table, Key=key, ConsistentRead=True)

    def update() -> Any:
        return client.update_item(TableName=table, Key=key, UpdateExpression="SET n = :n",
                                  ConditionExpression="attribute_exists(pk)",
                                  ExpressionAttributeValues={":n": {"N": "1"}},
                                  ReturnValuesOnConditionCheckFailure="ALL_OLD")

    width = concurrency.MAX_WORKERS + 1
    concurrency.run_all([read] * width)
    concurrency.run_all([update] * width)


def serve(server: HTTPServer, count: int) -> int:
    """Fork ``count`` workers over ``server``'s socket; end them all when this process is told
    to stop (SIGTERM, SIGINT), and end any that outlives it."""
    parent = os.getpid()
    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            _worker(server, parent)
        children.append(pid)

    def stop(signum: int, _frame: Any) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        signal.pause()


def _worker(server: HTTPServer, parent: int) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)

    def orphaned() -> None:  # the parent was killed without ending its workers: end this one
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()
    try:
        warm_after_fork()
    except Exception as exc:  # a worker that could not warm still serves: its first request pays
        print(f"worker {os.getpid()}: warm-up failed ({type(exc).__name__})", file=sys.stderr, flush=True)
    print(READY, flush=True)  # bench/load.py starts its clients once every worker said so
    try:
        server.serve_forever()
    finally:
        os._exit(0)
