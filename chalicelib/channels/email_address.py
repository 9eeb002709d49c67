"""Email addresses: the ``to`` of an email verification, parsed and normalised like a number.

What is accepted is what Amazon SES sends to: an ASCII dot-atom local part (SES: "the local
part ... may only contain 7-bit ASCII characters"; no quoted strings, no comments) and a
domain that is a valid IDNA 2008 host name with at least two labels, none of them mixing
scripts (chalicelib/channels/idn_scripts.py: ``gmаil.com`` with a Cyrillic 'а' is refused). Lengths
follow RFC 5321 (4.5.3.1): local part at most 64 octets, the address at most 254 (the
256-octet path less the angle brackets), the domain at most 253 in its A-label form.

Two forms:
- ``address``, the one shown, stored as the verification's ``to`` and sent to: the local
  part as typed, the domain lower-cased in its Unicode (U-label) form, so ``Ana@Exämple.COM``
  and ``Ana@xn--exmple-cua.com`` read the same. Sending uses the A-label (SES takes
  Punycode domains).
- ``key``, the mailbox, hashed into the item's key (as a number's E.164), so every spelling
  of one mailbox has one item, one live verification, one set of limits: the local part
  lower-cased, then the provider's own rules where it documents them (MAILBOX_RULES:
  sub-addresses dropped, Gmail's dots), on the domain's U-label (lower-cased by UTS #46).
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
class MailboxRule:
    """How a provider maps its addresses to mailboxes (each field from its documentation)."""

    subaddress: str = ""  # the separator of a sub-address: what follows it is dropped
    ignored: str = ""  # characters the provider ignores in a local part
    domain: str = ""  # the domain the mailbox is keyed on, when several are one


_GMAIL = MailboxRule("+", ".", "gmail.com")
_PLUS = MailboxRule("+")
_PROTON = MailboxRule("+", "._-")

# One table, one place. A provider is listed only when it documents (or, for iCloud, is
# documented by others as doing) what a rule merges: merging two mailboxes that are not
# one would let one user's start resend, and their code approve, the other's verification.
# None of these providers lets a username hold '+', so dropping a "+tag" never merges two
# accounts even where the sub-address were unsupported.
# - Gmail: "Gmail doesn't recognize dots as characters within usernames, you can add or
#   remove the dots from a Gmail address without changing the actual destination address"
#   (Google's Gmail Help, support.google.com/mail/answer/10313, now "Dots don't matter in
#   Gmail addresses"); "+" and any word reach the same inbox (Google, "Create task-specific
#   email addresses", support.google.com/a/users/answer/9308648); googlemail.com, Google's
#   domain for Germany and the UK from 2005, is the same account as gmail.com.
# - Outlook.com (outlook.com, hotmail.com, live.com, msn.com): plus addressing, on since
#   2013 (ZDNet, "Microsoft adds support for custom '+' email addresses in Office 365",
#   2020: "Microsoft added support for plus addressing to Hotmail in 2013"); Microsoft
#   documents it for Exchange Online, on which Outlook.com runs (learn.microsoft.com/
#   exchange/recipients-in-exchange-online/plus-addressing-in-exchange-online). Country
#   domains (hotmail.co.uk...) are not listed: they keep only the case rule.
# - iCloud (icloud.com, me.com, mac.com): "+" tags are delivered to the account (reported by
#   Mynavi News, 2014, and others; Apple's own pages say nothing either way).
# - Fastmail (fastmail.com, fastmail.fm): "The part of the email address between the '+'
#   and the '@' is ignored for determining which account it belongs to" (Fastmail, "Plus
#   addressing and subdomain addressing", fastmail.help/hc/en-us/articles/360060591053).
# - Proton (proton.me, protonmail.com, protonmail.ch, pm.me): "+aliases" (Proton, "Types of
#   email addresses and aliases", proton.me/support/addresses-and-aliases); '.', '_' and '-'
#   "are treated as transparent ... username is the same as user_name and user.name", and
#   addresses are not case-sensitive (Proton, "How to change your username",
#   proton.me/support/change-username). Its domains are not merged (a username need not
#   hold an address on each).
# Not listed: Yahoo's "-" disposable addresses are made one by one by their owner under a
# separate base name (Yahoo, AddressGuard help), so a stranger cannot invent them; "+" is
# not sub-addressing there. Any other domain keeps only the case rule (dots and "+" may
# name different mailboxes there: a.b@example.com is not ab@example.com).
MAILBOX_RULES: dict[str, MailboxRule] = {
    "gmail.com": _GMAIL, "googlemail.com": _GMAIL,
    "outlook.com": _PLUS, "hotmail.com": _PLUS, "live.com": _PLUS, "msn.com": _PLUS,
    "icloud.com": _PLUS, "me.com": _PLUS, "mac.com": _PLUS,
    "fastmail.com": _PLUS, "fastmail.fm": _PLUS,
    "proton.me": _PROTON, "protonmail.com": _PROTON, "protonmail.ch": _PROTON, "pm.me": _PROTON,
}


@dataclass(frozen=True)
class EmailAddress:
    address: str  # normalised: local part as typed, domain lower-case Unicode
    ascii_address: str  # the same with the domain's A-label, for the SMTP envelope
    mailbox: str  # the mailbox every spelling of this address names (mailbox())

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def key(self) -> str:
        """What is hashed into the item's key (as a number's E.164): the mailbox."""
        return self.mailbox

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
    return EmailAddress(address, ascii_address, mailbox(local, unicode_domain))


def mailbox(local: str, domain: str) -> str:
    """The mailbox an address names: ``Ana.Silva+x@GoogleMail.com`` -> ``anasilva@gmail.com``.

    The local part is lower-cased on every domain. RFC 5321 (2.4) lets a server treat local
    parts as case-sensitive, but no large provider does, and a limit that a change of case
    escapes is worse than the rare case-sensitive server whose ``Ana@`` and ``ana@`` then
    share one item (its limits and its live verification)."""
    local = local.lower()
    rule = MAILBOX_RULES.get(domain)
    if rule is None:
        return f"{local}@{domain}"
    if rule.subaddress:
        local = local.partition(rule.subaddress)[0] or local  # "+tag@" alone names no account
    stripped = local.translate({ord(ch): None for ch in rule.ignored})
    return f"{stripped or local}@{rule.domain or domain}"


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

    from chalicelib.channels.idn_scripts import is_single_script

    try:
        unicode_domain = str(idna.decode(ascii_domain))
    except (idna.IDNAError, UnicodeError, ValueError):
        raise InvalidEmailAddress() from None
    if not all(is_single_script(label) for label in unicode_domain.split(".")):
        raise InvalidEmailAddress("The email address's domain mixes scripts in one label "
                                  "(such as a Cyrillic letter among Latin ones).")
    return unicode_domain
