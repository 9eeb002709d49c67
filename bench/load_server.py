"""The load run's server: scripts/local/serve.py, with ``--throttle-one-in N`` one DynamoDB
write in N answered as DynamoDB throttles (bench/faults.py's ThrottleOnce: 400
``ProvisionedThroughputExceededException`` at botocore's ``before-send``, nothing sent, the
retry let through), so botocore's own backoff and retry, under the request's time budget, are
what runs in every worker.

    python bench/load_server.py [--throttle-one-in N] <serve.py's arguments>

The fault is registered on boto3's default session before serve.py builds the service, so the
DynamoDB client every worker inherits carries it (after chalicelib/budget.py's guard, which
registers first). Each worker draws its own throttles (seeded by its pid after the fork), and
prints ``THROTTLED`` for each, which bench/load.py counts. A worker's warm-up
(scripts/local/workers.py) runs without the fault.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

THROTTLED = "[bench throttled a write]"


def install(one_in: int) -> Any:
    """ThrottleOnce at 1/``one_in`` on every DynamoDB client made from now on in this process."""
    import boto3

    from bench.faults import ThrottleOnce
    from scripts.local import workers

    fault = ThrottleOnce(1 / one_in)
    fault.on = True
    throttle = fault.__call__

    def counted(request: Any, **kwargs: Any) -> Any:
        answer = throttle(request, **kwargs)
        if answer is not None:
            print(THROTTLED, flush=True)
        return answer

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-send.dynamodb", counted)
    os.register_at_fork(after_in_child=lambda: fault.random.seed(os.getpid()))
    warm = workers.warm_after_fork

    def warm_unthrottled() -> None:
        fault.on = False
        try:
            warm()
        finally:
            fault.on = True

    workers.warm_after_fork = warm_unthrottled
    return fault


def main(argv: list[str]) -> int:
    if argv[:1] == ["--throttle-one-in"]:
        install(int(argv[1]))
        argv = argv[2:]
    from scripts.local import serve

    return serve.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
