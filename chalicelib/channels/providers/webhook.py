"""The generic provider: POST each message to your own endpoint, signed the Standard Webhooks
way, and let your code send it through whatever gateway you have.

Signing follows https://github.com/standard-webhooks/standard-webhooks (spec/
standard-webhooks.md): headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, keyed with the bytes
of the base64 part of a ``whsec_<base64>`` secret. Any Standard Webhooks library verifies it.

The body carries the code (the receiver sends it): nothing here logs the body, and a
ProviderError's detail never holds the receiver's answer, which might echo it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import TYPE_CHECKING, Any, Callable

from chalicelib.channels.providers import Delivery, ProviderContext, ProviderError
from chalicelib.channels.providers.http import HttpProvider, json_or_none

if TYPE_CHECKING:
    from chalicelib.channels.messages import SmsMessage
    from chalicelib.channels.phone import PhoneNumber

SECRET_PREFIX = "whsec_"


def signing_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ConfigError naming WEBHOOK_SECRET if bad."""
    from chalicelib.errors import ConfigError

    if not secret.startswith(SECRET_PREFIX):
        raise ConfigError("WEBHOOK_SECRET must look like whsec_<base64 of at least 24 random bytes>")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("WEBHOOK_SECRET must be whsec_ followed by base64") from None
    if len(key) < 24:
        raise ConfigError("WEBHOOK_SECRET must hold at least 24 random bytes (192 bits)")
    return key


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(delivery: Delivery) -> dict[str, Any]:
    """What the webhook and the lambda provider hand to the deployer's code."""
    return {
        "type": delivery.channel,
        "to": delivery.to.key,
        "locale": delivery.locale,
        "text": delivery.message.text,
        "code": delivery.code,
        "verification_id": delivery.verification_id,
    }


class WebhookProvider(HttpProvider):
    name = "webhook"
    supports_voice = True

    def __init__(self, context: ProviderContext, clock: Callable[[], float] = time.time) -> None:
        super().__init__(context)
        self._clock = clock

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        raise NotImplementedError("the webhook provider is driven through deliver()")

    def deliver(self, delivery: Delivery) -> str:
        url = self.context.url("url")
        key = signing_key(self.context.required("secret"))
        body = json.dumps(payload(delivery), ensure_ascii=False, separators=(",", ":")).encode()
        message_id = "msg_" + secrets.token_hex(12)
        timestamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, message_id, timestamp, body),
        }
        response = self._post(url, data=body, headers=headers, allow_redirects=False)
        answer = json_or_none(response)
        if 200 <= response.status_code < 300:
            if isinstance(answer, dict) and isinstance(answer.get("message_id"), (str, int)):
                return str(answer["message_id"])[:100]
            return message_id
        # 422 {"permanent": true}: the receiver's gateway says this number cannot take it.
        # Everything else (4xx, 5xx, 3xx, a 422 without the flag) is transient.
        permanent = (
            response.status_code == 422 and isinstance(answer, dict) and answer.get("permanent") is True
        )
        raise ProviderError(self.name, permanent=permanent, detail=f"HTTP {response.status_code}")
