"""Which text-to-speech voice speaks which language, for the providers that place calls.

Amazon Polly's standard voices (https://docs.aws.amazon.com/polly/latest/dg/available-voices.html):
Twilio and SignalWire take them as ``Polly.<Name>`` in ``<Say voice=...>`` (Twilio's <Say>
docs: https://www.twilio.com/docs/voice/twiml/say, SignalWire's cXML <Say> docs), and End User
Messaging's SendVoiceMessage takes the same names in upper case as ``VoiceId`` (the enum in
botocore's pinpoint-sms-voice-v2 service model; its default, MATTHEW, speaks only English).
A language without a voice here is spoken in English, with the code said digit by digit in words.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from chalicelib.channels.messages import VoiceMessage


class Voice(NamedTuple):
    name: str  # Polly voice name: "Polly.<name>" for TwiML, name.upper() for VoiceId
    language: str  # the language code that voice speaks, as Polly and TwiML spell it


VOICES: dict[str, Voice] = {
    "en": Voice("Joanna", "en-US"),
    "es": Voice("Conchita", "es-ES"),
    "fr": Voice("Celine", "fr-FR"),
    "de": Voice("Marlene", "de-DE"),
    "it": Voice("Carla", "it-IT"),
    "pt": Voice("Vitoria", "pt-BR"),
    "ja": Voice("Mizuki", "ja-JP"),
    "zh": Voice("Zhiyu", "cmn-CN"),
    "ar": Voice("Zeina", "arb"),
    "hi": Voice("Aditi", "hi-IN"),
    "ru": Voice("Tatyana", "ru-RU"),
}

_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The composer says the digits one by one, joined by ", " (chalicelib/channels/messages.py).
_SPOKEN_CODE = re.compile(r"[0-9](?:, [0-9])+", re.ASCII)


def voiced(speech: VoiceMessage) -> tuple[VoiceMessage, Voice]:
    """The speech and a voice that speaks it; English in words when no voice speaks it."""
    voice = VOICES.get(speech.language.split("-")[0].lower())
    if voice is not None:
        return speech, voice
    match = _SPOKEN_CODE.search(speech.text)
    digits = ", ".join(_WORDS[int(d)] for d in match.group(0).split(", ")) if match else ""
    english = f"Your verification code is: {digits}. Again, your code is: {digits}."
    return VoiceMessage(english, VOICES["en"].language), VOICES["en"]
