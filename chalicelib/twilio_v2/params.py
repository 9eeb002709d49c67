"""The parameters of Twilio's CreateService/UpdateService and CreateVerification, each
accepted and applied, or refused with 60200 naming it and saying why (Twilio's OpenAPI document
``twilio_verify_v2``: tests/data/twilio-oai; docs/twilio-verify.md's parameter tables).

What reaches a message (a Payee, an Amount, an AppHash) is printable and bounded (security
rule 33: messages.text_problem / brand_problem)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chalicelib.channels import SERVICE_BRAND_LENGTH, brand_problem, text_problem
from chalicelib.totp import DIGITS, MAX_SKEW, PERIOD
from chalicelib.twilio_v2 import wire

# -- Services -------------------------------------------------------------------------------

_FLAGS = {  # Twilio's boolean -> ServiceSettings' field
    "LookupEnabled": "lookup_enabled", "SkipSmsToLandlines": "skip_sms_to_landlines",
    "DoNotShareWarningEnabled": "do_not_share_warning_enabled", "Psd2Enabled": "psd2_enabled",
    "VerifyEventSubscriptionEnabled": "verify_event_subscription_enabled",
    "RiskCheckOptOutEnabled": "risk_check_opt_out_enabled",  # an extension (below)
    "CustomCodeEnabled": "custom_code_enabled",  # a start may give its CustomCode (Twilio's 60204 without)
    "CustomCodeReported": "custom_code_reported",  # an extension (below)
}
# Accepted only as "false" (or empty), and why.
_FALSE_ONLY = {
    "DtmfInputRequired": "the calls here speak the code when answered; no call provider here waits for a key "
                         "press first",
}
_SENDER = ("per-Service WhatsApp senders come with Messaging Configurations; WhatsApp goes out from the "
           "stage's sender")
# Refused whatever the value, and why.
_NOT_HERE = {
    "DefaultTemplateSid": "not until Twilio's Templates land (the message is the locale's template here)",
    "Whatsapp.MsgServiceSid": _SENDER,
    "Whatsapp.From": _SENDER,
    **{f"Push.{n}": "this service has no Push factors" for n in ("ApnCredentialSid", "FcmCredentialSid",
                                                                 "IncludeDate")},
}
# Passkeys.*: a Passkeys Factor's defaults (twilio_v2/passkeys.py), each checked as its config field is.
PASSKEY_PARAMETERS = {"Passkeys.RelyingParty.Id": "passkey_rp_id",
                      "Passkeys.RelyingParty.Name": "passkey_rp_name",
                      "Passkeys.RelyingParty.Origins": "passkey_rp_origins",
                      "Passkeys.AuthenticatorAttachment": "passkey_attachment",
                      "Passkeys.DiscoverableCredentials": "passkey_discoverable",
                      "Passkeys.UserVerification": "passkey_user_verification"}
# This service's extensions (Twilio has none; docs/twilio-verify.md's Service parameters):
# ResendWait (seconds between two sends of one verification: Twilio has no wait, v1 has
# OTP_RESEND_INTERVAL_SECONDS with the same bounds), AllowedCountries (ISO regions,
# comma-separated as OTP_ALLOWED_COUNTRIES; empty: the stage's list) and RiskCheckOptOutEnabled
# (whether a start may send RiskCheck=disable; off by default); CustomCodeReported (true by
# default: the app reports each custom code's outcome with Status=approved; false: the codes are
# checked elsewhere, as Kratos and authentik check theirs, so the Service's custom-code starts
# stay out of the conversion breakers' sample, as a hook's: docs/limits.md).
EXTENSIONS = frozenset({"ResendWait", "AllowedCountries", "RiskCheckOptOutEnabled", "CustomCodeReported"})
SERVICE_PARAMETERS = frozenset({"FriendlyName", "CodeLength", "TtsName", "Totp.Issuer", "Totp.TimeStep",
                                "Totp.CodeLength", "Totp.Skew", *_FLAGS, *_FALSE_ONLY, *_NOT_HERE,
                                *PASSKEY_PARAMETERS,
                                *EXTENSIONS})
MAX_ISSUER_LENGTH = 64
MAX_RESEND_WAIT = 3600  # OTP_RESEND_INTERVAL_SECONDS' bound
_REGION = re.compile(r"[A-Z]{2}", re.ASCII)


def service_changes(form: dict[str, str], stage_countries: frozenset[str] = frozenset()) -> dict[str, Any]:
    """ServiceSettings' fields a CreateService/UpdateService form sets (FriendlyName's brand
    rules and the SMS budget are the caller's: they need the resulting Service).
    ``stage_countries``: the stage's OTP_ALLOWED_COUNTRIES (empty: every country), which a
    Service's AllowedCountries may narrow, never widen."""
    for name in sorted(form):
        if name not in SERVICE_PARAMETERS:
            raise wire.invalid(name, "not supported by this service")
        if name in _NOT_HERE:
            raise wire.invalid(name, _NOT_HERE[name])
        if name in _FALSE_ONLY and wire.optional_bool(form, name):
            raise wire.invalid(name, _FALSE_ONLY[name])
    changes: dict[str, Any] = {}
    if "FriendlyName" in form:
        changes["friendly_name"] = form["FriendlyName"]
    code_length = wire.optional_int(form, "CodeLength", 4, 10)
    if code_length is not None:
        changes["code_length"] = code_length
    for name, attribute in _FLAGS.items():
        value = wire.optional_bool(form, name)
        if value is not None:
            changes[attribute] = value
    if form.get("TtsName"):
        raise wire.invalid("TtsName", "calls here speak with the Amazon Polly voice of the message's "
                                      "language (docs/channels.md)")
    _fixed(form, "Totp.TimeStep", 20, 60, PERIOD, "seconds a step (RFC 6238's, what every authenticator app "
                                                  "reads)")
    _fixed(form, "Totp.CodeLength", 3, 8, DIGITS, "digits")
    skew = wire.optional_int(form, "Totp.Skew", 0, MAX_SKEW)
    if skew is not None:
        changes["totp_skew"] = skew
    if "Totp.Issuer" in form:
        issuer = form["Totp.Issuer"]
        problem = text_problem(issuer, MAX_ISSUER_LENGTH) if issuer else None
        if problem or ":" in issuer:  # Google's Key URI format: no colon in the issuer
            raise wire.invalid("Totp.Issuer", problem or "must not contain a colon")
        changes["totp_issuer"] = issuer or None  # empty: back to the FriendlyName, Twilio's default
    wait = wire.optional_int(form, "ResendWait", 0, MAX_RESEND_WAIT)
    if wait is not None:
        changes["resend_wait"] = wait
    if "AllowedCountries" in form:
        changes["allowed_countries"] = _countries(form["AllowedCountries"], stage_countries)
    for name, attribute in PASSKEY_PARAMETERS.items():
        if name in form:
            from chalicelib.twilio_v2.passkeys import passkey_setting

            changes[attribute] = passkey_setting(name, form[name])
    return changes


