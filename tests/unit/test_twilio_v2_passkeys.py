"""/v2's Passkeys answers carry every field of Twilio's document and validate against its schemas
(tests/data/twilio-oai), for the four operations; through the test client (tests/integration/
test_twilio_sdks_passkeys.py drives them with the SDKs)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from tests.integration import twilio_oai
from tests.passkey_authenticator import SoftAuthenticator
from tests.unit.test_twilio_v2 import basic, call, key, new_service  # noqa: F401  (fixtures)

RP_ID, ORIGIN = "app.example.com", "https://app.example.com"
_S = "/v2/Services/{ServiceSid}/Passkeys"


def _post(client, key, path, body):  # noqa: F811
    headers = {**basic(key["api_key_sid"], key["api_key_secret"]), "content-type": "application/json"}
    response = client.http.post(path, headers=headers, body=json.dumps(body))
    return response.status_code, json.loads(response.body)


def _nullable(node):
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema's type list (the document is 3.0)."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        return node
    return [_nullable(v) for v in node] if isinstance(node, list) else node


def _conforms(template: str, status: int, body: dict) -> None:
    spec = twilio_oai.load()
    schema = twilio_oai.response_schema(spec, "POST", template, status)
    assert twilio_oai.missing_fields(spec, schema, body) == [], template
    document = _nullable({"components": spec["components"], **schema})
    jsonschema.validate(body, document, cls=jsonschema.Draft202012Validator)


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_the_four_answers_carry_the_documents_fields(client, key):  # noqa: F811
    sid = new_service(client, key, **{"Passkeys.RelyingParty.Id": RP_ID,
                                      "Passkeys.RelyingParty.Origins": ORIGIN})["sid"]
    base = f"/v2/Services/{sid}/Passkeys"
    status, factor = _post(client, key, base + "/Factors", {"friendly_name": "laptop", "identity": "alice"})
    assert status == 201, factor
    _conforms(_S + "/Factors", 201, factor)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
    created = authenticator.create(factor["options"]["publicKey"])
    status, verified = _post(client, key, base + "/VerifyFactor", created)
    assert status == 200, verified
    _conforms(_S + "/VerifyFactor", 200, verified)
    for who in ({"identity": "alice"}, {}):
        status, challenge = _post(client, key, base + "/Challenges", who)
        assert status == 201, challenge
        _conforms(_S + "/Challenges", 201, challenge)
        status, approved = _post(client, key, base + "/ApproveChallenge",
                                 authenticator.get(challenge["options"]["publicKey"]))
        assert status == 200 and approved["status"] == "approved", approved
        _conforms(_S + "/ApproveChallenge", 200, approved)
