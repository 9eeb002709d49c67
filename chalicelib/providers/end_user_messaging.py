"""AWS End User Messaging SMS and voice (pinpoint-sms-voice-v2), through boto3."""

from __future__ import annotations

from typing import Any, Callable

from chalicelib.messages import SmsMessage, VoiceMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers import ProviderError, SmsProvider

# ValidationException reasons about the destination: no other provider will do better.
PERMANENT_REASONS = {
    "DESTINATION_COUNTRY_BLOCKED",
    "DESTINATION_PHONE_NUMBER_NOT_VERIFIED",
    "DESTINATION_PHONE_NUMBER_OPTED_OUT",
    "INVALID_PHONE_NUMBER",
    "PHONE_NUMBER_NOT_VALID",
}


class EndUserMessagingProvider(SmsProvider):
    name = "end-user-messaging"
    supports_voice = True

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        params: dict[str, Any] = {
            "DestinationPhoneNumber": to.e164,
            "MessageBody": message.text,
            "MessageType": "TRANSACTIONAL",
        }
        origination = self.context.optional("origination_identity", self.context.sender)
        if origination:
            params["OriginationIdentity"] = origination
        configuration_set = self.context.optional("configuration_set")
        if configuration_set:
            params["ConfigurationSetName"] = configuration_set
        return self._send(lambda c: c.send_text_message(**params))

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        params: dict[str, Any] = {
            "DestinationPhoneNumber": to.e164,
            "OriginationIdentity": self.context.required("voice_origination_identity"),
            "MessageBody": speech.text,
            "MessageBodyTextType": "TEXT",
        }
        voice_id = self.context.optional("voice_id")
        if voice_id:
            params["VoiceId"] = voice_id
        return self._send(lambda c: c.send_voice_message(**params))

    def _send(self, operation: Callable[[Any], dict]) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(self.context.aws("pinpoint-sms-voice-v2"))["MessageId"]
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "Unknown")
            reason = exc.response.get("Reason") or error.get("Reason") or ""
            permanent = code == "ValidationException" and (
                reason in PERMANENT_REASONS or not reason
            )
            raise ProviderError(self.name, permanent=permanent, detail=f"{code} {reason}".strip()) from None
        except BotoCoreError as exc:
            raise ProviderError(self.name, permanent=False, detail=type(exc).__name__) from None