def _countries(raw: str, stage: frozenset[str]) -> tuple[str, ...] | None:
    """``US,GB`` -> ("GB", "US"); empty -> None (every country the stage allows). Each must be
    a region phonenumbers knows (a number's region is one of them) and, when the stage lists
    its countries, one of the stage's: a Service narrows the stage's list, never widens it."""
    import phonenumbers  # loaded by chalicelib.channels.phone already on every start

    if not raw.strip():
        return None
    names = [name.strip().upper() for name in raw.split(",")]
    for name in names:
        if not _REGION.fullmatch(name) or name not in phonenumbers.SUPPORTED_REGIONS:
            raise wire.invalid("AllowedCountries", "ISO 3166 region codes, comma-separated (US,GB)")
        if stage and name not in stage:
            raise wire.invalid("AllowedCountries", f"{name} is not among the stage's countries "
                                                   "(OTP_ALLOWED_COUNTRIES): a Service narrows them, never "
                                                   "widens them")
    return tuple(sorted(set(names)))


def service_problem(service: Any) -> wire.TwilioError | None:
    """A combination Twilio refuses: SkipSmsToLandlines "Requires lookup_enabled"."""
    if service.skip_sms_to_landlines and not service.lookup_enabled:
        return wire.invalid("SkipSmsToLandlines", "requires LookupEnabled=true (Twilio's rule)")
    return None


