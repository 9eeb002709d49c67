"""A send through an AWS API whose connection fails: "maybe delivered" exactly when the request
had left (issue 19 item 3, for the AWS senders as for the HTTP ones).

The faults are botocore's own exceptions, raised where botocore raises them: its HTTP session
(botocore/httpsession.py, URLLib3Session.send) turns urllib3's ReadTimeoutError into
ReadTimeoutError and its ProtocolError (a connection dropped after the request was written)
into ConnectionClosedError, both after the request left; NewConnectionError into
EndpointConnectionError and a connect timeout into ConnectTimeoutError, before anything was sent.
A ``before-send`` handler that raises stands in for that session (botocore/endpoint.py calls
the handlers in place of sending)."""

from __future__ import annotations

from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import parse_phone_number
from chalicelib.channels.providers import ProviderContext, ProviderError, load_provider

PHONE = parse_phone_number("+14155552671", "US")
TEXT = SmsMessage("Your code is 012345", "GSM-7", 1)

FAULTS = [
    (ReadTimeoutError, True),
    (ConnectionClosedError, True),
    (EndpointConnectionError, False),
    (ConnectTimeoutError, False),
]


def _client(service: str, fault: type[Exception]) -> Any:
    # One attempt, as the service's senders are built (chalicelib/wiring.py): a retried
    # Publish could deliver twice.
    client = boto3.client(service, region_name="us-east-1",
                          config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def fail(request: Any, **_: Any) -> None:
        raise fault(endpoint_url=request.url)

    client.meta.events.register_first("before-send", fail)
    return client


def _sns(client: Any) -> Callable[[], str]:
    provider = load_provider(ProviderContext("sns", {}, None, None, lambda service: client))
    return lambda: provider.send_sms(PHONE, TEXT)


def _end_user_messaging(client: Any) -> Callable[[], str]:
    provider = load_provider(ProviderContext("end-user-messaging", {}, "+15005550001", None,
                                             lambda service: client))
    return lambda: provider.send_sms(PHONE, TEXT)


def _lambda(client: Any) -> Callable[[], str]:
    from chalicelib.channels.providers import Delivery

    provider = load_provider(ProviderContext("lambda", {"function": "send-otp"}, None, None,
                                             lambda service: client))
    delivery = Delivery(PHONE, "sms", TEXT, "en", "012345", "VE" + "0" * 46, None)
    return lambda: provider.deliver(delivery)


def _ses(client: Any) -> Callable[[], str]:
    from chalicelib.channels.channel_messages import email_message
    from chalicelib.channels.email_address import parse_email
    from chalicelib.channels.providers.ses import SesProvider

    provider = SesProvider(ProviderContext("ses", {"from": "verify@example.com", "configuration_set": "cs"},
                                           aws=lambda service: client))
    return lambda: provider.send_email(parse_email("ana@example.com"), email_message("A", "012345", 600, "en"))


SENDERS = [
    ("sns", _sns),
    ("pinpoint-sms-voice-v2", _end_user_messaging),
    ("lambda", _lambda),
    ("sesv2", _ses),
]


@pytest.mark.parametrize("fault,left", FAULTS, ids=[f.__name__ for f, _ in FAULTS])
@pytest.mark.parametrize("service,sender", SENDERS, ids=[s for s, _ in SENDERS])
def test_an_aws_send_is_maybe_delivered_only_when_the_request_left(service, sender, fault, left):
    send = sender(_client(service, fault))
    with pytest.raises(ProviderError) as raised:
        send()
    assert raised.value.permanent is False
    assert raised.value.maybe_delivered is left
    assert raised.value.detail == fault.__name__
