"""Plivo: JSON REST; ``dst`` is digits without "+", and ``message_uuid`` is a list."""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
import re

from chalicelib.channels.providers.http import HttpProvider, json_or_none
from chalicelib.delivery import DeliveryReport, plivo_fields

# Plivo answers errors as {"api_id", "error": "<sentence>"} with no code. The one sentence
# documented as being about the destination (https://www.plivo.com/docs/messaging/concepts/
# destination-number-validation, "Synchronous handling for invalid numbers"): a 400 with
# "<number> is not a valid phone number". Anything else (src, auth, balance, 429, 5xx) is
# transient.
INVALID_DESTINATION = re.compile(r"\+?[0-9]{6,15} is not a valid phone number", re.ASCII)


class PlivoProvider(HttpProvider):
    name = "plivo"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        auth_id = self.context.required("auth_id")
        payload = {
            "src": self.context.optional("src", self.context.sender) or self.context.required("src"),
            "dst": to.e164.lstrip("+"),
            "text": message.text,
            **plivo_fields(report),
        }
        base = self.context.url("base_url", "https://api.plivo.com")
        response = self._post(
            f"{base}/v1/Account/{auth_id}/Message/",
            json=payload,
            auth=(auth_id, self.context.required("auth_token")),
        )
        body = json_or_none(response)
        if response.status_code in (200, 202) and isinstance(body, dict):
            uuids = body.get("message_uuid")
            if isinstance(uuids, list) and uuids:
                return str(uuids[0])
        error = str(body.get("error", "")) if isinstance(body, dict) else ""
        permanent = response.status_code == 400 and bool(INVALID_DESTINATION.fullmatch(error.strip()))
        raise self._fail(response, error[:80] or None, permanent)