def friendly_name_problem(name: str) -> str | None:
    return brand_problem(name, SERVICE_BRAND_LENGTH)


def _fixed(form: dict[str, str], name: str, low: int, high: int, value: int, unit: str) -> None:
    given = wire.optional_int(form, name, low, high)
    if given is not None and given != value:
        raise wire.invalid(name, f"this service's TOTP factors use {value} {unit}")


# -- Verifications ---------------------------------------------------------------------------

_APP_HASH = re.compile(r"[A-Za-z0-9+/]{11}", re.ASCII)  # Android SMS Retriever's 11-character hash
_SEND_DIGITS = re.compile(r"[0-9wW#*]{1,32}", re.ASCII)  # Twilio's sendDigits alphabet (w: a pause)
MAX_TAGS, MAX_TAG_LENGTH = 10, 128  # Twilio's document: "up to 10 tags ... up to 128 characters"
MAX_AMOUNT_LENGTH = 32
_START_NOT_HERE = {
    "CustomMessage": "deprecated by Twilio; the message is the locale's template",
    "TemplateSid": "not until Twilio's Templates land (the message is the locale's template here)",
    "TemplateCustomSubstitutions": "not until Twilio's Templates land",
}
START_PARAMETERS = frozenset({"To", "Channel", "Locale", "CustomFriendlyName", "DeviceIp", "AppHash", "Tags",
                              "Amount", "Payee", "RiskCheck", "ChannelConfiguration", "CustomCode",
                              "SendDigits", "EnableSnaClientToken", "RateLimits",
                              *_START_NOT_HERE})  # RateLimits: twilio_v2/rate_limits.py


@dataclass(frozen=True)
class StartOptions:
    app_hash: str | None = None  # SMS only, as Twilio's "Applies only to SMS"
    psd2: tuple[str, str] | None = None  # (Amount, Payee)
    metadata: str | None = None  # Verification.metadata: {"tags", "amount", "payee"} as JSON
    # RiskCheck: False (disable, where the Service allows it) turns off the pumping defences
    # (the prefix's limit, the breakers) for this request's SMS; Twilio's is "For SMS channel only".
    risk_check: bool = True
    # CustomCode: the caller's code, sent instead of a generated one (never in a repr: no log
    # line can carry it); only its keyed MAC is kept, as for every code.
    custom_code: str | None = field(default=None, repr=False)


# Twilio's CustomCode: "4-10 characters, letters and digits" (docs Verify API, custom codes);
# matched exactly, case included, as VerificationCheck's Code (codes.parse_twilio_code).
CUSTOM_CODE = re.compile(r"[0-9A-Za-z]{4,10}", re.ASCII)


