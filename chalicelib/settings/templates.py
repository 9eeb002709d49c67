"""OTP_TEMPLATES: the message templates an operator adds (Twilio's Templates, ``GET /v2/Templates``,
picked by a v2 start's ``TemplateSid`` or a Service's ``DefaultTemplateSid``: twilio_v2/templates.py).

    OTP_TEMPLATES={"Acme login": {"en": "{code} is your {brand} login code", "fr": "..."}}

Each template is its friendly name (1-32 printable characters, Twilio's bound) and its SMS text per
locale (a language code, ``en`` or ``pt-BR``; the first one given is the default translation, used
for a locale the template lacks). A text takes the fields of OTP_MESSAGE_TEMPLATE (``{brand}``,
``{code}``, ``{minutes}``), must hold ``{code}``, and is printable and bounded (security rule 33:
no control, bidi or line-break character: brand.py's ``text_problem``), at most MAX_TEXT characters;
that it fits one SMS segment with the stage's brand and code length is checked with the other SMS
budgets (chalicelib/channels/messages.py ``check_budget_of``). Read once, at start-up: a change is a
deploy, as every variable's.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.brand import SERVICE_BRAND_LENGTH, text_problem
from chalicelib.settings.env import _str, section

MAX_TEMPLATES = 50
MAX_TEXT = 160
FIELDS = frozenset({"brand", "code", "minutes"})
_LOCALE = re.compile(r"[a-z]{2,3}(?:-[A-Z]{2})?", re.ASCII)
_EXAMPLE = 'e.g. {"Acme login": {"en": "{code} is your {brand} login code"}}'


@section
class Template:
    sid: str  # Twilio's HJ: derived from the friendly name, stable across deploys
    friendly_name: str
    translations: tuple[tuple[str, str], ...]  # (locale, text), the default translation first

    def text_for(self, locale: str | None) -> str:
        """The translation of ``locale`` (``pt-BR``, then ``pt``), else the default one."""
        texts = dict(self.translations)
        given = (locale or "").replace("_", "-")
        language = given.split("-")[0].lower()
        return texts.get(given) or texts.get(language) or self.translations[0][1]


def template_sid(friendly_name: str) -> str:
    return "HJ" + hashlib.sha256(("template:" + friendly_name).encode()).hexdigest()[:32]


def templates_from_env(env: Mapping[str, str]) -> tuple[Template, ...]:
    raw = _str(env, "OTP_TEMPLATES")
    if raw is None:
        return ()
    try:
        given = json.loads(raw)
    except ValueError:
        given = None
    if not isinstance(given, dict) or not given or len(given) > MAX_TEMPLATES:
        raise ConfigError(f"OTP_TEMPLATES must be a JSON object of 1-{MAX_TEMPLATES} templates, {_EXAMPLE}")
    templates = []
    for name, translations in given.items():
        problem = text_problem(name, SERVICE_BRAND_LENGTH)
        if problem:
            raise ConfigError(f"OTP_TEMPLATES: the name {name[:40]!r} {problem}")
        if not isinstance(translations, dict) or not translations:
            raise ConfigError(f"OTP_TEMPLATES: {name!r} must map locales to texts, {_EXAMPLE}")
        for locale, text in translations.items():
            _check_text(name, locale, text)
        templates.append(Template(template_sid(name), name, tuple(translations.items())))
    return tuple(templates)


def _check_text(name: str, locale: object, text: object) -> None:
    where = f"OTP_TEMPLATES: {name!r}"
    if not isinstance(locale, str) or not _LOCALE.fullmatch(locale):
        raise ConfigError(f"{where}: {str(locale)[:20]!r} is not a locale such as en or pt-BR")
    if not isinstance(text, str):
        raise ConfigError(f"{where}: the {locale} text must be a string")
    problem = text_problem(text, MAX_TEXT)
    if problem:
        raise ConfigError(f"{where}: the {locale} text {problem}")
    try:
        parsed = [(field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(text)
                  if field is not None]
    except ValueError as exc:
        raise ConfigError(f"{where}: the {locale} text is not a valid template: {exc}") from None
    fields = {field for field, _, _ in parsed}
    if fields - FIELDS or "code" not in fields or any(spec or conversion for _, spec, conversion in parsed):
        raise ConfigError(f"{where}: the {locale} text must contain {{code}} and no field but "
                          f"{', '.join('{' + f + '}' for f in sorted(FIELDS))}")
