"""Telestax Restcomm Connect: Twilio-like, on a host each deployment names.

SMS only. Restcomm calls fetch their script (RCML) from a URL and take no inline script,
so speaking a code would mean serving the code from a URL: see README, "Voice".
"""

from __future__ import annotations

from chalicelib.messages import SmsMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers.http import HttpProvider, json_or_none


class RestcommProvider(HttpProvider):
    name = "restcomm"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        sid = self.context.required("account_sid")
        base = self.context.required("base_url").rstrip("/")
        data = {
            "From": self.context.optional("from", self.context.sender) or self.context.required("from"),
            "To": to.e164,
            "Body": message.text,
        }
        if message.unicode:
            data["Encoding"] = "UCS-2"
        url = f"{base}/restcomm/2012-04-24/Accounts/{sid}/SMS/Messages.json"
        response = self._post(url, auth=(sid, self.context.required("auth_token")), data=data)
        body = json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, dict) and body.get("sid"):
            return str(body["sid"])
        # Errors are plain text; a 400 that names the destination is about the number.
        permanent = response.status_code == 400 and response.text.lstrip().startswith("To ")
        raise self._fail(response, None, permanent)
