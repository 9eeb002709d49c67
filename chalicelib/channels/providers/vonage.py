"""Vonage (Nexmo) legacy SMS API: HTTP 200 even on failure; the status is in the body."""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
import re

from chalicelib.channels.providers import ProviderError
from chalicelib.delivery import DeliveryReport, vonage_fields
from chalicelib.channels.providers.http import HttpProvider, json_or_none

# messages[].status, https://developer.vonage.com/en/api-errors/sms (and the SMS guide
# "Troubleshooting SMS"): the statuses that say the destination cannot take the message.
PERMANENT = {
    "6": "Invalid Message: the platform was unable to process it, e.g. an unrecognised number prefix",
    "7": "Number Barred: the number is blacklisted and may not receive messages",
    "33": "Number De-activated",
}
# Status 3, "Invalid Parameters. The value of one or more parameters is invalid", names any
# parameter (often `from`): permanent only when `error-text` names the destination ("to").
# Transient: 1 throttled, 2 missing parameters (our request), 4 credentials, 5 internal,
# 8 account barred, 9 credit, 10 binds, 15 sender, 29 demo account whitelist, anything else.
_NAMES_DESTINATION = re.compile(
    r"""\b(?:to|destination|recipient)\b['"]?\s*(?:address|param|parameter|number)""", re.I
)


class VonageProvider(HttpProvider):
    name = "vonage"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        data = {
            "api_key": self.context.required("api_key"),
            "api_secret": self.context.required("api_secret"),
            "from": self.context.optional("from", self.context.sender) or self.context.required("from"),
            "to": to.e164.lstrip("+"),  # MSISDN
            "text": message.text,
            **vonage_fields(report),
        }
        if message.unicode:
            data["type"] = "unicode"
        base = self.context.url("base_url", "https://rest.nexmo.com")
        response = self._post(f"{base}/sms/json", data=data)
        body = json_or_none(response)
        messages = body.get("messages") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(messages, list) or not messages:
            raise self._fail(response, None, False)
        first = messages[0] if isinstance(messages[0], dict) else {}
        status = str(first.get("status"))
        if status == "0" and first.get("message-id"):
            return str(first["message-id"])
        text = str(first.get("error-text", ""))
        permanent = status in PERMANENT or (status == "3" and bool(_NAMES_DESTINATION.search(text)))
        raise ProviderError(self.name, permanent=permanent, detail=f"status={status} {text[:200]}")
