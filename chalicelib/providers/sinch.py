"""Sinch SMS REST (batches), in the region the service plan lives in."""

from __future__ import annotations

from chalicelib.messages import SmsMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers.http import HttpProvider, json_or_none

REGIONS = {"us", "eu", "au", "br", "ca"}


class SinchProvider(HttpProvider):
    name = "sinch"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        plan = self.context.required("service_plan_id")
        region = self.context.optional("region", "us")
        if region not in REGIONS:
            from chalicelib.config import ConfigError

            raise ConfigError(f"SINCH_REGION must be one of {', '.join(sorted(REGIONS))}")
        base = self.context.optional("base_url") or f"https://{region}.sms.api.sinch.com"
        payload = {
            "from": self.context.optional("from", self.context.sender) or self.context.required("from"),
            "to": [to.e164],
            "body": message.text,
        }
        response = self._post(
            f"{base.rstrip('/')}/xms/v1/{plan}/batches",
            json=payload,
            headers={"Authorization": f"Bearer {self.context.required('api_token')}"},
        )
        body = json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, dict) and body.get("id"):
            return str(body["id"])
        code = body.get("code") if isinstance(body, dict) else None
        text = str(body.get("text", "")) if isinstance(body, dict) else ""
        # A 400 whose text is about the recipient is about the number.
        permanent = response.status_code == 400 and ("msisdn" in text.lower() or "recipient" in text.lower())
        raise self._fail(response, code, permanent)
