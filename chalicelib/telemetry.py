"""Structured logs and CloudWatch metrics, one line each per request.

- Logs: every record is one JSON object (``JsonFormatter``). At the end of each request the app
  writes one summary line (``request``) with the route, the status, the outcome code, the
  verification id, the masked number, the provider and its latency: what an operator searches.
- Metrics: CloudWatch Embedded Metric Format (EMF), the JSON log line that CloudWatch turns into
  metrics with no API call and no agent. Namespace ``PhoneVerify``.
- ``OTP_LOG_FORMAT=human`` (the local stage's default, for `make run`): one short line per
  request instead, no EMF documents, and only errors besides (the summary line already names
  a request's outcome, e.g. the limit that refused it); the console provider's SMS in a box.

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
_format = "json"


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


class HumanFormatter(logging.Formatter):
    """``12:04:05 201 POST /v1/verifications ok VE1a2b… +1415*****71 console 12 ms``"""

    def format(self, record: logging.LogRecord) -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        fields = vars(record)
        if record.getMessage() == "request" and "route" in fields:
            route = fields["route"]
            if fields.get("file"):  # a static file by its name: GET /static/app.css
                route = route.replace("{name}", str(fields["file"]))
            parts = [clock, str(fields.get("status", "")), route, str(fields.get("outcome", ""))]
            if fields.get("id"):
                parts.append(str(fields["id"])[:10] + "…")
            parts += [str(fields[k]) for k in ("to", "provider") if fields.get(k)]
            parts.append(f"{fields.get('latency_ms', 0):.0f} ms")
            return " ".join(parts)
        line = f"{clock} {record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# The page's local inbox polls this every second: its answers would fill the terminal and push
# the SMS boxes out of view (129 of 322 lines in one session). Only its failures are shown.
_QUIET_ROUTES = frozenset({"GET /dev/inbox.json"})


def _human_filter(record: logging.LogRecord) -> bool:
    """A request's own records are summed up by its summary line; errors always show, and
    warnings outside a request (e.g. the local stage's random secret)."""
    if record.getMessage() == "request" and hasattr(record, "route"):
        return not (record.route in _QUIET_ROUTES and getattr(record, "status", None) == 200)
    return record.levelno >= logging.ERROR or (record.levelno >= logging.WARNING and _context.get() is None)


def configure_logging(level: int = logging.INFO, log_format: str = "json") -> None:
    """Lines through the root logger's handlers (Lambda installs one; locally there is none,
    so one is added): one handler, so no line is written twice. Idempotent. ``log_format``
    is Config.log_format: "json" (JSON lines and EMF) or "human" (`make run`)."""
    global _format
    _format = log_format
    logging.getLogger("verify").setLevel(level)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stdout))
    for handler in root.handlers:
        if log_format == "human":
            if not isinstance(handler.formatter, HumanFormatter):
                handler.setFormatter(HumanFormatter())
            if _human_filter not in handler.filters:
                handler.addFilter(_human_filter)
        else:
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(JsonFormatter())
            handler.removeFilter(_human_filter)


def sms_box(header: str, body: str) -> str:
    """A message as a box in the terminal (the console provider, `make run`)."""
    lines = body.splitlines() or [""]
    width = max(len(header) + 2, *(len(line) for line in lines))
    top = f"┌─ {header} " + "─" * (width - len(header) - 1) + "┐"
    middle = [f"│ {line.ljust(width)} │" for line in lines]
    return "\n".join([top, *middle, "└" + "─" * (width + 2) + "┘"])


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
    if _format == "human":  # `make run`: the summary line is all the terminal shows
        return
    out = stream or sys.stdout
    for document in emf_documents(metrics):
        out.write(json.dumps(document) + "\n")
    out.flush()


def emf_documents(metrics: list[tuple[str, float, str, dict[str, str]]]) -> list[dict[str, Any]]:
    """One EMF document per set of dimensions (EMF wants one dimension set per document)."""
    groups: dict[tuple[tuple[str, str], ...], list[tuple[str, float, str]]] = {}
    for name, value, unit, dimensions in metrics:
        key = tuple(sorted({"service": SERVICE, **dimensions}.items()))
        groups.setdefault(key, []).append((name, value, unit))
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
                    "Metrics": [{"Name": n, "Unit": u} for n, u in {n: u for n, _, u in values}.items()],
                }],
            },
            **dimensions,
        }
        for name, value, _ in values:
            document[name] = document.get(name, 0) + value
        documents.append(document)
    return documents
