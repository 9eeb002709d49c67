"""AWS SNS: a direct SMS Publish, marked Transactional (higher delivery priority)."""

from __future__ import annotations

from chalicelib.messages import SmsMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers import ProviderError, SmsProvider

# SNS error codes that mean this number will not work, through SNS or anything else.
PERMANENT = {"InvalidParameter", "InvalidParameterValue", "ParameterValueInvalid", "OptedOut"}


class SnsProvider(SmsProvider):
    name = "sns"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        }
        sender = self.context.optional("sender_id", self.context.sender)
        if sender:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender}
        origination = self.context.optional("origination_number")
        if origination:
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": origination}
        try:
            response = self.context.aws("sns").publish(
                PhoneNumber=to.e164, Message=message.text, MessageAttributes=attributes
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ProviderError(self.name, permanent=code in PERMANENT, detail=code) from None
        except BotoCoreError as exc:
            raise ProviderError(self.name, permanent=False, detail=type(exc).__name__) from None
        return response["MessageId"]
