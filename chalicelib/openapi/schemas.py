"""The schemas of the v1 OpenAPI document (chalicelib/openapi/document.py builds the paths around them),
and the error codes the contract declares, collected from the ServiceError classes."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.channels import SMS_TEMPLATES
from chalicelib.http import MAX_BODY_BYTES
from chalicelib.verify import CHANNELS, REQUEST_CHANNELS

# Answers that Chalice gives itself, reshaped into the contract by app.py's middleware, and
# API Gateway's own answers, reshaped by the gateway responses `make deploy` and
# `make package` install (scripts/deploy/provision.py).
FRAMEWORK_CODES = ("unsupported_media_type", "method_not_allowed", "throttled", "quota_exceeded",
                   "invalid_api_key")


def error_codes() -> list[str]:
    from chalicelib.passkeys import PasskeyRefused  # noqa: F401  (loads the passkeys' errors)

    codes: set[str] = set(FRAMEWORK_CODES)
    pending = [errors.ServiceError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in cls.__dict__:
            codes.add(cls.code)
    return sorted(codes)



JWS = "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"


def schemas(code_pattern: str) -> dict[str, Any]:
    iso_time = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"}
    verification_id = {"type": "string", "pattern": "^VE[0-9a-f]{32}([0-9a-f]{16})?$"}
    # E.164, or (channel email) the address as normalised (chalicelib/channels/email_address.py).
    e164 = {"type": "string", "pattern": "^(\\+[1-9][0-9]{6,14}|[^@\\s]{1,64}@[^@\\s]{1,253})$"}
    status = {"type": "string",
              "enum": ["pending", "approved", "canceled", "expired", "max_attempts_reached"]}
    channel = {"type": "string", "enum": list(CHANNELS)}
    base = {
        "id": verification_id, "to": e164, "channel": channel, "status": status,
        "expires_at": iso_time, "send_count": {"type": "integer", "minimum": 1},
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "additionalProperties": False,
            "properties": {"error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": error_codes()},
                    "message": {"type": "string"},
                    "retry_after": {"type": "integer", "minimum": 1},
                    "attempts_remaining": {"type": "integer", "minimum": 0},
                    "status": status,
                },
            }},
        },
        "StartRequest": {
            "type": "object",
            "required": ["to"],
            "additionalProperties": False,
            "description": f"At most {MAX_BODY_BYTES} bytes.",
            "properties": {
                "to": {"type": "string", "description": "E.164, or a national number read in `country`; "
                                                         "an email address when `channel` is email"},
                "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                "channel": {"type": "string", "enum": list(REQUEST_CHANNELS), "default": "sms"},
                "locale": {"type": "string", "description": f"One of {', '.join(SMS_TEMPLATES)}; "
                                                            "others fall back to en", "default": "en"},
                "nonce": {"$ref": "#/components/schemas/ReceiptNonce"},
                "purpose": {"$ref": "#/components/schemas/ReceiptPurpose"},
            },
        },
        "ReceiptNonce": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,256}$",
                         "description": "Your backend's value bound to its session (OIDC nonce), "
                                        "carried into the receipt; the last start's wins"},
        "ReceiptPurpose": {"type": "string", "minLength": 1, "maxLength": 64,
                           "description": "login, signup, transaction or your own; into the receipt"},
        "CheckRequest": {
            "type": "object",
            "required": ["code"],
            "additionalProperties": False,
            "description": "Exactly one of `to` and `id`.",
            "properties": {
                "to": {"type": "string"},
                "country": {"type": "string", "pattern": "^[A-Za-z]{2}$"},
                "id": {"type": "string"},
                "code": {"type": "string", "pattern": code_pattern},
            },
            "oneOf": [{"required": ["to"]}, {"required": ["id"]}],
        },
        "Verification": {
            "type": "object",
            "required": [*base, "resend_after", "provider"],
            "additionalProperties": False,
            "properties": {**base, "resend_after": {"type": "integer", "minimum": 0},
                           "provider": {"type": "string", "description":
                                        "The provider that took this send; a resend after an undelivered "
                                        "send goes to the next provider in the chain"}},
        },
        "VerificationStatus": {
            "type": "object",
            "required": [*base, "attempts_remaining"],
            "additionalProperties": False,
            "properties": {
                **base,
                "attempts_remaining": {"type": "integer", "minimum": 0},
                "send_attempts": {"type": "array", "items": {
                    "type": "object",
                    "required": ["channel", "provider", "sent_at", "status", "error_code"],
                    "properties": {
                        "channel": channel, "provider": {"type": "string"}, "sent_at": iso_time,
                        "status": {"enum": ["accepted", "sent", "delivered", "read", "undelivered", "failed"],
                                   "description": "From the provider's delivery receipts; "
                                                  "never moves backwards (read: a WhatsApp "
                                                  "the user opened)"},
                        "error_code": {"type": ["string", "null"]},
                    },
                }},
            },
        },
        "CheckResult": {
            "type": "object",
            "required": ["id", "to", "status", "valid"],
            "additionalProperties": False,
            "properties": {"id": verification_id, "to": e164, "status": {"const": "approved"},
                           "valid": {"const": True},
                           "receipt": {"type": ["string", "null"], "pattern": JWS,
                                       "description":
                                           "Compact JWS (ES256); verify with /.well-known/jwks.json"}},
        },
        "JwkSet": {
            "type": "object",
            "required": ["keys"],
            "properties": {"keys": {"type": "array", "items": {
                "type": "object",
                "required": ["kty", "crv", "x", "y", "kid", "alg", "use"],
                "additionalProperties": False,
                "properties": {"kty": {"const": "EC"}, "crv": {"const": "P-256"}, "alg": {"const": "ES256"},
                               "use": {"const": "sig"}, "x": {"type": "string"}, "y": {"type": "string"},
                               "kid": {"type": "string"},
                               "certification": {"type": "string", "description": (
                                   "A minute key's (OTP_RECEIPT_SIGNING=minute_key): the compact JWS by "
                                   "which the KMS key certifies it (docs/receipts.md)")}},
            }}},
        },
        "SeedForm": {
            "type": "object",
            "properties": {"number": {"type": "string", "description": "E.164, or national with `country`"},
                           "country": {"type": "string", "description": "ISO 3166 alpha-2"},
                           "auth_code": {"type": "string"}},
        },
    }
