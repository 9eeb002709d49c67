"""Phone numbers: parsing client input into E.164 and deciding what may receive a code.

phonenumbers loads each region's metadata on first use, so importing this module is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import phonenumbers
from phonenumbers import PhoneNumberType

from chalicelib.errors import InvalidPhoneNumber, InvalidRequest, UnsupportedNumberType

# What a person types: ASCII digits and the usual separators. phonenumbers itself would also
# accept letters (vanity numbers) and non-ASCII digits; a verification API should not.
_TYPED_NUMBER = re.compile(r"\+?[0-9 ().\-]{2,40}", re.ASCII)
_REGION = re.compile(r"[A-Za-z]{2}", re.ASCII)

# Types that cannot receive an SMS, or that cost the sender money when they do (toll fraud).
SMS_REFUSED_TYPES = frozenset(
    {
        PhoneNumberType.FIXED_LINE,
        PhoneNumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST,
        PhoneNumberType.TOLL_FREE,
        PhoneNumberType.UAN,
        PhoneNumberType.VOICEMAIL,
        PhoneNumberType.PAGER,
        PhoneNumberType.UNKNOWN,
    }
)


# A call may go to a landline; never to numbers that bill the caller or reach no person.
VOICE_REFUSED_TYPES = SMS_REFUSED_TYPES - {PhoneNumberType.FIXED_LINE}
# WhatsApp accounts are registered on numbers that can take an SMS (or a call: Meta verifies
# either way); the SMS rule keeps premium and shared-cost ranges out as for SMS.
REFUSED_TYPES = {"sms": SMS_REFUSED_TYPES, "voice": VOICE_REFUSED_TYPES, "whatsapp": SMS_REFUSED_TYPES}
_CHANNEL_WORDS = {"sms": "SMS.", "voice": "voice call.", "whatsapp": "WhatsApp."}


# The names Twilio's Lookup gives a carrier's ``type`` (a Verification's ``lookup``), for the
# types phonenumbers can tell apart. NANP (+1) numbers are FIXED_LINE_OR_MOBILE there (its
# metadata cannot tell one from the other): no name, the type is unknown (null), never guessed.
_LINE_TYPES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "landline",
    PhoneNumberType.VOIP: "voip",
}


def line_type(e164: str) -> str | None:
    """Twilio Lookup's name of the number's type ("mobile", "landline", "voip"), or None when
    phonenumbers cannot tell (NANP numbers, test numbers, a number it does not know)."""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return _LINE_TYPES.get(kind)


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    region: str  # ISO 3166 alpha-2 of the number itself, not of the caller's hint
    number_type: int  # a phonenumbers.PhoneNumberType value

    @property
    def key(self) -> str:
        """What is hashed into the item's key (an email address's counterpart)."""
        return self.e164

    @property
    def masked(self) -> str:
        """For logs: country code and area kept, the subscriber digits hidden (+1415*****71)."""
        keep_head = min(5, len(self.e164) - 2)
        return self.e164[:keep_head] + "*" * (len(self.e164) - keep_head - 2) + self.e164[-2:]


_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)


def test_number(
    raw: object, code_for: Callable[[str], str | None]
) -> tuple[PhoneNumber, str] | None:
    """A configured test number, taken as typed (it need not be a valid, assigned number),
    with its fixed code; None for every other input."""
    if not isinstance(raw, str) or not _E164.fullmatch(raw.strip()):
        return None
    e164 = raw.strip()
    code = code_for(e164)
    if code is None:
        return None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or "ZZ"
    except phonenumbers.NumberParseException:
        region = "ZZ"
    return PhoneNumber(e164, region, PhoneNumberType.MOBILE), code


def parse_region(country: object, default_region: str) -> str:
    if country is None:
        return default_region
    if not isinstance(country, str) or not _REGION.fullmatch(country):
        raise InvalidRequest("'country' must be an ISO 3166 alpha-2 code such as \"US\".")
    region = country.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidRequest(f"'country' {region} is not a known region.")
    return region


def parse_phone_number(raw: object, region: str) -> PhoneNumber:
    """E.164 input, or a national number read in ``region``; raises InvalidPhoneNumber."""
    if not isinstance(raw, str) or not _TYPED_NUMBER.fullmatch(raw.strip()):
        raise InvalidPhoneNumber()
    try:
        number = phonenumbers.parse(raw.strip(), region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber() from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber()
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number_region = phonenumbers.region_code_for_number(number) or region
    return PhoneNumber(e164, number_region, phonenumbers.number_type(number))


# Refused by default on both channels, allowed one by one with OTP_SMS_ALLOWED_SPECIAL_TYPES:
# numbers that reach no fixed person or that pumping rings favour. "non_geographic" is region
# 001: satellite (+881, +870) and international networks (+882, +883, +878), billed at
# premium rates; "personal" is a follow-me number (+4470...) forwarded at the sender's cost;
# "voip" numbers are free to obtain in bulk.
_SPECIAL_TYPES = {"voip": PhoneNumberType.VOIP, "personal": PhoneNumberType.PERSONAL_NUMBER}
NON_GEOGRAPHIC_REGION = "001"


def require_reachable(
    raw: object, region: str, channel: str = "sms", allowed_special: frozenset[str] = frozenset()
) -> PhoneNumber:
    """Parse, then refuse the number types that must not receive a code on ``channel``."""
    phone = parse_phone_number(raw, region)
    special = [name for name, kind in _SPECIAL_TYPES.items() if phone.number_type == kind]
    if phone.region == NON_GEOGRAPHIC_REGION:
        special.append("non_geographic")
    if any(name not in allowed_special for name in special):
        raise UnsupportedNumberType("This type of phone number cannot receive verification codes.")
    if phone.number_type in REFUSED_TYPES[channel]:
        raise UnsupportedNumberType(
            "This type of phone number cannot receive verification codes by "
            + _CHANNEL_WORDS[channel]
        )
    return phone
