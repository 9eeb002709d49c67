"""Twilio's Templates (``GET /v2/Templates``, ``HJ``: https://www.twilio.com/docs/verify/api/templates;
Twilio's OpenAPI document twilio_verify_v2's ``verify.v2.verification_template``): the message
templates this service has, which a start's ``TemplateSid`` and a Service's ``DefaultTemplateSid``
pick for its SMS.

- The shipped texts (chalicelib/channels/messages.py SMS_TEMPLATES, one per locale; the stage's
  OTP_MESSAGE_TEMPLATE in every locale when set): ``BUILTIN``, what a start without a template sends.
- The operator's (OTP_TEMPLATES: chalicelib/settings/templates.py, validated at start-up): SMS
  texts per locale with ``{brand}``, ``{code}`` and ``{minutes}``; a locale the template lacks gets
  its default (first) translation.
- WhatsApp's authentication template (OTP_WHATSAPP_TEMPLATE, when WhatsApp is on), per language of
  OTP_WHATSAPP_LANGUAGES, with the preview text: Meta's text, not ours, approved at Meta (its
  ``status`` is ``approved``: the stage sends it as such, and Meta refuses one it has not approved;
  this service does not ask Meta). Listed so an app sees what its users receive; never picked by
  ``TemplateSid`` (WhatsApp always sends it).

SMS texts need no approval: their ``status`` is ``approved``, as Twilio lists its own. The SIDs are
derived from the names, so they stay the same across deploys while the name does. A change is a
deploy (the variables), in effect in every container the deploy starts.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from chalicelib.twilio_v2 import wire

BUILTIN = "Verify default"  # the shipped per-locale texts' friendly name
_HJ = re.compile(r"HJ[0-9a-fA-F]{32}", re.ASCII)


class TemplateResources:
    def __init__(self, api: Any, config: Any) -> None:
        from chalicelib.settings.templates import Template, template_sid

        self._api = api
        self._config = config
        self.builtin_sid = template_sid(BUILTIN)
        self.configured: dict[str, Template] = {t.sid: t for t in config.templates}
        self._whatsapp = template_sid("whatsapp:" + config.channels.whatsapp_template)

    def pick(self, raw: str | None, default: str | None, channel: str) -> Any:
        """The start's template (its ``TemplateSid``, else the Service's default for SMS): an
        OTP_TEMPLATES template, or None for the shipped texts. 60200 for a SID of another shape,
        one this service does not have, or a start on a channel that sends no SMS (call,
        whatsapp, email: each sends its own message)."""
        if raw is None:  # the Service's default: its SMS only (the composer's other messages are their own)
            return self.configured.get(default) if default else None  # one gone from OTP_TEMPLATES: shipped
        if not _HJ.fullmatch(raw):
            raise wire.invalid("TemplateSid", "must match ^HJ[0-9a-fA-F]{32}$")
        sid = self.known(raw, "TemplateSid")
        if channel not in ("sms", "auto"):  # auto: when it sends an SMS
            raise wire.invalid("TemplateSid", "this service's templates are for sms (the other channels send "
                                              "their own message)")
        return self.configured.get(sid)

    def known(self, raw: str, parameter: str) -> str:
        """``raw`` as the SID of an SMS template here (60200 naming ``parameter`` otherwise)."""
        for sid in (self.builtin_sid, *self.configured):
            if sid.lower() == raw.lower():
                return sid
        raise wire.invalid(parameter, "names no template of this service (GET /v2/Templates lists them)")

    def list(self, query: dict[str, str], base: str) -> dict[str, Any]:
        name = query.get("FriendlyName")
        items = [t for t in self._all() if name is None or t["friendly_name"] == name]
        return self._api.page("templates", items, query, base, "/v2/Templates")

    def _all(self) -> Sequence[dict[str, Any]]:
        from chalicelib.channels import SMS_TEMPLATES

        override = self._config.message_template
        builtin = [(locale, override or texts[0]) for locale, texts in SMS_TEMPLATES.items()]
        found = [self._body(self.builtin_sid, BUILTIN, ["sms"], builtin)]
        found += [self._body(t.sid, t.friendly_name, ["sms"], list(t.translations))
                  for t in self.configured.values()]
        channels = self._config.channels
        if channels.whatsapp:
            preview = "*{code}* is your verification code. For your security, do not share this code."
            found.append(self._body(self._whatsapp, channels.whatsapp_template, ["whatsapp"],
                                    [(language, preview) for language in dict.fromkeys(
                                        channels.whatsapp_languages.values())]))
        return found

    def _body(self, sid: str, name: str, channels: Sequence[str],
              texts: Sequence[tuple[str, str]]) -> dict[str, Any]:
        translations = {locale: {"locale": locale, "text": text, "status": "approved",
                                 "is_default_translation": index == 0, "date_created": None,
                                 "date_updated": None}
                        for index, (locale, text) in enumerate(texts)}
        return {"sid": sid, "account_sid": self._api.account_sid, "friendly_name": name,
                "channels": [*channels], "translations": translations}
