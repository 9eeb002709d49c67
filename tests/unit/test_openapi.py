"""The published contract and the code cannot drift: same operations, every error code,
and real responses validate against the document's schemas."""

from __future__ import annotations

import json

import jsonschema
import pytest

from chalicelib.openapi.document import document
from chalicelib.openapi.schemas import error_codes
from tests.conftest import last_code
from tests.unit.helpers import check, delete, get, post, start

DOC = document()


def _validate(body: object, path: str, method: str, status: int) -> None:
    response = DOC["paths"][path][method]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    resolver_doc = {"components": DOC["components"], **schema}
    jsonschema.validate(body, resolver_doc, cls=jsonschema.Draft202012Validator)


def test_the_document_lists_exactly_the_apps_operations():
    import app

    # /v2 is Twilio Verify's API: its contract is Twilio's document (tests/unit/test_twilio_v2.py).
    in_code = {(path, method.lower()) for path, methods in app.app.routes.items() for method in methods
               if not path.startswith("/v2/")}
    in_doc = {(path, method) for path, item in DOC["paths"].items() for method in item if method != "parameters"}
    assert in_code == in_doc


def test_every_error_code_raised_by_the_code_is_in_the_enum():
    import re
    from pathlib import Path

    from tests.conftest import ROOT

    source = "\n".join(p.read_text() for p in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))])
    declared = set(re.findall(r'code = "([a-z_]+)"', source)) | set(re.findall(r'status, code = \d+, "([a-z_]+)"', source))
    assert declared and declared <= set(error_codes())


def test_api_gateways_own_answers_use_codes_of_the_enum():
    from scripts.deploy.gateway_settings import GATEWAY_RESPONSES

    assert {code for _, code, _ in GATEWAY_RESPONSES.values()} <= set(error_codes())


def test_served_document_is_openapi_3_1_with_the_configured_code_length(client):
    response = client.http.get("/openapi.json")
    assert response.status_code == 200
    served = json.loads(response.body)
    assert served["openapi"] == "3.1.0"
    assert served["components"]["schemas"]["CheckRequest"]["properties"]["code"]["pattern"] == "^[0-9]{6}$"
    assert "429" in served["paths"]["/v1/verifications"]["post"]["responses"]
    assert "Retry-After" in served["paths"]["/v1/verifications"]["post"]["responses"]["429"]["headers"]


def test_api_key_scheme_appears_when_keys_are_required():
    doc = document(api_key_required=True)
    assert doc["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key"}
    assert doc["security"] == [{"ApiKey": []}]
    assert doc["paths"]["/"]["get"]["security"] == []


def test_real_responses_validate_against_the_document(client, outbox, clock):
    status, body, _ = start(client)
    _validate(body, "/v1/verifications", "post", status)
    clock.advance(30)
    status, body, _ = start(client)
    _validate(body, "/v1/verifications", "post", status)
    vid = body["id"]
    status, body, _ = check(client, f"{(int(last_code(outbox)) + 1) % 10**6:06d}")
    _validate(body, "/v1/verifications/check", "post", status)
    status, body, _ = get(client, f"/v1/verifications/{vid}")
    _validate(body, "/v1/verifications/{verification_id}", "get", status)
    status, body, _ = check(client, last_code(outbox))
    _validate(body, "/v1/verifications/check", "post", status)
    status, body, _ = delete(client, f"/v1/verifications/{vid}")
    _validate(body, "/v1/verifications/{verification_id}", "delete", status)
    for raw in (b"nope", b"{}", json.dumps({"to": "+1"}).encode()):
        status, body, _ = post(client, "/v1/verifications", raw, raw=True)
        _validate(body, "/v1/verifications", "post", status)
    status, body, _ = start(client, to="+14155552672")
    clock.advance(1)
    status, body, _ = start(client, to="+14155552672")
    assert status == 429
    _validate(body, "/v1/verifications", "post", status)
