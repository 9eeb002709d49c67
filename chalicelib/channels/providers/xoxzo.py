"""Xoxzo (Japan): SMS and text-to-speech calls; answers are JSON lists."""

from __future__ import annotations

from chalicelib.channels.messages import SmsMessage, VoiceMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers.http import HttpProvider, json_or_none


class XoxzoProvider(HttpProvider):
    name = "xoxzo"
    supports_voice = True

    def _base(self) -> str:
        return self.context.url("base_url", "https://api.xoxzo.com")

    def _auth(self) -> tuple[str, str]:
        return self.context.required("sid"), self.context.required("auth_token")

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        data = {
            "message": message.text,
            "recipient": to.e164,
            "sender": self.context.optional("sender", self.context.sender) or "Verify",
        }
        return self._create(f"{self._base()}/sms/messages/", data, "msgid")

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        data = {
            "caller": self.context.required("caller"),
            "recipient": to.e164,
            "tts_lang": speech.language.split("-")[0],
            "tts_message": speech.text,
        }
        return self._create(f"{self._base()}/voice/simple/playbacks/", data, "callid")

    def _create(self, url: str, data: dict[str, str], id_field: str) -> str:
        response = self._post(url, auth=self._auth(), data=data)
        body = json_or_none(response)
        if response.status_code in (200, 201) and isinstance(body, list) and body:
            first = body[0]
            if isinstance(first, dict) and first.get(id_field):
                return str(first[id_field])
        # Validation errors are keyed by field; one about the recipient is about the number.
        permanent = response.status_code == 400 and isinstance(body, dict) and "recipient" in body
        fields = ",".join(sorted(body)) if isinstance(body, dict) else None
        raise self._fail(response, fields, permanent)
