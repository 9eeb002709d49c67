"""The time budget of one request: a hung dependency answers within it, never at the function's
timeout (API Gateway would answer 502/504 for us, and an approval would be lost).

Every HTTP request gets ``OTP_REQUEST_BUDGET_SECONDS`` (8 s by default; at most 19, below the
function's 20 s timeout and API Gateway's 29 s) from the middleware (app.py). No call starts
when its worst case (connect + read timeout) could not end inside what is left: botocore's
clients check before every attempt, retries included (``guard``, a ``before-send`` hook that
raises ``OutOfTime``, a BotoCoreError, so every caller already handles it as the dependency
failing); the HTTP providers size their timeouts to what is left (``provider_timeout``). Sends
keep back one AWS attempt for the write that undoes a start whose send failed. Outside a
request (the SQS handler, scripts, tests that call the service directly) there is no deadline.

The timeouts are fractions of the budget (8 s: the figures in docs/reliability.md): DynamoDB,
KMS, SSM and SQS calls connect within 1/8 of it and answer within 1/4, three attempts at most
(botocore's standard mode and its backoff), so a hung table answers 503 after 3/4 of it or
less; a send through SNS, End User Messaging or Lambda is one attempt of 1/8 + 3/8.
"""

from __future__ import annotations

import contextvars
import logging
import time
from typing import Any

log = logging.getLogger("verify")

REQUEST_SECONDS = 8.0  # the default (Config.request_budget_seconds)
MAX_ATTEMPTS = 3

# (deadline on time.monotonic, the budget's length) of the request being handled
_request: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("budget", default=None)


def connect_seconds(budget: float) -> float:
    return budget / 8


def read_seconds(budget: float) -> float:
    return budget / 4


def undo_seconds(budget: float) -> float:
    """One AWS attempt: what a send keeps back for the undo after it."""
    return connect_seconds(budget) + read_seconds(budget)


def begin(seconds: float = REQUEST_SECONDS) -> None:
    _request.set((time.monotonic() + seconds, seconds))


def end() -> None:
    _request.set(None)


def remaining() -> float | None:
    """Seconds left in this request's budget; None outside a request."""
    request = _request.get()
    return None if request is None else request[0] - time.monotonic()


def botocore_config(budget: float = REQUEST_SECONDS, send: bool = False) -> Any:
    """The botocore Config sized to a budget of ``budget`` seconds; ``send``: a provider's
    send, never retried (a retried Publish or Invoke after a read timeout can deliver twice)."""
    from botocore.config import Config

    if send:
        return Config(connect_timeout=connect_seconds(budget), read_timeout=3 * budget / 8,
                      retries={"mode": "standard", "total_max_attempts": 1})
    return Config(connect_timeout=connect_seconds(budget), read_timeout=read_seconds(budget),
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
    keeping one AWS attempt back (the undo); None when too little is left to try."""
    request = _request.get()
    if request is None:
        return connect, read
    left = request[0] - time.monotonic() - undo_seconds(request[1])
    if left < 1.0:
        return None
    connect = min(connect, left * 0.4)
    return connect, min(read, left - connect)
