"""AWS SNS: a direct SMS Publish, marked Transactional (higher delivery priority)."""

from __future__ import annotations

from typing import Any

from chalicelib.phone import PhoneNumber
from chalicelib.providers import ProviderError, SmsProvider

# SNS error codes that mean this number will not work, through SNS or anything else.
_PERMANENT = {"InvalidParameter", "InvalidParameterValue", "OptedOut"}


class SnsProvider(SmsProvider):
    name = "sns"

    def __init__(self, client: Any, sender_id: str | None = None, **_: Any) -> None:
        self._client = client
        self._sender_id = sender_id

    def send_sms(self, to: PhoneNumber, body: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": self._sender_id,
            }
        try:
            response = self._client.publish(
                PhoneNumber=to.e164, Message=body, MessageAttributes=attributes
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ProviderError(self.name, permanent=code in _PERMANENT, detail=code) from None
        except BotoCoreError as exc:
            raise ProviderError(self.name, permanent=False, detail=type(exc).__name__) from None
        return response["MessageId"]
