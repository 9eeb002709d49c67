"""Email addresses: the ``to`` of an email verification, parsed and normalised like a number.

What is accepted is what Amazon SES sends to: an ASCII dot-atom local part (SES: "the local
part ... may only contain 7-bit ASCII characters"; no quoted strings, no comments) and a
domain that is a valid IDNA 2008 host name with at least two labels. Lengths follow RFC 5321
(4.5.3.1): local part at most 64 octets, the address at most 254 (the 256-octet path less the
angle brackets), the domain at most 253 in its ASCII (A-label) form.

Normalised form (the one hashed, stored and shown): the local part as typed (it is
case-sensitive by RFC 5321), the domain lower-cased in its Unicode (U-label) form, so
``Ana@Exämple.COM`` and ``Ana@xn--exmple-cua.com`` are one recipient, with one item, one
set of limits. Sending uses the A-label (SES takes Punycode domains).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.errors import InvalidEmailAddress

MAX_LOCAL = 64
MAX_ADDRESS = 254
MAX_DOMAIN = 253

# RFC 5322 3.2.3 atext, joined by single dots (dot-atom).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*", re.ASCII)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})", re.ASCII)


@dataclass(frozen=True)
class EmailAddress:
    address: str  # normalised: local part as typed, domain lower-case Unicode
    ascii_address: str  # the same with the domain's A-label, for the SMTP envelope

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def key(self) -> str:
        """What is hashed into the item's key (as a number's E.164)."""
        return self.address

    @property
    def masked(self) -> str:
        """For logs: the first character of the local part and the domain (a***@example.com)."""
        local, _, domain = self.address.rpartition("@")
        return f"{local[:1]}***@{domain}"


def is_email(raw: object) -> bool:
    """Whether input names an address rather than a number (a number never holds '@')."""
    return isinstance(raw, str) and "@" in raw


def parse_email(raw: object) -> EmailAddress:
    """A normalised address; raises InvalidEmailAddress (400) for anything else."""
    if not isinstance(raw, str):
        raise InvalidEmailAddress()
    text = raw.strip()
    if len(text) > 4 * MAX_ADDRESS or text.count("@") != 1:  # bound the work before IDNA
        raise InvalidEmailAddress()
    local, _, domain = text.partition("@")
    if not local or len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        raise InvalidEmailAddress()
    ascii_domain = _ascii_domain(domain)
    unicode_domain = _unicode_domain(ascii_domain)
    address = f"{local}@{unicode_domain}"
    ascii_address = f"{local}@{ascii_domain}"
    if len(ascii_address) > MAX_ADDRESS:
        raise InvalidEmailAddress()
    return EmailAddress(address, ascii_address)


def _ascii_domain(domain: str) -> str:
    import idna  # a dependency of requests (requirements.txt): loaded only for email

    if not domain or domain.endswith(".") or domain.startswith("["):  # no root dot, no IP literal
        raise InvalidEmailAddress()
    try:
        # uts46: case-folds and maps as browsers do (Exämple.COM -> xn--exmple-cua.com).
        ascii_domain = idna.encode(domain, uts46=True, std3_rules=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidEmailAddress() from None
    labels = ascii_domain.split(".")
    if (
        len(ascii_domain) > MAX_DOMAIN
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not _TLD.fullmatch(labels[-1])
    ):
        raise InvalidEmailAddress()
    return ascii_domain


def _unicode_domain(ascii_domain: str) -> str:
    import idna

    try:
        return str(idna.decode(ascii_domain))
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidEmailAddress() from None
