"""Vonage (Nexmo) legacy SMS API: HTTP 200 even on failure; the status is in the body."""

from __future__ import annotations

from chalicelib.messages import SmsMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers import ProviderError
from chalicelib.providers.http import HttpProvider, json_or_none

# messages[].status: about the destination. 1 throttled, 4 credentials, 5 internal,
# 8 account barred, 9 credit, 29 demo whitelist: this provider's problems, fail over.
PERMANENT = {"3", "6", "7", "33"}


class VonageProvider(HttpProvider):
    name = "vonage"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        data = {
            "api_key": self.context.required("api_key"),
            "api_secret": self.context.required("api_secret"),
            "from": self.context.optional("from", self.context.sender) or self.context.required("from"),
            "to": to.e164.lstrip("+"),  # MSISDN
            "text": message.text,
        }
        if message.unicode:
            data["type"] = "unicode"
        base = self.context.optional("base_url", "https://rest.nexmo.com").rstrip("/")
        response = self._post(f"{base}/sms/json", data=data)
        body = json_or_none(response)
        messages = body.get("messages") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(messages, list) or not messages:
            raise self._fail(response, None, False)
        first = messages[0] if isinstance(messages[0], dict) else {}
        status = str(first.get("status"))
        if status == "0" and first.get("message-id"):
            return str(first["message-id"])
        raise ProviderError(
            self.name,
            permanent=status in PERMANENT,
            detail=f"status={status} {str(first.get('error-text', ''))[:200]}",
        )
