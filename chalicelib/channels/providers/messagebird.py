"""MessageBird legacy REST: recipients are MSISDN integers."""

from __future__ import annotations

from typing import Any

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers.http import HttpProvider, json_or_none
from chalicelib.delivery import DeliveryReport, messagebird_fields


class MessageBirdProvider(HttpProvider):
    name = "messagebird"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        payload: dict[str, Any] = {
            "originator": self.context.optional("originator", self.context.sender) or "Verify",
            "recipients": [int(to.e164[1:])],
            "body": message.text,
            "datacoding": "unicode" if message.unicode else "plain",
            **messagebird_fields(report),
        }
        base = self.context.url("base_url", "https://rest.messagebird.com")
        response = self._post(
            f"{base}/messages",
            json=payload,
            headers={"Authorization": f"AccessKey {self.context.required('access_key')}"},
        )
        body = json_or_none(response)
        if response.status_code == 201 and isinstance(body, dict) and body.get("id"):
            return str(body["id"])
        errors = body.get("errors") if isinstance(body, dict) else None
        first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
        # Codes 9/10 (missing/invalid) are about the number only when they name the recipients;
        # 2 (key), 25 (balance) and 99 (internal) are this provider's problems.
        permanent = first.get("code") in (9, 10) and str(first.get("parameter", "")).startswith("recipient")
        raise self._fail(response, first.get("code"), permanent)
