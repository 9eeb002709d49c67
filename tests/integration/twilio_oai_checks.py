"""schemathesis hooks (SCHEMATHESIS_HOOKS, loaded by tests/integration/test_twilio_schemathesis.py):
two checks beside schemathesis's own.

- ``twilio_error_shape``: every 4xx/5xx answer is Twilio's error body (``code`` and ``status``
  integers, ``status`` the HTTP status, ``message`` and ``more_info`` strings, nothing else)
  as JSON; and never a 403 (API Gateway's own 403 repeated the request's credential).
- ``twilio_fields``: a success answer carries every field its schema names (Twilio's document
  marks none required; Twilio's answers carry them all, ``null`` when empty).
- ``twilio_sids``: every SID field of a JSON answer, at any depth and whether or not the
  operation's schema names it, matches the document's pattern for that field name
  (tests/integration/twilio_oai.py ``sid_patterns``; the spec the run uses, TWILIO_OAI_SPEC).
"""

from __future__ import annotations

import functools
import json
import os

import schemathesis

from tests.integration import twilio_oai


@functools.cache
def _spec() -> dict:
    return json.loads(open(os.environ["TWILIO_OAI_SPEC"]).read())


@functools.cache
def _patterns() -> dict[str, list[str]]:
    return twilio_oai.sid_patterns(_spec())


def _json(response):  # type: ignore[no-untyped-def]
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


@schemathesis.check
def twilio_error_shape(ctx, response, case):  # type: ignore[no-untyped-def]
    if response.status_code == 403:
        raise AssertionError(f"403 (no operation here answers 403): {response.content[:300]!r}")
    if response.status_code < 400:
        return None
    body = _json(response)
    content_type = (response.headers.get("content-type") or [""])[0]
    shape = isinstance(body, dict) and set(body) == {"code", "message", "more_info", "status"}
    if not (content_type.startswith("application/json") and shape
            and type(body["code"]) is int and body["status"] == response.status_code
            and isinstance(body["message"], str) and isinstance(body["more_info"], str)):
        raise AssertionError(f"not Twilio's error shape ({content_type}): {response.content[:300]!r}")
    return None


@schemathesis.check
def twilio_sids(ctx, response, case):  # type: ignore[no-untyped-def]
    body = _json(response)
    bad = twilio_oai.bad_sids(body, _patterns()) if body is not None else []
    if bad:
        raise AssertionError("SIDs not matching the document's patterns: " + ", ".join(bad[:5]))
    return None


@schemathesis.check
def twilio_fields(ctx, response, case):  # type: ignore[no-untyped-def]
    if not 200 <= response.status_code < 300:
        return None
    operation = case.operation
    schema = twilio_oai.response_schema(_spec(), operation.method, operation.path, response.status_code)
    body = _json(response)
    missing = twilio_oai.missing_fields(_spec(), schema, body) if schema and body is not None else []
    if missing:
        raise AssertionError("fields the document names are missing: " + ", ".join(missing[:8]))
    return None
