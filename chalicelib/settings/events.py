"""Events to the deployment's backend (docs/events.md): OTP_EVENTS_*."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import DEPLOYED_STAGES, _bool, _str, section

PREFIX = "whsec_"  # Standard Webhooks' secrets: whsec_ and base64 (chalicelib/events/standard_webhooks.py)


def secret_bytes(secret: str) -> bytes:
    """The key inside ``whsec_<base64>`` (the prefix is optional, padding may be missing)."""
    raw = secret[len(PREFIX):] if secret.startswith(PREFIX) else secret
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


@section
class Events:
    """Events to the deployment's backend (docs/events.md): Standard Webhooks POSTs of the
    changes the table's stream shows. Off when OTP_EVENTS_URL is unset."""

    urls: tuple[str, ...] = ()
    secret: str | None = None  # whsec_...; OTP_EVENTS_SECRET (local, test) or the SSM parameter
    secret_parameter: str | None = None
    include_number: bool = False
    # OTP_TWILIO_WEBHOOKS: the stream's consumer also delivers the v2 Services' Webhooks
    # (chalicelib/twilio_v2/webhook_delivery.py), with or without OTP_EVENTS_URL.
    twilio_webhooks: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    @property
    def consumer(self) -> bool:
        """The table's stream has a consumer: events to OTP_EVENTS_URL, Twilio's Webhooks, or both."""
        return bool(self.urls) or self.twilio_webhooks

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "Events":
        raw = _str(env, "OTP_EVENTS_URL")
        twilio_webhooks = _bool(env, "OTP_TWILIO_WEBHOOKS", False)
        if raw is None:
            return cls(include_number=_bool(env, "OTP_EVENTS_INCLUDE_NUMBER", False),
                       twilio_webhooks=twilio_webhooks)
        try:
            urls = json.loads(raw) if raw.startswith("[") else [raw]
        except ValueError:
            urls = None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ConfigError('OTP_EVENTS_URL must be a URL or a JSON list of URLs')
        for url in urls:
            pattern = r"https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?(/[^\s]*)?"
            if not re.fullmatch(pattern, url, re.ASCII):
                raise ConfigError(f"OTP_EVENTS_URL has {url!r}: use https (http only for localhost)")
        secret, parameter = _str(env, "OTP_EVENTS_SECRET"), _str(env, "OTP_EVENTS_SECRET_PARAMETER")
        if secret is not None and stage in DEPLOYED_STAGES:
            raise ConfigError(
                f"OTP_EVENTS_SECRET is refused in the {stage!r} stage: use OTP_EVENTS_SECRET_PARAMETER (SSM)"
            )
        if secret is None and parameter is None:
            raise ConfigError(
                "OTP_EVENTS_URL needs OTP_EVENTS_SECRET (whsec_...) or OTP_EVENTS_SECRET_PARAMETER"
            )
        if secret is not None:
            try:
                key = secret_bytes(secret)
            except ValueError:
                key = b""
            if not secret.startswith("whsec_") or len(key) < 24:
                raise ConfigError(
                    "OTP_EVENTS_SECRET must be whsec_ followed by base64 of 24 to 64 random bytes"
                )
        return cls(tuple(urls), secret, parameter, _bool(env, "OTP_EVENTS_INCLUDE_NUMBER", False),
                   twilio_webhooks)


# Until `make deploy` names it (OTP_EVENTS_STREAM_ARN) or `make package` puts the table's
# StreamArn in its place (scripts/deploy/events_resources.py), the handler is bound to this name.
STREAM_PLACEHOLDER = "arn:aws:dynamodb:::table/phone-verify/stream/named-by-make-deploy-or-make-package"


def events_stream(environ: Mapping[str, str] | None = None) -> str | None:
    """The stream the events handler reads, read when app.py is imported: Chalice binds an
    ``on_dynamodb_record`` handler to a stream ARN at definition (like OTP_API_KEY_REQUIRED).
    None when events are off. The ARN matters only to `chalice deploy`, which creates the
    mapping; at run time the handler only needs to exist."""
    env = os.environ if environ is None else environ
    if not stream_consumer(env):
        return None
    return _str(env, "OTP_EVENTS_STREAM_ARN") or STREAM_PLACEHOLDER


def stream_consumer(env: Mapping[str, str]) -> bool:
    """The stage has the stream's consumer: OTP_EVENTS_URL (the Standard Webhooks events) or
    OTP_TWILIO_WEBHOOKS (the v2 Services' Webhooks). make deploy and make package ask this."""
    return bool(_str(env, "OTP_EVENTS_URL")) or _bool(env, "OTP_TWILIO_WEBHOOKS", False)


def delivery_topic(environ: Mapping[str, str] | None = None) -> str | None:
    """OTP_DELIVERY_EVENTS_TOPIC: the SNS topic (name or ARN) an End User Messaging
    configuration set publishes its delivery events to; read when app.py is imported (Chalice
    subscribes the ``on_sns_message`` handler to it at definition). None: no handler."""
    env = os.environ if environ is None else environ
    return _str(env, "OTP_DELIVERY_EVENTS_TOPIC")
