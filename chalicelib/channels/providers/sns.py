"""AWS SNS: a direct SMS Publish, marked Transactional (higher delivery priority)."""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers import ProviderError, SmsProvider, aws_transport_error

# SNS Publish errors (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors
# and botocore/data/sns/2010-03-31/service-2.json). Publish has no opted-out error: a send to an
# opted-out number succeeds and fails in the delivery logs. InvalidParameter and
# ParameterValueInvalid come for any bad parameter (sender id, origination number, attributes):
# they are about the number only when the message names PhoneNumber, as in
# "Invalid parameter: PhoneNumber Reason: +1555... is not valid to publish to".
ABOUT_THE_NUMBER = {"InvalidParameter", "ParameterValueInvalid"}


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
            response = self.context.aws_client("sns").publish(
                PhoneNumber=to.e164, Message=message.text, MessageAttributes=attributes
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "Unknown")
            permanent = code in ABOUT_THE_NUMBER and str(error.get("Message", "")).startswith(
                "Invalid parameter: PhoneNumber"
            )
            raise ProviderError(self.name, permanent=permanent, detail=code) from None
        except BotoCoreError as exc:
            raise aws_transport_error(self.name, exc) from None
        return response["MessageId"]
