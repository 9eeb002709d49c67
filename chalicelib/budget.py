"""The time budget of one request: a hung dependency answers within it, never at the function's
timeout (API Gateway would answer 502/504 for us, and an approval would be lost).

Every HTTP request gets ``REQUEST_SECONDS`` from the middleware (app.py). No call starts when
its worst case (connect + read timeout) could not end inside what is left: botocore's clients
check before every attempt, retries included (``guard``, a ``before-send`` hook that raises
``OutOfTime``, a BotoCoreError, so every caller already handles it as the dependency failing);
the HTTP providers size their timeouts to what is left (``provider_timeout``). Both keep
``UNDO_SECONDS`` back for the write that undoes a start whose send failed. Outside a request
(the SQS handler, scripts, tests that call the service directly) there is no deadline.

The figures (docs/reliability.md): DynamoDB, KMS, SSM and SQS calls connect within 1 s and
answer within 2 s, three attempts at most (botocore's standard mode and its backoff), so a
hung table answers 503 after about 7 s; a send through SNS, End User Messaging or Lambda is
one attempt of 1 + 3 s. The function's timeout is 20 s and API Gateway's 29 s.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

log = logging.getLogger("verify")

REQUEST_SECONDS = 8.0
CONNECT_SECONDS = 1.0
READ_SECONDS = 2.0
MAX_ATTEMPTS = 3
SEND_READ_SECONDS = 3.0  # a send through an AWS API (SNS, End User Messaging, Lambda): one attempt
UNDO_SECONDS = CONNECT_SECONDS + READ_SECONDS  # one attempt of the undo after a failed send

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("deadline", default=None)


def begin(seconds: float = REQUEST_SECONDS) -> None:
    _deadline.set(time.monotonic() + seconds)


def end() -> None:
    _deadline.set(None)


def remaining() -> float | None:
    """Seconds left in this request's budget; None outside a request."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def botocore_config(send: bool = False) -> Any:
    """The botocore Config sized to the budget; ``send``: a provider's send, never retried
    (a retried Publish or Invoke after a read timeout can deliver twice)."""
    from botocore.config import Config

    if send:
        return Config(connect_timeout=CONNECT_SECONDS, read_timeout=SEND_READ_SECONDS,
                      retries={"mode": "standard", "total_max_attempts": 1})
    return Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS,
                  retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})


def guard(client: Any, reserve: float = 0.0) -> Any:
    """Refuse, before each attempt, a call of ``client`` whose worst case (plus ``reserve``)
    would end past the budget. Runs first among the before-send handlers, so before any
    handler that answers in place of the network. Returns ``client``."""
    from botocore.exceptions import BotoCoreError

    config = client.meta.config
    worst = float(config.connect_timeout) + float(config.read_timeout) + reserve

    class OutOfTime(BotoCoreError):
        fmt = "No time left in the request's budget for {operation}"

    def before_send(request: Any, event_name: str = "", **_: Any) -> None:
        left = remaining()
        if left is not None and left < worst:
            operation = event_name.rsplit(".", 1)[-1]
            log.warning("out of time: %s not started (%.1fs left, %.1fs needed)", operation, left, worst)
            raise OutOfTime(operation=operation)

    client.meta.events.register_first("before-send", before_send)
    return client


def provider_timeout(connect: float, read: float) -> tuple[float, float] | None:
    """The (connect, read) timeouts of a provider's HTTP call, sized to what is left after
    keeping ``UNDO_SECONDS`` back; None when too little is left to try."""
    left = remaining()
    if left is None:
        return connect, read
    left -= UNDO_SECONDS
    if left < 1.0:
        return None
    connect = min(connect, left * 0.4)
    return connect, min(read, left - connect)
