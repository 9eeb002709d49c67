"""What the user receives on WhatsApp and by email (docs/channels.md).

WhatsApp: codes may go only in an approved *authentication* template, whose text Meta fixes
per language ("{{1}} is your verification code. For your security, do not share this code.");
the message names the template and language and carries the code twice: as the body's
parameter and as the copy-code button's (Meta: "Sending authentication templates",
developers.facebook.com/docs/whatsapp/business-management-api/authentication-templates/
copy-code-button-authentication-templates). ``cloud_api_message`` builds the WhatsApp Cloud
API message object that Meta's endpoint and End User Messaging Social both take.

Email: a subject, a plain-text part and a minimal HTML part per locale, with the brand.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Mapping

# Meta's language codes per shipped locale: the configuration's default, owned there.
from chalicelib.settings.channels import WHATSAPP_LANGUAGES as WHATSAPP_LANGUAGES

# (subject, the first line, the expiry line). The subject leads with the code: mail clients
# show it in the notification, as Twilio Verify's and Google's do.
EMAIL_TEMPLATES: dict[str, tuple[str, str, str]] = {
    "en": ("{code} is your {brand} verification code", "Your {brand} verification code is:",
           "It expires in {minutes} minutes. If you did not ask for it, ignore this email."),
    "es": ("{code} es tu código de verificación de {brand}", "Tu código de verificación de {brand} es:",
           "Vence en {minutes} minutos. Si no lo pediste, ignora este correo."),
    "fr": ("{code} est votre code de vérification {brand}", "Votre code de vérification {brand} est :",
           "Il expire dans {minutes} minutes. Si vous ne l'avez pas demandé, ignorez ce message."),
    "de": ("{code} ist Ihr {brand} Bestätigungscode", "Ihr {brand} Bestätigungscode lautet:",
           "Er läuft in {minutes} Minuten ab. Wenn Sie ihn nicht angefordert haben, ignorieren Sie "
           "diese E-Mail."),
    "it": ("{code} è il tuo codice di verifica {brand}", "Il tuo codice di verifica {brand} è:",
           "Scade tra {minutes} minuti. Se non l'hai richiesto, ignora questa email."),
    "pt": ("{code} é o seu código de verificação {brand}", "Seu código de verificação {brand} é:",
           "Expira em {minutes} minutos. Se você não pediu, ignore este e-mail."),
    "ja": ("{brand}の認証コード：{code}", "{brand}の認証コード：",
           "{minutes}分間有効です。お心当たりのない場合は、このメールを無視してください。"),
    "zh": ("您的{brand}验证码：{code}", "您的{brand}验证码：",
           "{minutes}分钟内有效。如果不是您本人操作，请忽略此邮件。"),
    "ar": ("{code} هو رمز التحقق من {brand}", "رمز التحقق من {brand}:",
           "صالح لمدة {minutes} دقيقة. إذا لم تطلبه، فتجاهل هذه الرسالة."),
    "hi": ("{code} आपका {brand} सत्यापन कोड है", "आपका {brand} सत्यापन कोड:",
           "{minutes} मिनट तक मान्य। यदि आपने इसका अनुरोध नहीं किया, तो इस ईमेल को अनदेखा करें।"),
    "ru": ("{code} — ваш код подтверждения {brand}", "Ваш код подтверждения {brand}:",
           "Действует {minutes} мин. Если вы его не запрашивали, проигнорируйте это письмо."),
}
_RTL = {"ar"}




@dataclass(frozen=True)
class EmailMessage:
    subject: str
    text: str
    html: str
    language: str  # the locale's language, for the HTML lang attribute and logs


@dataclass(frozen=True)
class WhatsAppMessage:
    template: str  # the approved authentication template's name
    language: str  # Meta's language code, e.g. "pt_BR"
    code: str  # the body parameter and the copy-code button's; secret: never log it
    preview: str  # what the user sees (English): for the console provider only

    @property
    def text(self) -> str:
        return self.preview


def email_message(brand: str, code: str, ttl_seconds: int, language: str) -> EmailMessage:
    subject, lead, expiry = EMAIL_TEMPLATES[language]
    values = {"brand": brand, "code": code, "minutes": math.ceil(ttl_seconds / 60)}
    subject, lead, expiry = (part.format(**values) for part in (subject, lead, expiry))
    text = f"{lead}\n\n{code}\n\n{expiry}\n\n{brand}\n"
    direction = ' dir="rtl"' if language in _RTL else ""
    e = html.escape
    page = (
        f'<!doctype html><html lang="{language}"{direction}><head><meta charset="utf-8">'
        f"<title>{e(subject)}</title></head>"
        '<body style="font-family:sans-serif;line-height:1.5">'
        f"<p>{e(lead)}</p>"
        f'<p style="font-size:2em;font-weight:bold;letter-spacing:.2em">{e(code)}</p>'
        f"<p>{e(expiry)}</p><p>{e(brand)}</p></body></html>"
    )
    return EmailMessage(subject, text, page, language)


def whatsapp_message(
    template: str, languages: Mapping[str, str], code: str, language: str
) -> WhatsAppMessage:
    preview = f"*{code}* is your verification code. For your security, do not share this code."
    return WhatsAppMessage(template, languages[language], code, preview)


def cloud_api_message(
    to_e164: str, message: WhatsAppMessage, callback_data: str | None = None
) -> dict[str, Any]:
    """The WhatsApp Cloud API message object for an authentication template with a copy-code
    button (the page named in the module's docstring: body parameter = the code, button
    ``sub_type: url``, ``index: "0"``, parameter = the code). ``callback_data`` (the send's
    reference) goes in ``biz_opaque_callback_data``, which Meta echoes in the statuses."""
    extra = {"biz_opaque_callback_data": callback_data} if callback_data else {}
    return {
        **extra,
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to_e164,
        "type": "template",
        "template": {
            "name": message.template,
            "language": {"code": message.language},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": message.code}]},
                {"type": "button", "sub_type": "url", "index": "0",
                 "parameters": [{"type": "text", "text": message.code}]},
            ],
        },
    }