def start_options(form: dict[str, str], service: Any, channel: str, platform: bool = False) -> StartOptions:
    """The CreateVerification parameters beyond To, Channel, Locale, CustomFriendlyName and
    DeviceIp (the caller's), checked in the form's order of names. ``platform``: an identity
    platform's hook (chalicelib/hooks/), whose Service the operator named for it: its code
    is always the platform's, whatever the Service's CustomCodeEnabled."""
    for name in sorted(form):
        if name not in START_PARAMETERS:
            raise wire.invalid(name, "not supported by this service")
        if name in _START_NOT_HERE:
            raise wire.invalid(name, _START_NOT_HERE[name])
    if "CustomCode" in form:
        if not (service.custom_code_enabled or platform):
            # 60204 Service does not support this feature (https://www.twilio.com/docs/api/errors/60204):
            # Twilio's answer when the Service's CustomCodeEnabled is false.
            raise wire.TwilioError(60204, 400, "Service does not support this feature: `CustomCode` needs "
                                               "the Service's CustomCodeEnabled")
        if not CUSTOM_CODE.fullmatch(form["CustomCode"]):
            raise wire.invalid("CustomCode", "4 to 10 ASCII letters or digits")
    if wire.optional_bool(form, "EnableSnaClientToken"):
        raise wire.invalid("EnableSnaClientToken", "this service has no Silent Network Auth")
    risk = form.get("RiskCheck")
    if risk not in (None, "enable", "disable"):
        raise wire.invalid("RiskCheck", "enable or disable")
    if risk == "disable" and not service.risk_check_opt_out_enabled:
        # Refused, not ignored: an app that sends it expects Fraud Guard off, and a silent "on"
        # would surprise it with 60410s; the Service's owner turns it on knowingly (an extension).
        raise wire.invalid("RiskCheck", "disable needs the Service's RiskCheckOptOutEnabled (an extension, "
                                        "off by default): it turns off the pumping defences for the request")
    if "SendDigits" in form:
        if not _SEND_DIGITS.fullmatch(form["SendDigits"]):
            raise wire.invalid("SendDigits", "1-32 of 0-9 w W # *")
        raise wire.invalid("SendDigits", "the call providers here dial the number itself; none sends digits "
                                         "before the message")
    _channel_configuration(form.get("ChannelConfiguration"))
    app_hash = form.get("AppHash") or None
    if app_hash is not None and not _APP_HASH.fullmatch(app_hash):
        raise wire.invalid("AppHash", "Android's SMS Retriever hash: 11 characters of A-Z a-z 0-9 + /")
    psd2 = _psd2(form, service, channel)
    tags = _tags(form.get("Tags"))
    meta: dict[str, Any] = {}
    if tags:
        meta["tags"] = tags
    if psd2:
        meta["amount"], meta["payee"] = psd2
    return StartOptions(app_hash if channel == "sms" else None, psd2,
                        json.dumps(meta, sort_keys=True, separators=(",", ":")) if meta else None,
                        risk_check=not (risk == "disable" and channel == "sms"),
                        custom_code=form.get("CustomCode"))


def metadata(raw: str | None) -> dict[str, Any]:
    """Verification.metadata read back ({} for none or a damaged one)."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _psd2(form: dict[str, str], service: Any, channel: str) -> tuple[str, str] | None:
    amount, payee = form.get("Amount"), form.get("Payee")
    if amount is None and payee is None:
        return None
    name = "Amount" if amount is not None else "Payee"
    if not service.psd2_enabled:
        raise wire.invalid(name, "requires the Service's Psd2Enabled")
    if amount is None or payee is None:
        raise wire.invalid("Amount" if amount is None else "Payee", "PSD2 needs both Amount and Payee")
    if channel != "sms":
        raise wire.invalid(name, "the amount and payee are printed in SMS messages only here")
    problem = text_problem(amount, MAX_AMOUNT_LENGTH)
    if problem or "://" in amount:
        raise wire.invalid("Amount", problem or "must not contain a link")
    problem = brand_problem(payee, SERVICE_BRAND_LENGTH)  # a payee is a name, as a brand is
    if problem:
        raise wire.invalid("Payee", problem)
    return amount, payee


def _tags(raw: str | None) -> dict[str, str] | None:
    if raw is None or raw == "":
        return None
    try:
        tags = json.loads(raw)
    except (ValueError, RecursionError):
        raise wire.invalid("Tags", "must be a JSON object of string tags") from None
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise wire.invalid("Tags", "must be a JSON object of string tags")
    if len(tags) > MAX_TAGS:
        raise wire.invalid("Tags", f"at most {MAX_TAGS} tags")
    if any(not 0 < len(k) <= MAX_TAG_LENGTH or len(v) > MAX_TAG_LENGTH for k, v in tags.items()):
        raise wire.invalid("Tags", f"keys of 1-{MAX_TAG_LENGTH} characters, values of at most "
                                   f"{MAX_TAG_LENGTH}")
    return tags or None


def _channel_configuration(raw: str | None) -> None:
    """Twilio's email ``ChannelConfiguration`` (from, from_name, template substitutions):
    only an empty object here. The email composer (channel_messages.email_message) sends from
    the stage's verified sender with the brand it has checked; a caller's ``from`` would send
    as another address, and its ``from_name`` and substitutions would put unchecked caller text
    into the mail's headers and body."""
    if raw is None or raw.strip() in ("", "{}"):
        return
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise wire.invalid("ChannelConfiguration", "must be a JSON object") from None
    if value != {}:
        raise wire.invalid("ChannelConfiguration", "email goes out from the stage's sender with its own "
                                                   "text here: no from, from_name or substitutions")
