"""Twilio Verify v2's resources over the domain: Services (services.py) and the
Verifications and VerificationChecks of each, translated to and from the same
VerificationService that v1 calls. Built once per container by chalicelib/wiring.py."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any
from urllib.parse import unquote, urlencode

from chalicelib import errors
from chalicelib.verify import attempt_sid
from chalicelib.channels import base_locale, brand_problem, composer_for
from chalicelib.verify import CheckRequest, StartRequest, Verification, valid_locale
from chalicelib.networks import client_network
from chalicelib.channels import line_type
from chalicelib.twilio_v2 import params, rate_limits, wire
from chalicelib.twilio_v2.attempts import AttemptResources
from chalicelib.twilio_v2.channels import CHANNEL_NAMES as _CHANNEL_NAMES
from chalicelib.twilio_v2.channels import CHANNELS
from chalicelib.twilio_v2.credentials import ApiKeyStore, Authenticator
from chalicelib.twilio_v2.services import (ConcurrentUpdate, ServiceCatalog, ServiceSettings, ServiceStore,
                                           TooManyServices)
from chalicelib.twilio_v2.passkeys import PasskeyResources, service_passkeys
from chalicelib.twilio_v2.totp import TotpResources
from chalicelib.totp import DIGITS, PERIOD

_GONE = ("approved", "canceled", "expired")  # Twilio: such a verification is no longer found (20404)
_APPS_CACHED = 256
MAX_CUSTOM_CODE = 10  # Twilio's CustomCode: 4-10 characters


class TwilioApi:
    def __init__(self, config: Any, service: Any, receipts: Any, get_totp: Any,
                 get_passkeys: Any = None) -> None:
        self._config = config
        self._service = service
        self._receipts = receipts
        hasher = service._hasher
        self.account_sid = hasher.derived_sid("AC", "account")
        client, table = service._store._client, config.table_name
        default = ServiceSettings(hasher.derived_sid("VA", "default-service"), config.brand_name,
                                  config.code_length, 0, 0, default=True,
                                  custom_code_enabled=config.hooks.custom_code_enabled)
        self.default_sid = default.sid
        self.catalog = ServiceCatalog(ServiceStore(client, table), default, wall=service.now)
        self.authenticator = Authenticator(ApiKeyStore(client, table), hasher.api_key_mac,
                                           token=hasher.auth_token, account_sid=self.account_sid)
        self.totp = TotpResources(self, get_totp)
        self.passkeys = PasskeyResources(self, get_passkeys, receipts)
        self.attempts = AttemptResources(self, service._attempts, service.now)
        self.rate_limits = rate_limits.RateLimitResources(self)
        self._apps: dict[tuple[str, int, str, int, tuple[str, ...] | None], Any] = {}
        self._lock = threading.Lock()

    # -- Services ---------------------------------------------------------------------------

    def create_service(self, form: dict[str, str], base: str) -> dict[str, Any]:
        changes = params.service_changes(form, self._config.limits.allowed_countries)
        if "friendly_name" not in changes:
            raise wire.invalid("FriendlyName", "is required")
        now = int(self._service.now())
        service = dataclasses.replace(ServiceSettings(wire.new_sid("VA"), "", 6, now, now), **changes)
        self._check_service(service)
        try:
            self.catalog.create(service)
        except TooManyServices:
            raise wire.invalid("FriendlyName", "this deployment has the most Services it keeps") from None
        return self.service_body(service, base)

    def update_service(self, sid: str, form: dict[str, str], base: str,
                       account: bool = True) -> dict[str, Any]:
        """``account``: the credential acts on every Service (not a key limited to some), the
        only one that may let the Service's starts turn the pumping defences off."""
        current = self._settings(sid)
        if current.default:
            raise wire.invalid("Sid", "the default Service is the stage's configuration (OTP_* variables)")
        changes = params.service_changes(form, self._config.limits.allowed_countries)
        if changes.get("custom_code_reported") is False and not account:
            raise wire.TwilioError(20403, 403, "Forbidden: only a credential for every Service sets "
                                               "CustomCodeReported=false (this API key is limited to some "
                                               "Services)")
        if changes.get("risk_check_opt_out_enabled") and not account:
            raise wire.TwilioError(20403, 403, "Forbidden: only a credential for every Service sets "
                                               "RiskCheckOptOutEnabled (this API key is limited to some "
                                               "Services)")
        self._check_service(dataclasses.replace(current, **changes))
        try:
            updated = self.catalog.update(sid, int(self._service.now()), **changes)
        except ConcurrentUpdate:
            raise wire.TwilioError(20429, 429, "The Service is being updated by another request", 1) from None
        if updated is None:
            raise wire.not_found("The Service")
        return self.service_body(updated, base)

    def delete_service(self, sid: str) -> None:
        if self._settings(sid).default:
            raise wire.invalid("Sid", "the default Service is the stage's configuration (OTP_* variables)")
        if not self.catalog.delete(sid):
            raise wire.not_found("The Service")

    def service_body(self, s: ServiceSettings, base: str) -> dict[str, Any]:
        url = f"{base}/v2/Services/{s.sid}"
        return {
            "sid": s.sid, "account_sid": self.account_sid, "friendly_name": s.friendly_name,
            "code_length": s.code_length, "lookup_enabled": s.lookup_enabled, "psd2_enabled": s.psd2_enabled,
            "skip_sms_to_landlines": s.skip_sms_to_landlines, "dtmf_input_required": False, "tts_name": None,
            "do_not_share_warning_enabled": s.do_not_share_warning_enabled,
            "custom_code_enabled": s.custom_code_enabled,
            "push": {"include_date": False, "apn_credential_sid": None, "fcm_credential_sid": None},
            "totp": {"issuer": s.totp_issuer or s.friendly_name, "time_step": PERIOD, "code_length": DIGITS,
                     "skew": self._config.totp.window if s.totp_skew is None else s.totp_skew},
            "default_template_sid": None, "whatsapp": {"msg_service_sid": None, "from": None},
            "passkeys": service_passkeys(s),  # the Service's Passkeys.* (null: none set)
            "verify_event_subscription_enabled": s.verify_event_subscription_enabled,
            # This service's extensions (docs/twilio-verify.md's Service parameters):
            "resend_wait": s.resend_wait,
            "allowed_countries": list(s.allowed_countries) if s.allowed_countries is not None else None,
            "risk_check_opt_out_enabled": s.risk_check_opt_out_enabled,
            "custom_code_reported": s.custom_code_reported,
            "date_created": wire.iso(s.created_at), "date_updated": wire.iso(s.updated_at), "url": url,
            "links": {"verifications": f"{url}/Verifications",
                      "verification_checks": f"{url}/VerificationCheck", "rate_limits": f"{url}/RateLimits"},
        }

    def page(self, key: str, items: list[dict], query: dict[str, str], base: str, path: str) -> dict:
        """Twilio's list shape: ``PageSize`` (1-1000, default 50) and ``Page``; ``meta`` with
        absolute URLs on this host (the SDKs follow ``next_page_url`` as given)."""
        size = wire.optional_int(query, "PageSize", 1, 1000) or 50
        number = wire.optional_int(query, "Page", 0, 1_000_000) or 0
        chunk = items[number * size:(number + 1) * size]

        def url(n: int) -> str:
            return f"{base}{path}?" + urlencode({"PageSize": size, "Page": n})

        more = (number + 1) * size < len(items)
        return {key: chunk, "meta": {
            "page": number, "page_size": size, "first_page_url": url(0), "url": url(number), "key": key,
            "previous_page_url": url(number - 1) if number > 0 else None,
            "next_page_url": url(number + 1) if more else None}}

    def _settings(self, sid: str) -> ServiceSettings:
        service = self.catalog.get(sid) if sid.startswith("VA") and len(sid) == 34 else None
        if service is None:
            raise wire.not_found("The Service")
        return service

    def _check_service(self, s: ServiceSettings) -> None:
        """A Service's FriendlyName (messages.brand_problem, up to SERVICE_BRAND_LENGTH: the
        stage's OTP_BRAND_NAME follows the same rule), its combination of flags, then one SMS
        segment with its brand, code length and do-not-share warning."""
        problem = params.friendly_name_problem(s.friendly_name)
        if problem:
            raise wire.invalid("FriendlyName", problem)
        error = params.service_problem(s)
        if error is not None:
            raise error
        self._check_budget(s.friendly_name, s.code_length, "FriendlyName",
                           do_not_share=s.do_not_share_warning_enabled)
        if s.custom_code_enabled:  # a custom code is up to 10 characters: one segment with any
            self._check_budget(s.friendly_name, MAX_CUSTOM_CODE, "CustomCodeEnabled",
                               do_not_share=s.do_not_share_warning_enabled)

    def _check_budget(self, brand: str, code_length: int, parameter: str, locale: str | None = None,
                      **options: Any) -> None:
        """One SMS segment in every locale (a Service's settings) or in ``locale`` (a start's)."""
        config = dataclasses.replace(self._config, brand_name=brand, code_length=code_length)
        locales = (base_locale(locale),) if locale else None
        if composer_for(config).with_options(**options).check_budget(code_length, locales):
            raise wire.invalid(parameter, "too long for a one-segment SMS with this code length")

    def app(self, sid: str, brand: str | None = None) -> tuple[ServiceSettings, Any]:
        """The Service and the VerificationService that applies its settings (the default
        Service's too: v1's verifications, with v2's rules for resends)."""
        settings = self._settings(sid)
        scope = "" if settings.default else settings.sid
        key = (scope, settings.code_length, brand or settings.friendly_name, resend_wait(settings),
               settings.allowed_countries)
        with self._lock:
            app = self._apps.get(key)
            if app is None:
                if len(self._apps) >= _APPS_CACHED:
                    self._apps.clear()
                app = self._apps[key] = self._service.for_app(*key)
        return settings, app

    # -- Verifications ----------------------------------------------------------------------

    def start(self, sid: str, form: dict[str, str], base: str, platform: bool = False) -> dict[str, Any]:
        """A start for the Service. The caller is a backend (one address for all its users), so
        the per-IP limit counts the end user's ``DeviceIp`` when given and nothing otherwise;
        the number's, the prefix's, the country's limits and the budget always apply.
        ``platform``: an identity platform's hook (chalicelib/hooks/) starts the Service it was
        given with the platform's CustomCode; the platform checks the code and never reports
        back, so its sends stay out of the conversion breakers' sample (docs/limits.md)."""
        to, channel = form.get("To"), form.get("Channel")
        settings = self._settings(sid)
        options = params.start_options(form, settings, channel or "", platform)
        if not to:
            raise wire.invalid("To", "is required")
        if channel not in CHANNELS:
            raise wire.invalid("Channel", "this service sends by sms, call, whatsapp and email (and auto)")
        locale = form.get("Locale") or "en"
        if not valid_locale(locale):
            raise wire.invalid("Locale")
        brand = form.get("CustomFriendlyName")
        if brand is not None:
            problem = brand_problem(brand)  # the stage's limit: a brand per verification
            if problem:
                raise wire.invalid("CustomFriendlyName", problem)
        message = {"app_hash": options.app_hash, "do_not_share": settings.do_not_share_warning_enabled}
        psd2 = {"psd2": options.psd2}
        for parameter, extra in (("CustomFriendlyName", {}), ("AppHash", {}), ("Amount", psd2)):
            if parameter in form:  # one SMS segment with each: each named as it adds to the text
                self._check_budget(brand or settings.friendly_name, settings.code_length, parameter,
                                   locale, **message, **extra)
        ip, source_ip = form.get("DeviceIp"), None
        if ip is not None:
            source_ip = client_network(ip)  # the form every per-IP count keys (a /64 for IPv6)
            if source_ip is None:
                raise wire.invalid("DeviceIp")
        settings, app = self.app(sid, brand)
        if options.app_hash or options.psd2 or settings.do_not_share_warning_enabled:
            app = app.with_message(**message, psd2=options.psd2)
        buckets = rate_limits.named(settings, form.get("RateLimits"), self._service._hasher.rate_limit_key)
        unreported = options.custom_code is not None and not settings.custom_code_reported
        request = StartRequest(to, None, CHANNELS[channel], locale, metadata=options.metadata,
                               risk_check=options.risk_check, custom_code=options.custom_code,
                               buckets=buckets,
                               sampled=not (platform or unreported))  # never reported: not sampled
        verification, _ = app.start(request, source_ip)
        return self.verification_body(settings, verification, app.now(), base)

    def fetch(self, sid: str, verification_sid: str, base: str) -> dict[str, Any]:
        settings, app = self.app(sid)
        verification = app.get(**_named(verification_sid))
        if verification.status(app.now()) in _GONE:
            raise wire.not_found("The Verification")
        return self.verification_body(settings, verification, app.now(), base)

    def update(self, sid: str, verification_sid: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, {"Status"})
        status = form.get("Status")
        if status not in ("canceled", "approved"):
            raise wire.invalid("Status", "canceled or approved")
        settings, app = self.app(sid)
        # One write, whose condition names this Service: another Service's verification, or
        # one no longer pending (approved, canceled, expired, locked), answers 20404
        # (VerificationNotFound and NotPending: wire.from_domain), as at Twilio. By number too:
        # the number's key is this Service's, and the write's condition proves the Service.
        named = _named(verification_sid)
        verification = app.cancel(**named) if status == "canceled" else app.approve(**named)
        return self.verification_body(settings, verification, app.now(), base)

    def check(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        """A check for the Service: counted per verification and per number, not per IP (the
        caller is a backend; Twilio's check has no end user's address)."""
        _only(form, {"To", "VerificationSid", "Code", "Amount", "Payee"})
        to, verification_sid = form.get("To"), form.get("VerificationSid")
        if (to is None) == (verification_sid is None):
            raise wire.invalid("To", "give exactly one of To and VerificationSid")
        if "Code" not in form:
            raise wire.invalid("Code", "is required")
        settings, app = self.app(sid)
        other = self._other_transaction(settings, app, form)
        if other is not None:  # PSD2: the code approves its own amount and payee only
            return self._check_body(settings, other, "pending", None)
        request = CheckRequest(form["Code"], to, None, verification_sid)
        try:
            verification = app.check(request, None, any_length=True)  # Twilio's Code: 4-10 characters
        except errors.IncorrectCode as exc:  # Twilio answers a wrong code with 200, pending
            return self._check_body(settings, exc.verification, "pending", None)
        receipt = self._receipts.for_verification(verification, app.now(),
                                                   test_number=app.is_test_number(verification.to))
        return self._check_body(settings, verification, "approved", receipt)

    def _other_transaction(self, s: ServiceSettings, app: Any, form: dict[str, str]) -> Verification | None:
        """PSD2's dynamic linking: a check must give the Amount and Payee its verification was
        started with (Twilio's CreateVerificationCheck takes both). The verification that differs
        (answered ``pending`` without a check: the code is not tried, so nothing is learnt of
        it), or None. They are fixed at the verification's first write, so reading first and
        checking that SID after cannot be raced. A Psd2Enabled Service's check names the
        VerificationSid (a check by To would need the read by number)."""
        given = (form.get("Amount"), form.get("Payee"))
        if not s.psd2_enabled:
            if given != (None, None):
                raise wire.invalid("Amount" if given[0] is not None else "Payee",
                                   "requires the Service's Psd2Enabled")
            return None
        if "VerificationSid" not in form:
            raise wire.invalid("VerificationSid", "a Psd2Enabled Service's check names its verification here")
        verification = app.get(form["VerificationSid"])
        meta = params.metadata(verification.metadata)
        return verification if (meta.get("amount"), meta.get("payee")) != given else None

    def verification_body(self, s: ServiceSettings, v: Verification, now: float, base: str) -> dict[str, Any]:
        status, meta = v.status(now), params.metadata(v.metadata)
        return {
            "sid": v.id, "service_sid": s.sid, "account_sid": self.account_sid, "to": v.to,
            "channel": _CHANNEL_NAMES.get(v.channel, v.channel), "status": status,
            "valid": status == "approved", "lookup": _lookup(s, v), "amount": meta.get("amount"),
            "payee": meta.get("payee"), "sna": None,
            "send_code_attempts": [
                {"attempt_sid": attempt_sid(v.id, i, a.at_ms),
                 "channel": _CHANNEL_NAMES.get(a.channel, a.channel), "time": a.at_iso}
                for i, a in enumerate(v.sends)],
            "date_created": wire.iso(v.created_at), "date_updated": wire.iso(_updated(v)),
            "url": f"{base}/v2/Services/{s.sid}/Verifications/{v.id}",
        }

    def _check_body(self, s: ServiceSettings, v: Verification, status: str, receipt: str | None) -> dict:
        body = {
            "sid": v.id, "service_sid": s.sid, "account_sid": self.account_sid, "to": v.to,
            "channel": _CHANNEL_NAMES.get(v.channel, v.channel), "status": status,
            "valid": status == "approved", "amount": params.metadata(v.metadata).get("amount"),
            "payee": params.metadata(v.metadata).get("payee"), "sna_attempts_error_codes": [],
            "date_created": wire.iso(v.created_at), "date_updated": wire.iso(_updated(v)),
        }
        if receipt is not None:
            body["receipt"] = receipt  # this service's extension: the approval's signed receipt
        return body


def resend_wait(settings: ServiceSettings) -> int:
    """Seconds a Service waits between two sends of a verification: none, as at Twilio (a
    resend is a start again, answered 201), unless the Service sets one (an extension
    parameter of the Service's settings, ``ResendWait``, read here and nowhere else)."""
    return settings.resend_wait


def _only(form: dict[str, str], allowed: set[str] | tuple[str, ...]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")


def _named(raw: str) -> dict[str, str]:
    """The path's ``Sid``: a ``VE`` SID, or the E.164 number or email address of the Service's
    pending verification, as Twilio takes it (its api-snippets approve by phone number:
    ``verifications('+15017122661').update(status='approved')``). The SDKs send the ``+`` as
    is; a client that percent-encodes it sends ``%2B``, decoded here once (never ``+`` as a
    space: this is a path, not a form)."""
    value = unquote(raw) if "%" in raw else raw
    return {"verification_id": value} if value.startswith("VE") else {"to": value}


def _lookup(s: ServiceSettings, v: Verification) -> dict[str, Any]:
    """Twilio's ``lookup`` with the Service's LookupEnabled: the carrier's ``type`` from the
    number itself (phonenumbers, computed at each answer: nothing stored, no round trip); no
    carrier data here, so its other fields are null. ``{}`` without the flag, and for email
    (Twilio looks up phone numbers)."""
    if not s.lookup_enabled or not v.to.startswith("+"):
        return {}
    return {"carrier": {"error_code": None, "mobile_country_code": None, "mobile_network_code": None,
                        "name": None, "type": line_type(v.to)}}


def _updated(v: Verification) -> int:
    return max(v.created_at, v.canceled_at or 0, v.sent_at_ms // 1000)
