"""The rules for a brand and any text printed into a message: OTP_BRAND_NAME here, v2's
FriendlyName and CustomFriendlyName (chalicelib/twilio_v2/params.py) and a PSD2 payee by the
same functions, re-exported by chalicelib/channels/messages.py."""

from __future__ import annotations

import re
import unicodedata

MAX_BRAND_LENGTH = 20  # the stage's OTP_BRAND_NAME and a verification's CustomFriendlyName
SERVICE_BRAND_LENGTH = 32  # a v2 Service's FriendlyName: Twilio's document allows 32
MAX_BRAND_DIGITS = 4

# A brand is printed into every message, so it is held to Twilio's rules for a Service's name
# (https://www.twilio.com/docs/verify/api/service, friendly_name: "Phone numbers, special
# characters or links are NOT allowed"; a bad one is 60200, https://www.twilio.com/docs/api/errors/60200):
# printable text (no control, format, line or paragraph separator, private-use or unassigned
# code point: that covers newlines, which could forge a WebOTP line, and bidi controls), no
# link or anything that looks like a domain, at most 4 digits (no phone number), not blank.
_NOT_PRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# label.tld, dots as UTS #46 maps them (full stop, ideographic, full-width, half-width).
_DOMAIN = re.compile(r"[^\W_](?:[\w-]*[^\W_])?[.\u3002\uff0e\uff61][^\W\d_]{2,}")


def text_problem(text: str, max_length: int) -> str | None:
    """Why ``text`` cannot reach a message (security rule 33: printable, bounded, no control,
    bidi or line-break character), or None."""
    if not text.strip():
        return "must not be empty"
    if len(text) > max_length:
        return f"must be at most {max_length} characters (it is printed in the message)"
    if any(unicodedata.category(ch) in _NOT_PRINTABLE for ch in text):
        return "must be printable text (no control, format or bidi characters, no line breaks)"
    return None


def brand_problem(brand: str, max_length: int = MAX_BRAND_LENGTH) -> str | None:
    """Why ``brand`` cannot be a brand (a phrase to follow the parameter's name), or None.
    The one rule for every brand: OTP_BRAND_NAME, FriendlyName and CustomFriendlyName (a
    Service's FriendlyName may be SERVICE_BRAND_LENGTH long; the others MAX_BRAND_LENGTH);
    a PSD2 Payee follows it too."""
    problem = text_problem(brand, max_length)
    if problem:
        return problem
    if "://" in brand or _DOMAIN.search(brand):
        return "must not contain a link or a domain name"
    if sum(ch.isdigit() for ch in brand) > MAX_BRAND_DIGITS:
        return f"must have at most {MAX_BRAND_DIGITS} digits (no phone numbers)"
    return None
