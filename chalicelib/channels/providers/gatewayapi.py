"""GatewayAPI: JSON REST with an API token (Basic) or OAuth 1.0a (chalicelib/channels/providers/oauth1.py)."""

from __future__ import annotations

from typing import Any

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers.http import HttpProvider, json_or_none
from chalicelib.delivery import DeliveryReport, gatewayapi_fields

# 0x0215 MSISDN blacklisted, 0x0217 destination country not allowed. 0x0214 (temporarily
# blacklisted), auth, credit and IP errors belong to this provider or this moment.
PERMANENT = {"0x0215", "0x0217"}


class GatewayApiProvider(HttpProvider):
    name = "gatewayapi"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)

    def _auth(self) -> Any:
        token = self.context.optional("token")
        if token or not self.context.optional("key"):
            return (self.context.required("token"), "")  # the token, or an error naming it
        from chalicelib.channels.providers.oauth1 import OAuth1  # only when OAuth is configured

        return OAuth1(self.context.required("key"), self.context.required("secret"))

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        payload: dict[str, Any] = {
            "sender": self.context.optional("sender", self.context.sender) or "Verify",
            "message": message.text,
            "recipients": [{"msisdn": int(to.e164[1:])}],  # an integer, no "+"
            **gatewayapi_fields(report),
        }
        if message.unicode:
            payload["encoding"] = "UCS2"
        base = self.context.url("base_url", "https://gatewayapi.com")
        response = self._post(f"{base}/rest/mtsms", json=payload, auth=self._auth())
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ids"):
            return str(body["ids"][0])
        code = body.get("code") if isinstance(body, dict) else None
        raise self._fail(response, code, code in PERMANENT)
