"""Twilio, and SignalWire's Twilio-shaped Compatibility (LaML) API."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from chalicelib.channels.messages import SmsMessage, VoiceMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers import ProviderError
from chalicelib.channels.providers.http import HttpProvider, json_or_none
from chalicelib.delivery import DeliveryReport, twilio_fields
from chalicelib.channels.providers.speech import voiced

if TYPE_CHECKING:
    from chalicelib.channels.channel_messages import WhatsAppMessage

# Twilio's error dictionary, https://www.twilio.com/docs/api/errors/<code> (twilio-python raises
# TwilioRestException with the same "code"). Only these say the destination cannot take it:
TWILIO_PERMANENT = {
    21211: "Invalid 'To' Phone Number",
    21214: "'To' phone number cannot be reached",
    21217: "Phone number does not appear to be valid",
    21610: "Attempt to send to unsubscribed recipient (STOP)",
    21614: "'To' number is not a valid mobile number",
}
# Transient although they mention the number: 21612 (this To/From combination), 21408 and
# 21215 (this account's geo permissions), 21606 (From not SMS-capable), 21608 (trial account,
# unverified To); and 20003 (auth), 20429 (throttled), any other or undocumented code.

# SignalWire's own list (developer.signalwire.com, Compatibility API "Error codes"; the docs
# repository's fern/products/compatibility-api/pages/rest-api/core/error-codes.mdx). Its codes
# are not Twilio's: 21606 is "'To' number is not a mobile number", 21612 "Media not supported".
SIGNALWIRE_PERMANENT = {
    21211: "The 'To' number provided has an invalid format",
    21217: "The To phone number provided does not appear to be valid",
    21606: "The 'To' number provided is not a mobile number",
    21614: "The 'To' number is not a valid mobile number",
}
# Transient: 21212 ("The From number ... has invalid format": we always send To in E.164, so it
# is the From), 21210 (From not verified), 21610 ("blocked by the user or sent from a
# blacklisted number": may be the sender), 21408 (callback URL), 4001 (balance), 20003 (auth).


class TwilioProvider(HttpProvider):
    name = "twilio"
    delivery_reports = True  # passes a receipt URL and reference (chalicelib/delivery/tracker.py)
    supports_voice = True
    permanent_codes: dict[int, str] = TWILIO_PERMANENT

    def _account(self) -> tuple[str, tuple[str, str]]:
        sid = self.context.required("account_sid")
        if self.context.optional("api_key_sid"):
            auth = (self.context.required("api_key_sid"), self.context.required("api_key_secret"))
        else:
            auth = (sid, self.context.required("auth_token"))
        base = self.context.url("base_url", "https://api.twilio.com")
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

    def send_sms(self, to: PhoneNumber, message: SmsMessage, report: DeliveryReport | None = None) -> str:
        url, auth = self._account()
        data = {"To": to.e164, **self._sender_fields(), "Body": message.text, **twilio_fields(report)}
        return self._create(url + "/Messages.json", auth, data)

    def send_whatsapp(
        self, to: PhoneNumber, message: WhatsAppMessage, report: DeliveryReport | None = None
    ) -> str:
        """Twilio's WhatsApp sender (twilio.com/docs/whatsapp/api, "Send a WhatsApp message"):
        the same Messages resource, ``To``/``From`` prefixed ``whatsapp:``, and the approved
        authentication template as a Content template (``ContentSid``, ``ContentVariables``
        {"1": code}; twilio.com/docs/content/whatsappauthentication). Settings:
        TWILIO_WHATSAPP_FROM (the WhatsApp sender, E.164) and TWILIO_WHATSAPP_CONTENT_SID
        (one HX... SID, or a JSON object of SIDs per locale with "en" as the fallback)."""
        url, auth = self._account()
        data = {
            "To": f"whatsapp:{to.e164}",
            "From": f"whatsapp:{self.context.required('whatsapp_from')}",
            "ContentSid": self._content_sid(message.language),
            "ContentVariables": json.dumps({"1": message.code}),
            **twilio_fields(report),
        }
        return self._create(url + "/Messages.json", auth, data)

    def _content_sid(self, language: str) -> str:
        raw = self.context.required("whatsapp_content_sid")
        if not raw.startswith("{"):
            return raw
        try:
            sids = json.loads(raw)
        except ValueError:
            sids = None
        locale = language.split("_")[0]
        sid = sids.get(locale) or sids.get("en") if isinstance(sids, dict) else None
        if not isinstance(sid, str):
            detail = f"TWILIO_WHATSAPP_CONTENT_SID has no SID for {locale}"
            raise ProviderError(self.name, permanent=False, detail=detail)
        return sid

    def call(self, to: PhoneNumber, speech: VoiceMessage, report: DeliveryReport | None = None) -> str:
        url, auth = self._account()
        # <Say> without a voice uses "man", which speaks only a few languages: name a Polly voice
        # that speaks this one. The speech says the digits twice; the pause lets the callee
        # lift the phone.
        speech, voice = voiced(speech)
        say = (
            f"<Say voice={quoteattr('Polly.' + voice.name)} language={quoteattr(voice.language)}>"
            f"{escape(speech.text)}</Say>"
        )
        twiml = f'<Response><Pause length="1"/>{say}</Response>'
        data = {"To": to.e164, **self._sender_fields(voice=True), "Twiml": twiml, **twilio_fields(report)}
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
    permanent_codes = SIGNALWIRE_PERMANENT

    def _account(self) -> tuple[str, tuple[str, str]]:
        space = self.context.required("space")
        project = self.context.required("project_id")
        base = self.context.url("base_url", f"https://{space}.signalwire.com")
        url = f"{base}/api/laml/2010-04-01/Accounts/{project}"
        return url, (project, self.context.required("api_token"))


def _error_code(body: object) -> int | None:
    """Twilio and SignalWire: {"code": 21211, "message", "more_info", "status"}; SignalWire also
    {"errors": [{"code": "21211", "message", "more_info"}]} and {"errors": ["text"]}
    (SignalWire's specs/compatibility-api/_shared/errors.tsp)."""
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
