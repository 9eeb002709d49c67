"""The channels beside SMS and voice (docs/channels.md): OTP_WHATSAPP_*, OTP_EMAIL_*.

A channel is on when its provider chain is set; off, a start on it answers 400
unsupported_channel and the page does not offer it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import field
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.providers import REGISTRY
from chalicelib.settings.env import _str, section

# Meta: "Template names can only contain lowercase alphanumeric characters and underscores",
# at most 512 characters.
_TEMPLATE_NAME = re.compile(r"[a-z0-9_]{1,512}", re.ASCII)
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:_[A-Z]{2})?", re.ASCII)


# Meta's language codes for the shipped locales (developers.facebook.com/docs/whatsapp/
# business-management-api/message-templates/supported-languages). The approved template
# must exist in each language used; OTP_WHATSAPP_LANGUAGES overrides any of them.
WHATSAPP_LANGUAGES: dict[str, str] = {
    "en": "en", "es": "es", "fr": "fr", "de": "de", "it": "it", "pt": "pt_BR", "ja": "ja",
    "zh": "zh_CN", "ar": "ar", "hi": "hi", "ru": "ru",
}


@section
class Channels:
    whatsapp: tuple[str, ...] = ()  # OTP_WHATSAPP_PROVIDER: the chain, () = off
    email: tuple[str, ...] = ()  # OTP_EMAIL_PROVIDER: the chain, () = off
    whatsapp_template: str = "verification_code"  # an approved authentication template
    whatsapp_languages: Mapping[str, str] = field(default_factory=lambda: dict(WHATSAPP_LANGUAGES))
    # OTP_CHANNEL_ORDER: channel "auto" takes the first channel of the number's country's
    # order ("*": every other country); a resend after an undelivered send takes the next.
    order: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"*": ("sms",)})

    def auto_order(self, region: str) -> tuple[str, ...]:
        return self.order.get(region) or self.order.get("*") or ("sms",)

    def chain(self, channel: str) -> tuple[str, ...]:
        return self.whatsapp if channel == "whatsapp" else self.email if channel == "email" else ()

    @property
    def providers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.whatsapp + self.email))

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Channels":
        template = _str(env, "OTP_WHATSAPP_TEMPLATE") or "verification_code"
        if not _TEMPLATE_NAME.fullmatch(template):
            raise ConfigError(
                "OTP_WHATSAPP_TEMPLATE must be the approved template's name: lowercase letters, "
                "digits and underscores"
            )
        whatsapp = _channel_chain(env, "OTP_WHATSAPP_PROVIDER", "whatsapp")
        return cls(
            whatsapp=whatsapp,
            email=_channel_chain(env, "OTP_EMAIL_PROVIDER", "email"),
            order=_order(_str(env, "OTP_CHANNEL_ORDER"), bool(whatsapp)),
            whatsapp_template=template,
            whatsapp_languages={**WHATSAPP_LANGUAGES, **_languages(_str(env, "OTP_WHATSAPP_LANGUAGES"))},
        )


def channel_event_topics(environ: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """OTP_EMAIL_EVENTS_TOPIC (SES's configuration set) and OTP_WHATSAPP_EVENTS_TOPIC (End User
    Messaging Social's event destination): SNS topic names, read when app.py is imported
    (Chalice binds an SNS handler to its topic at definition)."""
    env = os.environ if environ is None else environ
    topics = []
    for name in ("OTP_EMAIL_EVENTS_TOPIC", "OTP_WHATSAPP_EVENTS_TOPIC"):
        topic = _str(env, name)
        if topic is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", topic, re.ASCII):
            raise ConfigError(f"{name} must be an SNS topic name (A-Z a-z 0-9 _ -)")
        topics.append(topic)
    return topics[0], topics[1]


def _channel_chain(env: Mapping[str, str], name: str, channel: str) -> tuple[str, ...]:
    raw = _str(env, name)
    if raw is None:
        return ()
    chain = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    able = [p for p, spec in REGISTRY.items() if channel in spec.channels]
    wrong = [p for p in chain if p not in able]
    if not chain or wrong or len(set(chain)) != len(chain):
        raise ConfigError(
            f"{name} must list distinct providers that send {channel}, in order; "
            f"known: {', '.join(able)}"
        )
    return chain


_REGION_OR_ALL = re.compile(r"[A-Z]{2}|\*", re.ASCII)


def _order(raw: str | None, whatsapp: bool) -> dict[str, tuple[str, ...]]:
    """{"BR": "whatsapp,sms", "IN": "whatsapp,sms", "*": "sms,voice"}: per country (or "*"),
    the channels "auto" tries in order. WhatsApp only when OTP_WHATSAPP_PROVIDER is set; no
    email (an auto verification's to is a number)."""
    if raw is None:
        return {"*": ("sms",)}
    allowed = ("sms", "voice", "whatsapp") if whatsapp else ("sms", "voice")
    message = (
        'OTP_CHANNEL_ORDER must map countries (or "*") to channels in order, e.g. '
        f'{{"BR": "whatsapp,sms", "*": "sms"}}; channels: {", ".join(allowed)}'
    )
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(message) from None
    if not isinstance(value, dict) or not value:
        raise ConfigError(message)
    order: dict[str, tuple[str, ...]] = {}
    for region, channels in value.items():
        parts = tuple(c.strip() for c in channels.split(",")) if isinstance(channels, str) else ()
        if (not _REGION_OR_ALL.fullmatch(str(region)) or not parts or len(set(parts)) != len(parts)
                or any(c not in allowed for c in parts)):
            raise ConfigError(message)
        order[region] = parts
    return order


def _languages(raw: str | None) -> dict[str, str]:
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k in WHATSAPP_LANGUAGES and isinstance(v, str) and _LANGUAGE.fullmatch(v)
        for k, v in value.items()
    ):
        raise ConfigError(
            'OTP_WHATSAPP_LANGUAGES must map shipped locales to Meta language codes, e.g. {"pt": "pt_PT"}; '
            f"locales: {', '.join(WHATSAPP_LANGUAGES)}"
        )
    return value
