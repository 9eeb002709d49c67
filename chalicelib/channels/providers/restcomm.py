"""Telestax Restcomm Connect: Twilio-like, on a host each deployment names.

SMS only. Restcomm calls fetch their script (RCML) from a URL and take no inline script,
so speaking a code would mean serving the code from a URL: see README, "Voice".
"""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers.http import HttpProvider, json_or_none

# Restcomm Connect's SMS endpoint (RestComm/Restcomm-Connect, restcomm.http's
# SmsMessagesEndpoint.putSmsMessage and AbstractEndpoint.buildErrorResponseBody) answers:
# 400 with plain text "From can not be null." / "To can not be null." / "Body can not be
# null." (our request) or a NumberParseException's text (From or To, it does not say which);
# 403 '{"message":"...",\n"error":SMS_LIMIT_EXCEEDED}' (not even valid JSON); 500 with an
# exception's text. None of them says the destination cannot take the message, so every
# Restcomm failure is transient: the next provider gets the same code.


class RestcommProvider(HttpProvider):
    name = "restcomm"

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        sid = self.context.required("account_sid")
        base = self.context.url("base_url")
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
        raise self._fail(response, None, False)
