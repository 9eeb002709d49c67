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
0.9 MB zipped (the whole deployment zip must stay under 2 MB), its layer ARN is bound to a
region and a runtime, and its import would add to the cold start; what is used here is the
EMF document format and a JSON formatter, about sixty lines.
A code or a credential never reaches these functions: callers pass ids, masked numbers,
provider names, outcome codes and timings only. An exception is the one thing whose text we do
not write: ``error_fields`` below says what of it is logged.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

NAMESPACE = "PhoneVerify"
SERVICE = "phone-verify"

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("request", default=None)
_format = "json"


# -- exceptions: one record, with the type and the stack, and nothing of the request's data ------
# An exception's message can hold what the request carried: botocore repeats a parameter's value
# in a ValidationException, a KeyError's message is the missing key (a number, an address), a
# provider's error its reply. The stack's frames (file, line, function) never hold a value:
# traceback prints no local variable by default and the source lines are not printed here. So
# each exception in the chain is logged as its type, its frames and its message *redacted*:
# addresses, then any run of 16 or more token characters (API key secrets, tokens, SIDs, base64
# credentials, MACs), then every run of digits (codes and numbers in any spelling) are replaced.
# Redacting rather than keeping the message only for types "known to be safe" keeps what makes
# a message useful ("'NoneType' object has no attribute 'get'") for every type, ours and the
# libraries', and a type cannot vouch for what a caller formatted into it. botocore's error code
# and operation are AWS's fixed names (ClientError.response["Error"]["Code"]): kept as they are.
_EMAIL = re.compile(r"[^\s'\"<>(),;:@]+@[^\s'\"<>(),;:@]+")
_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{16,}")
_DIGITS = re.compile(r"\d+")
_ROOT = str(Path(__file__).resolve().parent.parent) + "/"


def redact(text: str) -> str:
    return _DIGITS.sub("#", _TOKEN.sub("<redacted>", _EMAIL.sub("<email>", text)))


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def error_fields(exc_info: ExcInfo) -> dict[str, Any]:
    """What a log record carries of an exception: ``error_type`` (the outermost), and
    ``exception``, the traceback as text (one JSON field, so one CloudWatch event) with each
    chained exception's frames as ``file:line in function`` and its redacted message."""
    exc: BaseException | None = exc_info[1]
    blocks: list[str] = []
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:  # the chain, innermost cause printed first
        seen.add(id(exc))
        frames = [f"  {f.filename.removeprefix(_ROOT)}:{f.lineno} in {f.name}"
                  for f in traceback.extract_tb(exc.__traceback__)]
        blocks.insert(0, "\n".join(["Traceback (most recent call last):", *frames,
                                     f"{_type_name(exc)}: {redact(str(exc))}"]))
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    fields: dict[str, Any] = {"error_type": _type_name(exc_info[1]),
                              "exception": "\n\nThe above caused:\n\n".join(blocks)}
    response = getattr(exc_info[1], "response", None)
    if isinstance(response, dict) and isinstance(response.get("Error"), dict):  # botocore's ClientError
        fields["aws_error_code"] = str(response["Error"].get("Code", ""))
        fields["aws_operation"] = str(getattr(exc_info[1], "operation_name", ""))
    return fields


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class UnhandledErrors(logging.Filter):
    """On Chalice's logger (app.log): its record of an error no route handled ("Caught exception
    for path <the raw path>", which may name a number or a verification's id) becomes "unhandled
    error" with the request's route and ``error_fields``, and no exc_info, so no handler, ours or
    not, prints the exception's own text. One record per failure: Chalice writes it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            context = _context.get()
            record.__dict__.update(error_fields(record.exc_info), route=context["route"] if context else "")
            record.msg, record.args, record.exc_info, record.exc_text = "unhandled error", (), None, None
        return True


def adopt_chalice_log(chalice_log: logging.Logger) -> None:
    """Chalice's logger (app.log, made with ``configure_logs=False``, so with no handler of its
    own, which would print a traceback as plain lines): INFO, through the root's handlers, its
    unhandled errors as ``UnhandledErrors`` makes them."""
    chalice_log.setLevel(logging.INFO)
    chalice_log.propagate = True
    if not any(isinstance(f, UnhandledErrors) for f in chalice_log.filters):
        chalice_log.addFilter(UnhandledErrors())


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
        if record.exc_info and record.exc_info[1] is not None:  # log.exception(...) anywhere
            line.update(error_fields(record.exc_info))
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
        if fields.get("route") and record.getMessage() == "unhandled error":
            line += f" in {fields['route']}"
        if record.exc_info and record.exc_info[1] is not None:
            fields = {**fields, **error_fields(record.exc_info)}
        if fields.get("exception"):
            line += "\n" + str(fields["exception"])
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
