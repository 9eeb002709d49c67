"""The OpenAPI 3.1 document of every route, served at GET /openapi.json.

Built from the code's own values: the error codes are collected from the ServiceError classes,
the code length and channels from the configuration and models, the API-key scheme from the
stage. tests/unit/test_openapi.py checks that the app's routes and this document list the same
operations and that real responses validate against it; schemathesis fuzzes the served app
against it in `make test`.
"""

from __future__ import annotations

from typing import Any

from chalicelib.openapi import schemas as openapi_schemas


def _error_response(description: str, retry: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _json(schema_ref: str, description: str, example: dict | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}
    if example is not None:
        media["example"] = example
    return {"description": description, "content": {"application/json": media}}


def _text(description: str, example: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"text/plain": {"schema": {"type": "string"}, "example": example}}}


VERIFICATION_EXAMPLE = {
    "id": "VE" + "1f" * 16,
    "to": "+14155552671",
    "channel": "sms",
    "status": "pending",
    "expires_at": "2026-11-22T22:10:00Z",
    "send_count": 1,
    "resend_after": 30,
}


def document(code_length: int = 6, api_key_required: bool = False, public_api: bool = True) -> dict[str, Any]:
    code_pattern = f"^[0-9]{{{code_length}}}$"
    bad_request = _error_response("Invalid input (see error.code)")
    unavailable = _error_response("DynamoDB is briefly unavailable", retry=True)
    too_many = _error_response("A limit was reached; retry after Retry-After seconds", retry=True)
    unsupported_media = _error_response("The body is not application/json")
    foreign_origin = _error_response("origin_not_allowed: a browser page on another origin")
    seed_form = {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/SeedForm"}},
        },
    }
    security: list[dict[str, list[str]]] = [{"ApiKey": []}] if api_key_required else []
    # The server door: AWS IAM (SigV4), checked by API Gateway before the function runs.
    server: list[dict[str, list[str]]] = [{"SigV4": [], **({"ApiKey": []} if api_key_required else {})}]
    public = security if public_api else server
    preflight = {
        "summary": "CORS preflight: answered for the origins in OTP_ALLOWED_ORIGINS only",
        "security": [],
        "parameters": [{"name": "Origin", "in": "header", "required": False, "schema": {"type": "string"}}],
        "responses": {"204": {"description": "Allowed: Access-Control-Allow-* headers"},
                      "403": foreign_origin},
    }

    paths: dict[str, Any] = {
        "/v1/verifications": {
            "post": {
                "operationId": "startVerification",
                "summary": "Send a code (or resend while one is pending)",
                "security": public,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/StartRequest"},
                        "example": {"to": "+14155552671", "channel": "sms", "locale": "en"},
                    }},
                },
                "responses": {
                    "201": _json(
                        "Verification", "A new verification; the code was sent", VERIFICATION_EXAMPLE
                    ),
                    "200": _json("Verification", "A resend: same id, new code, send_count + 1"),
                    "400": bad_request,
                    "403": _error_response("country_not_allowed, or origin_not_allowed"),
                    "415": unsupported_media,
                    "422": _error_response("undeliverable_number: the provider refused this number"),
                    "429": too_many,
                    "502": _error_response("delivery_failed: every provider failed; retry at once"),
                    "503": unavailable,
                },
            }
        },
        "/v1/verifications/check": {
            "post": {
                "operationId": "checkVerification",
                "summary": "Check a code; a code succeeds once",
                "security": public,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/CheckRequest"},
                        "example": {"to": "+14155552671", "code": "0" * code_length},
                    }},
                },
                "responses": {
                    "200": _json("CheckResult", "Approved, with a signed receipt (null if KMS failed)",
                                 {"id": VERIFICATION_EXAMPLE["id"], "to": "+14155552671",
                                  "status": "approved", "valid": True, "receipt": "eyJhbGciOiJFUzI1NiIs…"}),
                    "400": bad_request,
                    "403": _error_response("incorrect_code, with attempts_remaining; or origin_not_allowed"),
                    "404": _error_response("verification_not_found: nothing pending for this number or id"),
                    "415": unsupported_media,
                    "429": too_many,
                    "503": unavailable,
                },
            }
        },
        "/v1/verifications/{verification_id}": {
            "parameters": [{"name": "verification_id", "in": "path", "required": True,
                            "schema": {"type": "string"}, "example": VERIFICATION_EXAMPLE["id"]}],
            "get": {
                "operationId": "getVerification",
                "summary": "A verification's status (server door: IAM)",
                "security": server,
                "responses": {
                    "200": _json("VerificationStatus", "The verification"),
                    "404": _error_response("verification_not_found"),
                    "503": unavailable,
                },
            },
            "delete": {
                "operationId": "cancelVerification",
                "summary": "Cancel a pending verification (server door: IAM)",
                "security": server,
                "responses": {
                    "200": _json("VerificationStatus", "Canceled"),
                    "404": _error_response("verification_not_found"),
                    "409": _error_response("not_pending (also a verification locked by failed checks)"),
                    "503": unavailable,
                },
            },
        },
    }
    not_found_early = _error_response("not_found: no such provider, or OTP_PUBLIC_URL unset")
    for path, summary, responses in (
        ("/request-auth", "Seed-compatible: send a code to `number` (a browser's navigation, "
         "`Accept: text/html`, gets the next step as a page instead of the text)", {
            "200": _text("Sent", "Your code was sent"),
            "400": _text("Invalid number", "Invalid Phone Number"),
            "403": _text("A browser page on another origin", "Forbidden"),
            "415": unsupported_media,
            "429": {**_text("Too many requests", "Too Many Requests"),
                    "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}},
            "500": _text("The code could not be sent", "Error sending code via SMS"),
            "503": {**_text("Briefly unavailable (the secrets could not be read yet)", "Service Unavailable"),
                    "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}},
        }),
        ("/validate-auth", "Seed-compatible: check `auth_code` for `number`", {
            "200": _text("Approved", "Success!"),
            "403": _text("Not approved", "Forbidden"),
            "415": unsupported_media,
            "503": {**_text("Briefly unavailable", "Service Unavailable"),
                    "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}},
        }),
    ):
        # POST only, fields in the body only: a GET (an <img>) must not send an SMS, and a code
        # in a query string lands in logs and Referer headers.
        # The page's form without JavaScript (Accept names text/html): the same statuses, as
        # pages (chalicelib/web/form_pages.py); 415 is Chalice's, before the route.
        for status, response in responses.items():
            if status != "415":
                response["content"] = {**response["content"], "text/html": {"schema": {"type": "string"}}}
        paths[path] = {
            "post": {"operationId": path.strip("/").replace("-", "_") + "_post", "summary": summary,
                     "security": public, "requestBody": seed_form, "responses": responses},
        }
    paths["/v1/callbacks/{provider}"] = {
        "parameters": [{"name": "provider", "in": "path", "required": True, "schema": {"type": "string"}}],
        **{method: {
            "operationId": f"providerCallback{method.title()}",
            "summary": "A provider's delivery receipt (public; authenticated by the provider's signature)",
            "security": [],
            "responses": {
                "200": {"description": "Taken (an unknown reference changes nothing)", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["received", "changed"],
                                                    "properties": {"received": {"const": True},
                                                                   "changed": {"type": "integer"}}}}}},
                "403": _error_response("invalid_signature: unsigned, badly signed or stale"),
                "404": not_found_early,
                "413": _error_response("payload_too_large"),
                "415": unsupported_media,
                "503": unavailable,
            },
        } for method in ("get", "post")},
    }
    from chalicelib.hooks import hook_paths

    paths.update(hook_paths())  # the identity platforms' hooks, each in its platform's format
    paths["/v1/verifications"]["options"] = {"operationId": "startPreflight", **preflight}
    paths["/v1/verifications/check"]["options"] = {"operationId": "checkPreflight", **preflight}
    paths["/"] = {"get": {"operationId": "page", "summary": "The web page", "security": [],
                          "responses": {"200": {"description": "HTML",
                                                "content": {"text/html": {"schema": {"type": "string"}}}}}}}
    not_found = _error_response("not_found")
    paths["/static/{name}"] = {"get": {
        "operationId": "staticFile", "summary": "The page's script and styles", "security": [],
        "parameters": [{"name": "name", "in": "path", "required": True,
                        "schema": {"type": "string",
                                   "enum": ["app.js", "app.css", "inbox.js", "favicon.svg"]}}],
        "responses": {"200": {"description": "The file", "content": {
            "text/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}},
            "image/svg+xml": {"schema": {"type": "string"}}}},
            "404": not_found}}}
    paths["/dev/inbox"] = {"get": {
        "operationId": "devInbox", "summary": "Local stage with the console provider only: the SMS sent",
        "security": [],
        "responses": {"200": {"description": "HTML",
                              "content": {"text/html": {"schema": {"type": "string"}}}},
                      "404": not_found}}}
    paths["/dev/inbox.json"] = {"get": {
        "operationId": "devInboxJson", "summary": "Local stage with the console provider only: the SMS sent, "
                                                  "newest first", "security": [],
        "responses": {"200": {"description": "Messages", "content": {"application/json": {"schema": {
            "type": "array",
            "items": {"type": "object", "required": ["id", "to", "channel", "body", "at"]}}}}},
            "404": not_found}}}
    event = {"type": "object", "required": ["webhook_id", "type", "timestamp", "data"]}
    paths["/dev/events.json"] = {"get": {
        "operationId": "devEvents", "summary": "make run only: the events the table's stream implies",
        "security": [], "responses": {"404": not_found, "200": {"description": "Events, newest first",
                                                                "content": {"application/json": {"schema": {
                                                                    "type": "array", "items": event}}}}}}}
    paths["/.well-known/jwks.json"] = {"get": {
        "operationId": "jwks", "summary": "The public keys that verify receipts (RFC 7517)", "security": [],
        "responses": {"200": {"description": "JWK Set", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/JwkSet"}}}}, "503": _error_response("KMS unavailable")}}}
    paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1",
                                                            "content": {"application/json": {
                                                                "schema": {"type": "object"}}}}}}}

    from chalicelib.openapi import totp as openapi_totp

    paths.update(openapi_totp.paths())
    from chalicelib.openapi import passkeys as openapi_passkeys

    paths.update(openapi_passkeys.paths(public, preflight))
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "phone-verify",
            "version": "1.0.0",
            "description": "Self-hosted phone verification: send a one-time code by SMS or voice, "
                           "then check it. Errors are always {\"error\": {\"code\", \"message\"}}.",
        },
        "paths": paths,
        "components": {
            "headers": {"RetryAfter": {"description": "Seconds to wait",
                                       "schema": {"type": "integer", "minimum": 1}}},
            "schemas": {**openapi_schemas.schemas(code_pattern), **openapi_totp.schemas(openapi_schemas.JWS),
                        **openapi_passkeys.schemas(openapi_schemas.JWS)},
        },
    }
    schemes: dict[str, Any] = {"SigV4": {
        **openapi_totp.SIGV4,
        "description": "AWS Signature Version 4 (service execute-api) by a principal allowed "
                       "execute-api:Invoke on the route; API Gateway checks it",
    }}
    if api_key_required:
        schemes["ApiKey"] = {"type": "apiKey", "in": "header", "name": "x-api-key"}
        doc["security"] = security
    doc["components"]["securitySchemes"] = schemes
    return doc
