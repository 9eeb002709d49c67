"""The OpenAPI paths and schemas of the authenticator-app (TOTP) routes, merged into the
document by chalicelib/openapi/document.py. These routes sit behind IAM (SigV4)."""

from __future__ import annotations

from typing import Any

SIGV4 = {"type": "apiKey", "name": "Authorization", "in": "header",
         "x-amazon-apigateway-authtype": "awsSigv4"}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Error"}
    response: dict[str, Any] = {"description": description,
                                "content": {"application/json": {"schema": schema}}}
    if retry:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _json(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _body(ref: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def paths() -> dict[str, Any]:
    security: list[dict[str, list[str]]] = [{"SigV4": []}]
    common = {
        "400": _error("invalid_request or invalid_code_format"),
        "404": _error("factor_not_found, or not_found when TOTP is not enabled (no OTP_TOTP_KEY_ID)"),
        "415": _error("The body is not application/json"),
        "503": _error("DynamoDB or KMS is briefly unavailable", retry=True),
    }
    factor_id = {"name": "factor_id", "in": "path", "required": True, "schema": {"type": "string"}}
    wait = _error("max_attempts_reached: wrong codes in a row; wait Retry-After seconds", retry=True)
    return {
        "/v1/totp/factors": {
            "post": {"operationId": "enrollTotpFactor", "summary": "Enroll an authenticator app",
                     "security": security, "requestBody": _body("TotpEnrollRequest"),
                     "responses": {"201": _json("TotpEnrollment", "The secret, shown only here"), **common,
                                   "409": _error("too_many_factors")}},
            "get": {"operationId": "listTotpFactors", "summary": "An identity's factors (never secrets)",
                    "security": security,
                    "parameters": [{"name": "identity", "in": "query", "required": True,
                                    "schema": {"$ref": "#/components/schemas/TotpIdentity"}}],
                    "responses": {"200": _json("TotpFactorList", "Factors"), **common}},
        },
        "/v1/totp/factors/{factor_id}/verify": {
            "post": {"operationId": "verifyTotpFactor", "summary": "Confirm enrolment with a first code",
                     "security": security, "parameters": [factor_id], "requestBody": _body("TotpCode"),
                     "responses": {"200": _json("TotpVerified", "Verified"), **common,
                                   "403": _error("incorrect_code, with attempts_remaining"),
                                   "409": _error("factor_already_verified"),
                                   "429": wait}},
        },
        "/v1/totp/factors/{factor_id}/enable": {
            "post": {"operationId": "enableTotpFactor",
                     "summary": "Re-enable a factor suspended after 100 wrong codes in a row",
                     "security": security, "parameters": [factor_id],
                     "responses": {"200": _json("TotpFactor", "The factor, its count restarted"), **common}},
        },
        "/v1/totp/factors/{factor_id}": {
            "delete": {"operationId": "deleteTotpFactor", "summary": "Remove a factor", "security": security,
                       "parameters": [factor_id], "responses": {"204": {"description": "Deleted"}, **common}},
        },
        "/v1/totp/challenges": {
            "post": {"operationId": "totpChallenge",
                     "summary": "Check an authenticator code; a code succeeds once",
                     "security": security, "requestBody": _body("TotpChallengeRequest"),
                     "responses": {"200": _json("TotpApproval",
                                                "Approved, with a receipt (null if KMS failed)"),
                                   **common,
                                   "403": _error("incorrect_code (wrong or already used), with "
                                                 "attempts_remaining before suspension; or factor_suspended"),
                                   "429": wait}},
        },
    }


def schemas(jws_pattern: str) -> dict[str, Any]:
    identity = {"type": "string", "pattern": "^[A-Za-z0-9._@:-]{1,128}$"}
    factor_id = {"type": "string", "pattern": "^YF[0-9a-f]{32}([0-9a-f]{16})?$"}
    code = {"type": "string", "pattern": "^[0-9]{6}$"}
    device_ip = {"type": "string", "description": "The end user's IP as the backend saw it (as the v2 "
                 "API's DeviceIp): wrong codes are slowed down per source, so a stranger elsewhere does "
                 "not slow the user"}
    factor = {"type": "object", "additionalProperties": False,
              "required": ["id", "status", "label", "created_at", "digits", "period", "algorithm",
                           "suspended", "consecutive_failures"],
              "properties": {"id": factor_id, "status": {"enum": ["unverified", "verified"]},
                             "label": {"type": "string"}, "created_at": {"type": "integer"},
                             "digits": {"const": 6}, "period": {"const": 30}, "algorithm": {"const": "SHA1"},
                             "suspended": {"type": "boolean"},
                             "consecutive_failures": {"type": "integer", "minimum": 0}}}
    return {
        "TotpIdentity": identity,
        "TotpEnrollRequest": {"type": "object", "required": ["identity"], "additionalProperties": False,
                              "properties": {"identity": identity,
                                             "label": {"type": "string", "minLength": 1, "maxLength": 64}}},
        "TotpEnrollment": {
            "type": "object", "additionalProperties": False,
            "required": ["id", "identity", "status", "secret", "uri", "qr_svg",
                         "digits", "period", "algorithm"],
            "properties": {"id": factor_id, "identity": identity, "status": {"const": "unverified"},
                           "secret": {"type": "string", "pattern": "^[A-Z2-7]{32}$"},
                           "uri": {"type": "string", "pattern": "^otpauth://totp/"},
                           "qr_svg": {"type": "string"}, "digits": {"const": 6}, "period": {"const": 30},
                           "algorithm": {"const": "SHA1"}}},
        "TotpCode": {"type": "object", "required": ["code"], "additionalProperties": False,
                     "properties": {"code": code, "device_ip": device_ip}},
        "TotpFactor": factor,
        "TotpChallengeRequest": {
            "type": "object", "required": ["code"], "additionalProperties": False,
            "properties": {"code": code, "identity": identity, "factor_id": factor_id,
                           "device_ip": device_ip, "nonce": {"$ref": "#/components/schemas/ReceiptNonce"},
                           "purpose": {"$ref": "#/components/schemas/ReceiptPurpose"}},
            "oneOf": [{"required": ["identity"]}, {"required": ["factor_id"]}]},
        "TotpVerified": {"type": "object", "required": ["id", "status"], "additionalProperties": False,
                         "properties": {"id": factor_id, "status": {"const": "verified"}}},
        "TotpApproval": {"type": "object", "required": ["status", "factor_id", "receipt"],
                         "additionalProperties": False,
                         "properties": {"status": {"const": "approved"}, "factor_id": factor_id,
                                        "receipt": {"type": ["string", "null"], "pattern": jws_pattern}}},
        "TotpFactorList": {
            "type": "object", "required": ["identity", "factors"], "additionalProperties": False,
            "properties": {"identity": identity,
                           "factors": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/TotpFactor"}}}},
    }
