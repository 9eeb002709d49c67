"""SMS and voice providers behind one small interface, registered by name, imported on use.

A provider sends one message (or places one call) and returns the provider's message id, or
raises ``ProviderError`` saying whether the failure is permanent (this number will not work,
through any provider: no failover) or transient (timeout, throttling, 5xx, this provider's
account or credentials: try the next provider).
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from chalicelib.errors import ConfigError
# The registry is configuration (which providers exist, their variables): the kernel owns it, so
# that config.py validates SMS_PROVIDER without importing this package (chalicelib/settings/providers.py).
from chalicelib.settings.providers import REGISTRY as REGISTRY
from chalicelib.settings.providers import URL_SETTINGS as URL_SETTINGS
from chalicelib.settings.providers import ProviderSpec as ProviderSpec
from chalicelib.settings.providers import check_url as check_url

if TYPE_CHECKING:  # this module never imports config.py
    from chalicelib.channels.channel_messages import EmailMessage, WhatsAppMessage
    from chalicelib.channels.email_address import EmailAddress
    from chalicelib.channels.messages import SmsMessage, VoiceMessage
    from chalicelib.channels.phone import PhoneNumber


class ProviderError(Exception):
    """A send failed. ``detail`` is the provider's own code and text, for logs only."""

    def __init__(
        self, provider: str, *, permanent: bool, detail: str, maybe_delivered: bool = False
    ) -> None:
        super().__init__(f"{provider}: {'permanent' if permanent else 'transient'}: {detail}")
        self.provider = provider
        self.permanent = permanent
        self.detail = detail
        # The provider took the request and did not answer in time: the message may be on
        # its way, so the verification's write is not undone (the next provider still tries).
        self.maybe_delivered = maybe_delivered


def aws_transport_error(provider: str, exc: Exception) -> ProviderError:
    """A send through an AWS API (SNS, End User Messaging, SES, Lambda) that failed below the
    API: transient, and "maybe delivered" when the request had left, as for the HTTP
    providers. botocore (httpsession.py) raises ReadTimeoutError for an answer that did not
    come in time and ConnectionClosedError for a connection dropped once the request was
    written (urllib3's ProtocolError); a connection it could not open is EndpointConnectionError
    or ConnectTimeoutError, and nothing was sent."""
    from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

    left = isinstance(exc, (ReadTimeoutError, ConnectionClosedError))
    return ProviderError(provider, permanent=False, detail=type(exc).__name__, maybe_delivered=left)


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may use: its settings, the default sender, shared clients."""

    name: str
    settings: Mapping[str, str] = field(default_factory=dict)
    sender: str | None = None
    http: Callable[[], Any] | None = None  # -> the container's requests.Session
    aws: Callable[[str], Any] | None = None  # service name -> boto3 client

    def aws_client(self, service: str) -> Any:
        """The container's boto3 client for ``service``; the AWS providers are built with one."""
        if self.aws is None:
            raise TypeError(f"provider {self.name!r} was built without an AWS client factory")
        return self.aws(service)

    def required(self, key: str) -> str:
        value = self.settings.get(key)
        if not value:
            prefix = REGISTRY[self.name].env_prefix
            raise ConfigError(
                f"provider {self.name!r} needs {prefix}_{key.upper()} "
                f"(or {key!r} under {self.name!r} in the SMS_CREDENTIALS_PARAMETER JSON)"
            )
        return value

    def optional(self, key: str, default: str | None = None) -> str | None:
        return self.settings.get(key) or default

    def url(self, key: str, default: str | None = None) -> str:
        """A URL setting, checked (see check_url), without a trailing slash."""
        value = self.settings.get(key)
        if not value:
            return default if default is not None else self.required(key)
        return check_url(value, f"{REGISTRY[self.name].env_prefix}_{key.upper()}").rstrip("/")


@dataclass(frozen=True)
class Delivery:
    """One send, as the service hands it to a provider. Most providers need only ``to`` and
    ``message``; the generic ones (webhook, lambda) pass the rest on to the deployer's code.
    ``code`` is secret: never put it in a log line, an exception or a ProviderError detail."""

    to: PhoneNumber | EmailAddress  # an EmailAddress for the email channel
    channel: str  # "sms", "voice", "whatsapp" or "email"
    message: SmsMessage | VoiceMessage | WhatsAppMessage | EmailMessage
    locale: str
    code: str
    verification_id: str
    report: Any = None  # a chalicelib.delivery.tracker.DeliveryReport for providers with delivery_reports


class SmsProvider(abc.ABC):
    name: str
    supports_voice = False

    def __init__(self, context: ProviderContext) -> None:
        self.context = context

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        """Send ``message`` to ``to``; return the provider's message id. Each channel refuses by
        default, so a WhatsApp- or email-only provider implements only its own."""
        raise ProviderError(self.name, permanent=False, detail="sms not supported")

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        """Call ``to`` and speak ``speech``; return the provider's call id."""
        raise ProviderError(self.name, permanent=False, detail="voice not supported")

    def send_whatsapp(self, to: PhoneNumber, message: WhatsAppMessage) -> str:
        """Send the authentication template to ``to``'s WhatsApp; return the message id."""
        raise ProviderError(self.name, permanent=False, detail="whatsapp not supported")

    def send_email(self, to: EmailAddress, message: EmailMessage) -> str:
        """Send ``message`` to ``to``; return the provider's message id."""
        raise ProviderError(self.name, permanent=False, detail="email not supported")

    def deliver(self, delivery: Delivery) -> str:
        """The service's entry point: an SMS or a call. Providers that need more than the
        number and the message (webhook, lambda) override this instead."""
        # Adapters that pass a delivery-receipt URL and reference declare delivery_reports.
        extra = {"report": delivery.report} if delivery.report is not None else {}
        # The channel names the message's type, which mypy cannot see: voice -> VoiceMessage.
        if delivery.channel == "voice":
            return self.call(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]
        if delivery.channel == "whatsapp":
            return self.send_whatsapp(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]
        if delivery.channel == "email":
            return self.send_email(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]
        return self.send_sms(delivery.to, delivery.message, **extra)  # type: ignore[arg-type]


def load_provider(context: ProviderContext) -> SmsProvider:
    module_name, _, class_name = REGISTRY[context.name].path.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(context)
