"""What the user receives: SMS text per locale that fits one segment, and speech for voice.

SMS length is counted the way the network does: GSM-7 (160 septets in one segment, extension
characters count two) when every character is in the GSM-7 tables, UCS-2 otherwise (70 code
units, characters outside the BMP count two). Each locale has a full and a short template; the
full one is used when it fits one segment, the short one otherwise. A configuration in which
even the short one would need two segments is refused at start (``check_budget``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

# The brand's rules are configuration's too (OTP_BRAND_NAME is checked at start-up): the kernel
# owns them (chalicelib/settings/brand.py); v2's FriendlyName and CustomFriendlyName follow them.
from chalicelib.settings.brand import MAX_BRAND_DIGITS as MAX_BRAND_DIGITS
from chalicelib.settings.brand import MAX_BRAND_LENGTH as MAX_BRAND_LENGTH
from chalicelib.settings.brand import SERVICE_BRAND_LENGTH as SERVICE_BRAND_LENGTH
from chalicelib.settings.brand import brand_problem as brand_problem
from chalicelib.settings.brand import text_problem as text_problem

if TYPE_CHECKING:
    from chalicelib.channels.channel_messages import EmailMessage, WhatsAppMessage
    from chalicelib.config import Config
    from chalicelib.settings.templates import Template

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# (full, short). Spanish says "clave" and French drops no accent it needs: both stay in GSM-7,
# so they get 160 characters; the others need UCS-2 and are kept well under 70.
SMS_TEMPLATES: dict[str, tuple[str, str]] = {
    "en": ("Your {brand} verification code is {code}. It expires in {minutes} minutes.",
           "{brand} code: {code}"),
    "es": ("Tu clave de verificacion de {brand} es {code}. Vence en {minutes} minutos.",
           "Clave {brand}: {code}"),
    "fr": ("Votre code de verification {brand} est {code}. Il expire dans {minutes} minutes.",
           "Code {brand} : {code}"),
    "de": ("Ihr {brand} Bestätigungscode lautet {code}. Er läuft in {minutes} Minuten ab.",
           "{brand} Code: {code}"),
    "it": ("Il tuo codice di verifica {brand} è {code}. Scade tra {minutes} minuti.",
           "Codice {brand}: {code}"),
    "pt": ("Seu código {brand}: {code}. Expira em {minutes} min.",
           "Código {brand}: {code}"),
    "ja": ("{brand}の認証コード：{code}（{minutes}分間有効）", "{brand}コード：{code}"),
    "zh": ("您的{brand}验证码：{code}，{minutes}分钟内有效。", "{brand}验证码：{code}"),
    "ar": ("رمز التحقق من {brand}: {code}. صالح {minutes} دقيقة.", "رمز {brand}: {code}"),
    "hi": ("{brand} सत्यापन कोड: {code}। {minutes} मिनट तक मान्य।", "{brand} कोड: {code}"),
    "ru": ("Код {brand}: {code}. Действует {minutes} мин.", "Код {brand}: {code}"),
}

# Spoken: the digits one by one, said twice. `language` is the TTS language tag.
VOICE_TEMPLATES: dict[str, tuple[str, str]] = {
    "en": ("en-US", "Your {brand} verification code is: {digits}. Again, your code is: {digits}."),
    "es": ("es-ES", "Su código de verificación de {brand} es: {digits}. Repito: {digits}."),
    "fr": ("fr-FR", "Votre code de vérification {brand} est : {digits}. Je répète : {digits}."),
    "de": ("de-DE", "Ihr {brand} Bestätigungscode lautet: {digits}. Noch einmal: {digits}."),
    "it": ("it-IT", "Il tuo codice di verifica {brand} è: {digits}. Ripeto: {digits}."),
    "pt": ("pt-BR", "Seu código de verificação {brand} é: {digits}. Repetindo: {digits}."),
    "ja": ("ja-JP", "{brand}の認証コードは、{digits}、です。もう一度、{digits}。"),
    "zh": ("zh-CN", "您的{brand}验证码是：{digits}。再说一遍：{digits}。"),
    "ar": ("ar-SA", "رمز التحقق الخاص بك من {brand} هو: {digits}. أكرر: {digits}."),
    "hi": ("hi-IN", "आपका {brand} सत्यापन कोड है: {digits}. फिर से: {digits}."),
    "ru": ("ru-RU", "Ваш код подтверждения {brand}: {digits}. Повторяю: {digits}."),
}

DEFAULT_LOCALE = "en"
# Twilio's texts (its document's DoNotShareWarningEnabled example, with an ASCII apostrophe so
# that a GSM-7 message stays GSM-7), in English in every locale, as Twilio's example is.
DO_NOT_SHARE = " Don't share this code with anyone; our employees will never ask for the code."
DO_NOT_SHARE_SHORT = " Don't share this code."  # where the whole one does not fit one segment
PSD2_LINE = " Amount: {amount}. Payee: {payee}."
@dataclass(frozen=True)
class SmsMessage:
    text: str
    encoding: str  # "GSM-7" or "UCS-2"
    segments: int

    @property
    def unicode(self) -> bool:
        return self.encoding == "UCS-2"


@dataclass(frozen=True)
class VoiceMessage:
    text: str
    language: str  # e.g. "en-US"


def measure(text: str) -> SmsMessage:
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        septets = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        segments = 1 if septets <= 160 else math.ceil(septets / 153)
        return SmsMessage(text, "GSM-7", segments)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    segments = 1 if units <= 70 else math.ceil(units / 67)
    return SmsMessage(text, "UCS-2", segments)


def base_locale(locale: str | None) -> str:
    """'pt-BR' -> 'pt'; an unknown locale falls back to English."""
    language = (locale or DEFAULT_LOCALE).replace("_", "-").split("-")[0].lower()
    return language if language in SMS_TEMPLATES else DEFAULT_LOCALE


class MessageComposer:
    def __init__(
        self,
        brand: str,
        ttl_seconds: int,
        template_override: str | None = None,
        webotp_domain: str | None = None,
        android_app_hash: str | None = None,
        whatsapp_template: str = "verification_code",
        whatsapp_languages: Mapping[str, str] | None = None,
        do_not_share: bool = False,
        psd2: tuple[str, str] | None = None,
    ) -> None:
        self._brand = brand
        self._ttl = ttl_seconds
        self._minutes = math.ceil(ttl_seconds / 60)
        self._whatsapp = (whatsapp_template, whatsapp_languages)
        self._override = template_override
        self._webotp_domain = webotp_domain
        self._app_hash = android_app_hash
        self._do_not_share = do_not_share  # a v2 Service's DoNotShareWarningEnabled
        self._psd2 = psd2  # a v2 verification's (Amount, Payee): PSD2's dynamic linking
        self._template: Template | None = None  # a v2 start's picked template (with_options)

    def with_options(self, *, app_hash: str | None = None, do_not_share: bool = False,
                     psd2: tuple[str, str] | None = None,
                     template: Template | None = None) -> MessageComposer:
        """The same composer for one verification of a v2 Service: its AppHash (in place of
        the stage's OTP_ANDROID_APP_HASH), the Service's do-not-share warning, the PSD2
        transaction's amount and payee, the SMS template it picked (an OTP_TEMPLATES one:
        v2's TemplateSid or DefaultTemplateSid). Each is validated by the caller
        (twilio_v2/params.py, settings/templates.py)."""
        import copy

        composer = copy.copy(self)
        composer._app_hash = app_hash or self._app_hash
        composer._do_not_share = do_not_share
        composer._psd2 = psd2
        composer._template = template
        return composer

    def templates(self, locale: str | None) -> tuple[str, ...]:
        if self._template is not None:  # the picked template's translation: one text, no short form
            return (self._template.text_for(locale),)
        if self._override:
            return (self._override,)
        return SMS_TEMPLATES[base_locale(locale)]

    def sms(self, code: str, locale: str | None = None) -> SmsMessage:
        message = None
        warnings = (DO_NOT_SHARE, DO_NOT_SHARE_SHORT) if self._do_not_share else ("",)
        for warning in warnings:
            for template in self.templates(locale):
                message = measure(self._render(template, code, warning))
                if message.segments == 1:
                    return message
        assert message is not None
        return message  # check_budget refused this configuration at start; never in practice

    def _render(self, template: str, code: str, warning: str = "") -> str:
        text = template.format(brand=self._brand, code=code, minutes=self._minutes)
        if self._psd2:  # in every template: the user must see what the code approves
            text += PSD2_LINE.format(amount=self._psd2[0], payee=self._psd2[1])
        text += warning  # a v2 Service's do-not-share warning, or ""
        if self._app_hash:
            text += f"\n\n{self._app_hash}"  # Android SMS Retriever: the app's 11-char hash
        if self._webotp_domain:
            # WebOTP: the last line binds the code to the origin allowed to read it.
            separator = "\n" if self._app_hash else "\n\n"
            text += f"{separator}@{self._webotp_domain} #{code}"
        return text

    def voice(self, code: str, locale: str | None = None) -> VoiceMessage:
        language, template = VOICE_TEMPLATES[base_locale(locale)]
        return VoiceMessage(template.format(brand=self._brand, digits=", ".join(code)), language)

    def email(self, code: str, locale: str | None = None) -> EmailMessage:
        from chalicelib.channels.channel_messages import email_message

        return email_message(self._brand, code, self._ttl, base_locale(locale))

    def whatsapp(self, code: str, locale: str | None = None) -> WhatsAppMessage:
        from chalicelib.channels.channel_messages import whatsapp_message
        from chalicelib.settings.channels import WHATSAPP_LANGUAGES

        template, languages = self._whatsapp
        return whatsapp_message(template, languages or WHATSAPP_LANGUAGES, code, base_locale(locale))

    def for_channel(self, channel: str, code: str, locale: str | None = None) -> Any:
        """The message for ``channel``: SmsMessage, VoiceMessage, WhatsAppMessage or EmailMessage."""
        compose = {"sms": self.sms, "voice": self.voice, "whatsapp": self.whatsapp, "email": self.email}
        return compose[channel](code, locale)

    def check_budget(self, code_length: int, locales: tuple[str, ...] | None = None) -> list[str]:
        """Locales (of ``locales``, else all) whose every template needs more than one segment
        with this configuration."""
        worst_code = "0" * code_length
        return [
            locale
            for locale in (locales or tuple(SMS_TEMPLATES))
            if self.sms(worst_code, locale).segments > 1
        ]


def composer_for(config: Config) -> MessageComposer:
    """The messages of a deployment (chalicelib/config.py's Config): brand, lifetime, template,
    WebOTP and app-hash lines, WhatsApp template and languages."""
    return MessageComposer(
        config.brand_name,
        config.ttl_seconds,
        template_override=config.message_template,
        webotp_domain=config.webotp_domain,
        android_app_hash=config.android_app_hash,
        whatsapp_template=config.channels.whatsapp_template,
        whatsapp_languages=config.channels.whatsapp_languages,
    )


def check_budget_of(config: Config) -> None:
    """ConfigError when a deployment's SMS would need two segments in some locale (at start-up,
    chalicelib/wiring.py load_config, so a deploy fails before a user pays for two)."""
    from chalicelib.errors import ConfigError

    from chalicelib.settings.hooks import PLATFORMS

    # A custom code (v2's CustomCode on the default Service, a hook's) has up to 10 characters.
    hooks = (*PLATFORMS, "cognito")
    custom = config.hooks.custom_code_enabled or any(config.hooks.of(p).enabled for p in hooks)
    length = max(config.code_length, 10) if custom else config.code_length
    over = composer_for(config).check_budget(length)
    for template in config.templates:  # OTP_TEMPLATES: each translation, in one segment
        composer = composer_for(config).with_options(template=template)
        if any(composer.sms("0" * length, locale).segments > 1 for locale, _ in template.translations):
            raise ConfigError(f"OTP_TEMPLATES: {template.friendly_name!r} would need two SMS segments with "
                              "OTP_BRAND_NAME and OTP_CODE_LENGTH: shorten it")
    if over:
        raise ConfigError(
            "the SMS would need two segments in locale(s) "
            + ("with a 10-character custom code (OTP_CUSTOM_CODE_ENABLED, OTP_HOOK_*) " if custom else "")
            + f"{', '.join(over)}: shorten OTP_BRAND_NAME, OTP_MESSAGE_TEMPLATE or "
            "OTP_WEBOTP_DOMAIN, or drop OTP_ANDROID_APP_HASH"
        )
