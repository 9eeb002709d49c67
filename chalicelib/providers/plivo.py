"""Plivo: JSON REST; ``dst`` is digits without "+", and ``message_uuid`` is a list."""

from __future__ import annotations

from chalicelib.messages import SmsMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers.http import HttpProvider, json_or_none


class PlivoProvider(HttpProvider):
    name = "plivo"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        auth_id = self.context.required("auth_id")
        payload = {
            "src": self.context.optional("src", self.context.sender) or self.context.required("src"),
            "dst": to.e164.lstrip("+"),
            "text": message.text,
        }
        base = self.context.optional("base_url", "https://api.plivo.com").rstrip("/")
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
        # Plivo's errors are sentences; a 400 about "dst" is about the number.
        permanent = response.status_code == 400 and "dst" in error
        raise self._fail(response, error[:80] or None, permanent)
