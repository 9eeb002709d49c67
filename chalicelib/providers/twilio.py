"""Twilio, and SignalWire's Twilio-shaped Compatibility (LaML) API."""

from __future__ import annotations

from xml.sax.saxutils import escape

from chalicelib.messages import SmsMessage, VoiceMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers.http import HttpProvider, json_or_none

# Error codes about the destination. Auth (20003), throttling (20429), a From that cannot
# send (21606) or a trial account (21608) are this provider's problems: fail over.
TWILIO_PERMANENT = {21211, 21214, 21215, 21217, 21408, 21610, 21612, 21614}


class TwilioProvider(HttpProvider):
    name = "twilio"
    supports_voice = True
    permanent_codes = TWILIO_PERMANENT

    def _account(self) -> tuple[str, tuple[str, str]]:
        sid = self.context.required("account_sid")
        if self.context.optional("api_key_sid"):
            auth = (self.context.required("api_key_sid"), self.context.required("api_key_secret"))
        else:
            auth = (sid, self.context.required("auth_token"))
        base = self.context.optional("base_url", "https://api.twilio.com").rstrip("/")
        return f"{base}/2010-04-01/Accounts/{sid}", auth

    def _sender_fields(self, voice: bool = False) -> dict[str, str]:
        service = self.context.optional("messaging_service_sid")
        if service and not voice:
            return {"MessagingServiceSid": service}
        return {"From": self.context.required("from") if voice else self._from()}

    def _from(self) -> str:
        value = self.context.optional("from", self.context.sender)
        if not value:
            return self.context.required("from")
        return value

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        url, auth = self._account()
        data = {"To": to.e164, **self._sender_fields(), "Body": message.text}
        return self._create(url + "/Messages.json", auth, data)

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        url, auth = self._account()
        # The speech already says the digits twice; the pause lets the callee lift the phone.
        say = f'<Say language="{escape(speech.language)}">{escape(speech.text)}</Say>'
        twiml = f'<Response><Pause length="1"/>{say}</Response>'
        data = {"To": to.e164, **self._sender_fields(voice=True), "Twiml": twiml}
        return self._create(url + "/Calls.json", auth, data)

    def _create(self, url: str, auth: tuple[str, str], data: dict[str, str]) -> str:
        response = self._post(url, auth=auth, data=data)
        body = json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, dict) and body.get("sid"):
            return str(body["sid"])
        code = _error_code(body)
        raise self._fail(response, code, code in self.permanent_codes)


class SignalWireProvider(TwilioProvider):
    name = "signalwire"
    permanent_codes = TWILIO_PERMANENT | {21212}

    def _account(self) -> tuple[str, tuple[str, str]]:
        space = self.context.required("space")
        project = self.context.required("project_id")
        base = self.context.optional("base_url", f"https://{space}.signalwire.com").rstrip("/")
        url = f"{base}/api/laml/2010-04-01/Accounts/{project}"
        return url, (project, self.context.required("api_token"))


def _error_code(body: object) -> int | None:
    """Twilio: {"code": 21211}; SignalWire also: {"errors": [{"code": "21211"}]}."""
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if code is None and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        code = first.get("code") if isinstance(first, dict) else None
    try:
        return int(code) if code is not None else None
    except (TypeError, ValueError):
        return None
