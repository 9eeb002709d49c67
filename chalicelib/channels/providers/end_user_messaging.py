"""AWS End User Messaging SMS and voice (pinpoint-sms-voice-v2), through boto3."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from chalicelib.channels.messages import SmsMessage, VoiceMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers import ProviderError, SmsProvider, aws_transport_error
from chalicelib.channels.providers.speech import voiced

if TYPE_CHECKING:
    from chalicelib.delivery import DeliveryReport

# Reasons read from botocore's service model, botocore/data/pinpoint-sms-voice-v2/2022-03-31/
# service-2.json (ConflictExceptionReason, ValidationExceptionReason). Permanent: only what
# says the destination cannot take the message.
PERMANENT_CONFLICTS = {"DESTINATION_PHONE_NUMBER_OPTED_OUT"}
# A ValidationException is about the number only when its reason is a bad value and its
# Fields name the destination; everything else (no reason, OTHER, sender id, origination
# identity, country not enabled on this account, DESTINATION_COUNTRY_BLOCKED by this account)
# is this account's configuration. Transient too: ConflictException
# DESTINATION_PHONE_NUMBER_NOT_VERIFIED (the sandbox), ..._BLOCKED_BY_PROTECT_* (this
# account's protect configuration), ServiceQuotaExceeded, Throttling, AccessDenied,
# ResourceNotFound, InternalServer.
VALUE_REASONS = {"INVALID_PARAMETER", "CANNOT_PARSE", "FIELD_VALIDATION_FAILED"}
DESTINATION_FIELD = "DestinationPhoneNumber"


class EndUserMessagingProvider(SmsProvider):
    name = "end-user-messaging"
    supports_voice = True
    delivery_reports = True  # the send reference rides in Context (delivery/callbacks/end_user_messaging)

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
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
            if report is not None:  # echoed in the configuration set's delivery events
                params["Context"] = {"ref": report.reference}
        return self._send(lambda c: c.send_text_message(**params))

    def call(self, to: PhoneNumber, speech: VoiceMessage, report: DeliveryReport | None = None) -> str:
        # VoiceId defaults to MATTHEW, an English voice: pick one that speaks the locale
        # (EUM_VOICE_ID overrides it for every language).
        speech, voice = voiced(speech)
        params: dict[str, Any] = {
            "DestinationPhoneNumber": to.e164,
            "OriginationIdentity": self.context.required("voice_origination_identity"),
            "MessageBody": speech.text,
            "MessageBodyTextType": "TEXT",
            "VoiceId": self.context.optional("voice_id") or voice.name.upper(),
        }
        return self._send(lambda c: c.send_voice_message(**params))

    def _send(self, operation: Callable[[Any], dict]) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return operation(self.context.aws_client("pinpoint-sms-voice-v2"))["MessageId"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            reason = str(exc.response.get("Reason") or "")  # modelled fields sit at the top
            fields = exc.response.get("Fields") or []
            names = {f.get("Name") for f in fields if isinstance(f, dict)}
            permanent = (code == "ConflictException" and reason in PERMANENT_CONFLICTS) or (
                code == "ValidationException" and reason in VALUE_REASONS and DESTINATION_FIELD in names
            )
            raise ProviderError(self.name, permanent=permanent, detail=f"{code} {reason}".strip()) from None
        except BotoCoreError as exc:
            raise aws_transport_error(self.name, exc) from None
