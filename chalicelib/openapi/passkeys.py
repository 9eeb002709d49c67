"""The OpenAPI paths and schemas of the page's passkey routes (chalicelib/passkeys/routes.py),
merged into the document by chalicelib/openapi/document.py. The public door, as start and
check; binary WebAuthn fields are base64url without padding (PublicKeyCredential.toJSON())."""

from __future__ import annotations

from typing import Any

_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"}
_E164 = {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"}
_FACTOR = {"type": "string", "pattern": "^YF[0-9a-f]{32}$"}


def _error(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _body(ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def paths(security: list[dict[str, list[str]]], preflight: dict[str, Any]) -> dict[str, Any]:
    common = {
        "403": _error("origin_not_allowed: a browser page on another origin"),
        "415": _error("The body is not application/json"),
        "429": _error("too_many_passkey_requests (per number) or ip_rate_limited", retry=True),
        "503": _error("DynamoDB is briefly unavailable", retry=True),
    }
    refused = _error(
        "invalid_credential: a check failed (the message names it: origin, challenge, rpId, "
        "flags, signature, type, credential, format, attestation, algorithm), or invalid_request"
    )
    gone = _error("challenge_not_found: unknown, expired or already used")

    def post(operation: str, summary: str, request: str, status: str, answer: str, **more: Any) -> dict:
        return {
            "post": {
                "operationId": operation,
                "summary": summary,
                "security": security,
                "requestBody": _body(request),
                "responses": {status: _json(answer, summary), **common, **more},
            },
            "options": {"operationId": operation + "Preflight", **preflight},
        }

    return {
        "/v1/passkeys/registrations": post(
            "passkeyRegistration",
            "Creation options for a passkey bound to the receipt's number (spends it)",
            "PasskeyRegistrationRequest",
            "201",
            "PasskeyCreationOptions",
            **{
                "400": _error("invalid_receipt: not this service's, expired, or not a number's"),
                "409": _error("receipt_used, or too_many_passkeys"),
            },
        ),
        "/v1/passkeys/registrations/verify": post(
            "passkeyRegistrationVerify",
            "The create() result: the passkey is registered",
            "PasskeyCredentialRequest",
            "200",
            "PasskeyVerified",
            **{"400": refused, "404": gone},
        ),
        "/v1/passkeys/challenges": post(
            "passkeyChallenge",
            "Request options for a number's passkeys, or {} for a discoverable one",
            "PasskeyChallengeRequest",
            "201",
            "PasskeyRequestOptions",
            **{
                "400": _error("invalid_request or invalid_phone_number"),
                "404": _error("no_passkey: this number has none (this answer tells whether it has one)"),
            },
        ),
        "/v1/passkeys/challenges/approve": post(
            "passkeyApprove",
            "The get() result: approved, with a receipt",
            "PasskeyCredentialRequest",
            "200",
            "PasskeyApproval",
            **{
                "400": refused,
                "404": gone,
                "403": _error(
                    "counter_regressed: the sign counter went back (a cloned "
                    "authenticator?), refused and reported; or origin_not_allowed"
                ),
            },
        ),
    }


def schemas(jws: str) -> dict[str, Any]:
    descriptor = {
        "type": "object",
        "required": ["type", "id"],
        "properties": {
            "type": {"const": "public-key"},
            "id": _B64URL,
            "transports": {"type": "array", "items": {"type": "string"}},
        },
    }
    user_verification = {"type": "string", "enum": ["required", "preferred", "discouraged"]}
    return {
        "PasskeyRegistrationRequest": {
            "type": "object",
            "required": ["receipt"],
            "additionalProperties": False,
            "properties": {"receipt": {"type": "string", "pattern": jws}},
        },
        "PasskeyCredentialRequest": {
            "type": "object",
            "required": ["credential"],
            "additionalProperties": False,
            "properties": {
                "credential": {
                    "type": "object",
                    "required": ["id", "rawId", "response"],
                    "description": "PublicKeyCredential.toJSON()",
                    "properties": {
                        "id": _B64URL,
                        "rawId": _B64URL,
                        "type": {"const": "public-key"},
                        "response": {"type": "object"},
                    },
                }
            },
        },
        "PasskeyChallengeRequest": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"to": _E164},
        },
        "PasskeyCreationOptions": {
            "type": "object",
            "required": ["public_key"],
            "properties": {
                "public_key": {
                    "type": "object",
                    "description": "PublicKeyCredentialCreationOptionsJSON",
                    "required": [
                        "rp",
                        "user",
                        "challenge",
                        "pubKeyCredParams",
                        "timeout",
                        "excludeCredentials",
                        "authenticatorSelection",
                        "attestation",
                    ],
                    "properties": {
                        "rp": {"type": "object", "required": ["id", "name"]},
                        "user": {"type": "object", "required": ["id", "name", "displayName"]},
                        "challenge": _B64URL,
                        "pubKeyCredParams": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "type": {"const": "public-key"},
                                    "alg": {"enum": [-7, -8, -257]},
                                },
                            },
                        },
                        "timeout": {"type": "integer"},
                        "excludeCredentials": {"type": "array", "items": descriptor},
                        "authenticatorSelection": {
                            "type": "object",
                            "properties": {
                                "residentKey": {"const": "preferred"},
                                "userVerification": user_verification,
                            },
                        },
                        "attestation": {"const": "none"},
                    },
                }
            },
        },
        "PasskeyRequestOptions": {
            "type": "object",
            "required": ["public_key"],
            "properties": {
                "public_key": {
                    "type": "object",
                    "description": "PublicKeyCredentialRequestOptionsJSON",
                    "required": ["challenge", "rpId", "timeout", "allowCredentials", "userVerification"],
                    "properties": {
                        "challenge": _B64URL,
                        "rpId": {"type": "string"},
                        "timeout": {"type": "integer"},
                        "allowCredentials": {"type": "array", "items": descriptor},
                        "userVerification": user_verification,
                    },
                }
            },
        },
        "PasskeyVerified": {
            "type": "object",
            "required": ["status", "to", "factor_id"],
            "properties": {"status": {"const": "verified"}, "to": _E164, "factor_id": _FACTOR},
        },
        "PasskeyApproval": {
            "type": "object",
            "required": ["status", "to", "factor_id", "receipt"],
            "properties": {
                "status": {"const": "approved"},
                "to": _E164,
                "factor_id": _FACTOR,
                "receipt": {
                    "description": "A compact JWS (ES256): amr [swk|hwk, user], passkey_bound_at; "
                    "null if KMS failed",
                    "anyOf": [{"type": "string", "pattern": jws}, {"type": "null"}],
                },
            },
        },
    }
