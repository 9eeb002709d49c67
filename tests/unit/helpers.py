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
