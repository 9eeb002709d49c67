"""Sinch SMS REST (batches), in the region the service plan lives in."""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers.http import HttpProvider, json_or_none
from chalicelib.delivery import DeliveryReport, sinch_fields

REGIONS = {"us", "eu", "au", "br", "ca"}

# Sinch SMS REST errors are {"code": "<name>", "text": "..."}
# (https://developers.sinch.com/docs/sms/api-reference/status-codes/). The one code about the
# destination: 403 illegal_number_type (the recipient's number type cannot take SMS). 400
# syntax_* codes are about our request (any field); 401/403 about this account; 429, 5xx and
# anything undocumented are transient. The text is never read: it is prose, not a contract.
PERMANENT = {"illegal_number_type"}


class SinchProvider(HttpProvider):
    name = "sinch"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        plan = self.context.required("service_plan_id")
        region = self.context.optional("region", "us")
        if region not in REGIONS:
            from chalicelib.errors import ConfigError

            raise ConfigError(f"SINCH_REGION must be one of {', '.join(sorted(REGIONS))}")
        base = self.context.url("base_url", f"https://{region}.sms.api.sinch.com")
        payload = {
            "from": self.context.optional("from", self.context.sender) or self.context.required("from"),
            "to": [to.e164],
            "body": message.text,
            **sinch_fields(report),
        }
        response = self._post(
            f"{base}/xms/v1/{plan}/batches",
            json=payload,
            headers={"Authorization": f"Bearer {self.context.required('api_token')}"},
        )
        body = json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, dict) and body.get("id"):
            return str(body["id"])
        code = body.get("code") if isinstance(body, dict) else None
        raise self._fail(response, code, code in PERMANENT)
