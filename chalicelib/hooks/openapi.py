"""The hooks' operations in /openapi.json (chalicelib/openapi/document.py): each in its platform's own
format, which that platform's documentation defines (docs/identity-platforms.md)."""

from __future__ import annotations

from typing import Any

# path -> (operationId, summary, the platform's error object)
HOOKS = {
    "/v1/hooks/supabase/send-sms": (
        "supabaseSendSmsHook", "Supabase Auth's Send SMS Hook (Standard Webhooks signature)",
        {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["http_code", "message"],
            "properties": {"http_code": {"type": "integer"}, "message": {"type": "string"}}}}}),
    "/v1/hooks/logto/sms": (
        "logtoSmsHook", "Logto's HTTP SMS connector (its static Authorization value)",
        {"$ref": "#/components/schemas/Error"}),
    "/v1/hooks/zitadel/sms": (
        "zitadelSmsHook", "ZITADEL's HTTP SMS provider (ZITADEL-Signature under its signing key)",
        {"$ref": "#/components/schemas/Error"}),
}


def hook_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, (operation, summary, error) in HOOKS.items():
        refusal = {"content": {"application/json": {"schema": error}}}
        paths[path] = {"post": {
            "operationId": operation,
            "summary": summary + "; 404 unless its OTP_HOOK_*_SECRET is set",
            "security": [],
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "Sent (or the platform's error object, for the platform to show)",
                        "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": {"description": "Not the platform's format, or over the size limit", **refusal},
                "401": {"description": "Not signed (or not authorized) by the platform, stale, or a replay",
                        **refusal},
                "404": {"description": "This hook is not configured"},
                "429": {"description": "A short wait: retry after Retry-After seconds", **refusal},
                "503": {"description": "Briefly unavailable: retry after Retry-After seconds", **refusal},
            }}}
    return paths
