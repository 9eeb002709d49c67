"""The providers' registry: each provider's name, where its adapter lives (imported only when a
deployment names it), its variables' prefix and its channels. Configuration, so the kernel owns
it: chalicelib/config.py and settings/channels.py validate names against it without importing
the providers (chalicelib/channels/providers/, which re-exports it)."""

from __future__ import annotations

from typing import NamedTuple

from chalicelib.errors import ConfigError


class ProviderSpec(NamedTuple):
    path: str  # "module:Class", imported only when a deployment names the provider
    env_prefix: str  # settings come from <PREFIX>_<SETTING> variables, e.g. TWILIO_AUTH_TOKEN
    voice: bool
    channels: tuple[str, ...] = ("sms",)  # besides voice: sms, whatsapp, email (docs/channels.md)


REGISTRY: dict[str, ProviderSpec] = {
    "console": ProviderSpec(
        "chalicelib.channels.providers.console:ConsoleProvider", "CONSOLE", True, ("sms", "whatsapp", "email")
    ),
    "ses": ProviderSpec("chalicelib.channels.providers.ses:SesProvider", "SES", False, ("email",)),
    "sns": ProviderSpec("chalicelib.channels.providers.sns:SnsProvider", "SNS", False),
    "end-user-messaging": ProviderSpec(
        "chalicelib.channels.providers.end_user_messaging:EndUserMessagingProvider", "EUM", True
    ),
    "twilio": ProviderSpec(
        "chalicelib.channels.providers.twilio:TwilioProvider", "TWILIO", True, ("sms", "whatsapp")
    ),
    "meta": ProviderSpec(
        "chalicelib.channels.providers.whatsapp:MetaWhatsAppProvider", "META", False, ("whatsapp",)
    ),
    "end-user-messaging-social": ProviderSpec(
        "chalicelib.channels.providers.whatsapp:SocialMessagingProvider", "EUM_SOCIAL", False, ("whatsapp",)
    ),
    "signalwire": ProviderSpec("chalicelib.channels.providers.twilio:SignalWireProvider", "SIGNALWIRE", True),
    "vonage": ProviderSpec("chalicelib.channels.providers.vonage:VonageProvider", "VONAGE", False),
    "gatewayapi": ProviderSpec(
        "chalicelib.channels.providers.gatewayapi:GatewayApiProvider", "GATEWAYAPI", False
    ),
    "xoxzo": ProviderSpec("chalicelib.channels.providers.xoxzo:XoxzoProvider", "XOXZO", True),
    "restcomm": ProviderSpec("chalicelib.channels.providers.restcomm:RestcommProvider", "RESTCOMM", False),
    "plivo": ProviderSpec("chalicelib.channels.providers.plivo:PlivoProvider", "PLIVO", False),
    "messagebird": ProviderSpec(
        "chalicelib.channels.providers.messagebird:MessageBirdProvider", "MESSAGEBIRD", False
    ),
    "sinch": ProviderSpec("chalicelib.channels.providers.sinch:SinchProvider", "SINCH", False),
    "webhook": ProviderSpec("chalicelib.channels.providers.webhook:WebhookProvider", "WEBHOOK", True),
    "lambda": ProviderSpec("chalicelib.channels.providers.lambda_:LambdaProvider", "LAMBDA_PROVIDER", True),
}

# Settings holding a URL the service sends credentials or codes to: https, or http on loopback
# (a local fake in tests, a sidecar). Checked at start-up for variables, at first use for SSM.
URL_SETTINGS = ("base_url", "url")


def check_url(value: str, variable: str) -> str:
    """Return ``value`` if it is an https URL (or http on 127.0.0.1/localhost); else ConfigError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    loopback = parts is not None and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if (
        parts is None
        or not port_ok
        or not parts.hostname
        or parts.username is not None
        or parts.fragment
        or not (parts.scheme == "https" or (parts.scheme == "http" and loopback))
    ):
        raise ConfigError(
            f"{variable} must be an https:// URL (http:// only on 127.0.0.1 or localhost), "
            "without credentials or fragment"
        )
    return value
