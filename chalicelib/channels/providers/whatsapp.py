"""WhatsApp: Meta's Cloud API directly, and AWS End User Messaging Social (docs/channels.md).

Both send the same WhatsApp Cloud API message object: the approved authentication template
with the code as its body parameter and its copy-code button's (chalicelib/channels/channel_messages.py).

Errors, by whose fault (docs/providers.md's rule; classes as the issue names them):
- Meta, "WhatsApp error codes" (developers.facebook.com/documentation/business-messaging/
  whatsapp/support/error-codes), error body ``{"error": {"message", "type", "code",
  "error_data": {"messaging_product", "details"}, "error_subcode", "fbtrace_id"}}``:
  permanent: 131026 "Message Undeliverable" (the recipient is not a WhatsApp user, has not
  accepted the terms, or runs an outdated client); account (fail over): 0, 3, 10, 190 (token
  expired), 200-299 (permissions), 131030 (recipient not in the test number's allowed list),
  131031 (account locked), 131042 (payment), 132001 (template does not exist), 132015/132016
  (template paused/disabled), 133010 (phone number not registered), 368 (blocked for policy);
  transient: 4, 80007, 130429, 131048, 131056 (rate limits), 1, 2, 131000, 131016 and any 5xx.
  Anything else, undocumented or ambiguous (100 "Invalid parameter" may name any parameter):
  transient.
- End User Messaging Social, botocore's service model (botocore/data/socialmessaging/
  2024-01-01/service-2.json, SendWhatsAppMessage "errors"): ValidationException,
  AccessDeniedException, InvalidParametersException, ResourceNotFoundException,
  ThrottledRequestException, InternalServiceException, DependencyException. None is about
  the recipient (a non-WhatsApp number is reported later, by the status event): all fail over.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalicelib.channels.providers import ProviderError, SmsProvider, aws_transport_error
from chalicelib.channels.providers.http import HttpProvider, json_or_none

if TYPE_CHECKING:
    from chalicelib.channels.channel_messages import WhatsAppMessage
    from chalicelib.delivery import DeliveryReport
    from chalicelib.channels.phone import PhoneNumber

META_PERMANENT = {131026: "Message Undeliverable"}
META_ACCOUNT = {0, 3, 10, 190, 131030, 131031, 131042, 132001, 132015, 132016, 133010, 368,
                *range(200, 300)}
META_API_VERSION = "v21.0"


def meta_error_class(code: int | None) -> str:
    """permanent, account or transient (the module's table)."""
    if code in META_PERMANENT:
        return "permanent"
    return "account" if code in META_ACCOUNT else "transient"


class MetaWhatsAppProvider(HttpProvider):
    """``POST {base}/{version}/{phone-number-id}/messages`` with a bearer token (Meta, Cloud API
    "Send messages"; success 200 ``{"messaging_product", "contacts": [{"input", "wa_id"}],
    "messages": [{"id": "wamid...", "message_status"}]}``). Settings: META_PHONE_NUMBER_ID,
    META_ACCESS_TOKEN (a system user's), META_API_VERSION, META_BASE_URL (tests)."""

    name = "meta"
    delivery_reports = True  # the reference rides in biz_opaque_callback_data (delivery/tracker.py)

    def send_whatsapp(
        self, to: PhoneNumber, message: WhatsAppMessage, report: DeliveryReport | None = None
    ) -> str:
        from chalicelib.channels.channel_messages import cloud_api_message

        reference = report.reference if report else None
        base = self.context.url("base_url", "https://graph.facebook.com")
        version = self.context.optional("api_version", META_API_VERSION)
        url = f"{base}/{version}/{self.context.required('phone_number_id')}/messages"
        response = self._post(url, json=cloud_api_message(to.e164, message, reference),
                              headers={"Authorization": f"Bearer {self.context.required('access_token')}"})
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict):
            messages = body.get("messages")
            first = messages[0] if isinstance(messages, list) and messages else None
            if isinstance(first, dict) and first.get("id"):
                return str(first["id"])
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        code = code if isinstance(code, int) else None
        kind = meta_error_class(code)
        raise self._fail(response, f"{code} ({kind})", kind == "permanent")


class SocialMessagingProvider(SmsProvider):
    """AWS End User Messaging Social ``SendWhatsAppMessage`` (boto3 ``socialmessaging``):
    ``originationPhoneNumberId`` (EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID, phone-number-id-...),
    ``metaApiVersion`` (EUM_SOCIAL_META_API_VERSION) and ``message``, the Cloud API message
    object as bytes. The message stays in the AWS account: no token to hold."""

    name = "end-user-messaging-social"
    delivery_reports = True  # as for meta: statuses come back by SNS (chalicelib/delivery/channel_routes.py)

    def send_whatsapp(
        self, to: PhoneNumber, message: WhatsAppMessage, report: DeliveryReport | None = None
    ) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        from chalicelib.channels.channel_messages import cloud_api_message

        reference = report.reference if report else None
        params: dict[str, Any] = {
            "originationPhoneNumberId": self.context.required("origination_phone_number_id"),
            "message": json.dumps(cloud_api_message(to.e164, message, reference)).encode("utf-8"),
            "metaApiVersion": self.context.optional("meta_api_version", META_API_VERSION),
        }
        try:
            client = self.context.aws_client("socialmessaging")
            return str(client.send_whatsapp_message(**params)["messageId"])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            raise ProviderError(self.name, permanent=False, detail=str(code)) from None
        except BotoCoreError as exc:
            raise aws_transport_error(self.name, exc) from None
