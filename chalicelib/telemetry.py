"""Structured logs and CloudWatch metrics, one line each per request.

- Logs: every record is one JSON object (``JsonFormatter``). At the end of each request the app
  writes one summary line (``request``) with the route, the status, the outcome code, the
  verification id, the masked number, the provider and its latency: what an operator searches.
- Metrics: CloudWatch Embedded Metric Format (EMF), the JSON log line that CloudWatch turns into
  metrics with no API call and no agent. Namespace ``PhoneVerify``.

Written with the standard library rather than AWS Lambda Powertools: Powertools' wheel is about
0.9 MB zipped (the whole deployment zip must stay under 1.5 MB), its layer ARN is bound to a
region and a runtime, and its import would add to the cold start; what is used here is the
EMF document format and a JSON formatter, about sixty lines.
A code or a credential never reaches these functions: callers pass ids, masked numbers,
provider names, outcome codes and timings only.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from typing import Any, TextIO

NAMESPACE = "PhoneVerify"
SERVICE = "phone-verify"

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("request", default=None)


class JsonFormatter(logging.Formatter):
    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "timestamp": round(record.created, 3),
            "service": SERVICE,
        }
        line.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines through the root logger's handlers (Lambda installs one; locally there is
    none, so one is added): one handler, so no line is written twice. Idempotent."""
    logging.getLogger("verify").setLevel(level)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        if not isinstance(handler.formatter, JsonFormatter):
            handler.setFormatter(JsonFormatter())


def begin_request(route: str) -> None:
    _context.set({"route": route, "started": time.perf_counter(), "metrics": []})


def note(**fields: Any) -> None:
    """Add fields to this request's summary line (id, to (masked), provider, ...)."""
    context = _context.get()
    if context is not None:
        context.update(fields)


def metric(name: str, value: float = 1, unit: str = "Count", **dimensions: str) -> None:
    context = _context.get()
    if context is not None:
        context["metrics"].append((name, value, unit, dimensions))


def end_request(status: int, outcome: str, stream: TextIO | None = None) -> None:
    """Write the request's summary log line and its metrics, then forget the request."""
    context = _context.get()
    if context is None:
        return
    _context.set(None)
    metrics = context.pop("metrics")
    started = context.pop("started")
    if status == 429:
        metrics.append(("LimitsHit", 1, "Count", {"kind": outcome}))
    if context["route"].endswith("/v1/verifications/check"):
        metrics.append(("Checks", 1, "Count", {"outcome": "approved" if status == 200 else outcome}))
    summary = {**context, "status": status, "outcome": outcome,
               "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    logging.getLogger("verify").info("request", extra=summary)
    out = stream or sys.stdout
    for document in emf_documents(metrics):
        out.write(json.dumps(document) + "\n")
    out.flush()


def emf_documents(metrics: list[tuple[str, float, str, dict[str, str]]]) -> list[dict[str, Any]]:
    """One EMF document per set of dimensions (EMF wants one dimension set per document)."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[str, float, str]]] = {}
    for name, value, unit, dimensions in metrics:
        groups.setdefault(tuple(sorted({"service": SERVICE, **dimensions}.items())), []).append((name, value, unit))
    documents = []
    for dimension_items, values in groups.items():
        dimensions = dict(dimension_items)
        # Each metric also rolls up without the provider, so alarms need not name providers.
        dimension_sets = [sorted(dimensions)]
        if "provider" in dimensions:
            dimension_sets.append(sorted(k for k in dimensions if k != "provider"))
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimension_sets,
                    "Metrics": [{"Name": n, "Unit": u} for n, u in dict((n, u) for n, _, u in values).items()],
                }],
            },
            **dimensions,
        }
        for name, value, _ in values:
            document[name] = document.get(name, 0) + value
        documents.append(document)
    return documents
