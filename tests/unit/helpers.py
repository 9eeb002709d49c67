"""Small helpers that keep the contract tests readable."""

from __future__ import annotations

import json
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

JSON = {"content-type": "application/json"}
NUMBER = "+14155552671"
OTHER_NUMBER = "+14155552672"


def post(client, path: str, body: Any, raw: bool = False):
    response = client.http.post(path, headers=JSON, body=body if raw else json.dumps(body))
    return response.status_code, json.loads(response.body or b"null"), response.headers


def get(client, path: str):
    response = client.http.get(path)
    return response.status_code, json.loads(response.body or b"null"), response.headers


def delete(client, path: str):
    response = client.http.delete(path)
    return response.status_code, json.loads(response.body or b"null"), response.headers


def start(client, to: str = NUMBER, **extra: Any):
    return post(client, "/v1/verifications", {"to": to, **extra})


def check(client, code: Any, to: str = NUMBER, **extra: Any):
    body = {"code": code, **({"to": to} if "id" not in extra else {}), **extra}
    return post(client, "/v1/verifications/check", body)


def example(region: str, number_type: int) -> str:
    number = phonenumbers.example_number_for_type(region, number_type)
    assert number is not None, (region, number_type)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def error_code(body: dict) -> str:
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["code"]


__all__ = ["PhoneNumberType"]


# API Gateway's own answers (gateway responses) are VTL templates over $context, $input and
# $stageVariables (docs.aws.amazon.com/apigateway/latest/developerguide/
# api-gateway-gatewayResponse-definition.html). For the 403 a path that is no route gets,
# $context.error.messageString is the quoted message, which repeats the request's Authorization
# header ("Authorization=Basic ..."): rendered here with such a message, every context and
# request's own values ($input.params: its headers) standing for the credential, and every
# other variable for a value of API Gateway's (an id, a time, a status).
def render_gateway_response(template: str, authorization: str) -> str:
    import re

    message = f"Authorization header requires 'Credential' parameter. Authorization={authorization}"
    values = {"context.error.messageString": json.dumps(message), "context.error.message": message,
              "context.error.validationErrorString": json.dumps(message)}

    def value(match: re.Match) -> str:
        name = match.group(1)
        return values.get(name, authorization if name.startswith("input.") else "MISSING_AUTHENTICATION_TOKEN")

    rendered = re.sub(r"\$\{?(context\.[A-Za-z.]+|input\.[a-zA-Z]+\([^)]*\)|stageVariables\.\w+)\}?",
                      value, template)
    assert "$" not in rendered and "#" not in rendered, rendered  # no VTL left unrendered
    return rendered


def send_reference(verification_id: str, index: int) -> str:
    """The delivery reference the server gives a provider for send ``index`` (a 34-character
    SID's needs its number key: the service finds it as for any path naming the SID)."""
    from chalicelib import wiring

    service = wiring.get_service()
    number_key = service._number_key_of(verification_id)
    return service._hasher.send_reference(verification_id, index, number_key)
