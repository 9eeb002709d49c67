"""Events to the deployment's backend (README, "Events"): OTP_EVENTS_*."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import DEPLOYED_STAGES, _bool, _str


@dataclass(frozen=True)
class Events:
    """Events to the deployment's backend (README, "Events"): Standard Webhooks POSTs through
    an SQS queue. Off when OTP_EVENTS_URL is unset."""

    urls: tuple[str, ...] = ()
    secret: str | None = None  # whsec_...; OTP_EVENTS_SECRET (local, test) or the SSM parameter
    secret_parameter: str | None = None
    queue: str | None = None  # OTP_EVENTS_QUEUE: the queue's name
    include_number: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "Events":
        raw = _str(env, "OTP_EVENTS_URL")
        if raw is None:
            return cls()
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
            from chalicelib.standard_webhooks import secret_bytes

            try:
                key = secret_bytes(secret)
            except ValueError:
                key = b""
            if not secret.startswith("whsec_") or len(key) < 24:
                raise ConfigError(
                    "OTP_EVENTS_SECRET must be whsec_ followed by base64 of 24 to 64 random bytes"
                )
        queue = _str(env, "OTP_EVENTS_QUEUE")
        if queue is None:
            raise ConfigError("OTP_EVENTS_URL needs OTP_EVENTS_QUEUE (the SQS queue's name)")
        return cls(tuple(urls), secret, parameter, queue, _bool(env, "OTP_EVENTS_INCLUDE_NUMBER", False))


def events_queue(environ: Mapping[str, str] | None = None) -> str | None:
    """OTP_EVENTS_QUEUE, read when app.py is imported: Chalice binds the SQS handler to a
    queue name at definition (like OTP_API_KEY_REQUIRED)."""
    env = os.environ if environ is None else environ
    return _str(env, "OTP_EVENTS_QUEUE") if _str(env, "OTP_EVENTS_URL") else None
