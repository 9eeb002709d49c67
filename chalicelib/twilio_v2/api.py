"""Twilio Verify v2's resources over the domain: Services (services.py) and the
Verifications and VerificationChecks of each, translated to and from the same
VerificationService that v1 calls. Built once per container by chalicelib/wiring.py."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any
from urllib.parse import urlencode

from chalicelib import errors
from chalicelib.attempts import attempt_sid
from chalicelib.messages import brand_problem
from chalicelib.models import CheckRequest, StartRequest, Verification, valid_locale
from chalicelib.networks import client_network
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.attempts import AttemptResources
from chalicelib.twilio_v2.channels import CHANNEL_NAMES as _CHANNEL_NAMES
from chalicelib.twilio_v2.channels import CHANNELS
from chalicelib.twilio_v2.credentials import ApiKeyStore, Authenticator
from chalicelib.twilio_v2.services import (ConcurrentUpdate, ServiceCatalog, ServiceSettings, ServiceStore,
                                           TooManyServices)
from chalicelib.twilio_v2.totp import TotpResources

# Twilio's Service flags this service does not implement: accepted only as "false".
_FALSE_ONLY = ("LookupEnabled", "SkipSmsToLandlines", "DtmfInputRequired", "DoNotShareWarningEnabled",
               "CustomCodeEnabled", "Psd2Enabled")
_START_PARAMETERS = {"To", "Channel", "Locale", "CustomFriendlyName", "DeviceIp"}
_GONE = ("approved", "canceled", "expired")  # Twilio: such a verification is no longer found (20404)
_APPS_CACHED = 256


class TwilioApi:
    def __init__(self, config: Any, service: Any, receipts: Any, get_totp: Any) -> None:
        self._config = config
        self._service = service
        self._receipts = receipts
        hasher = service._hasher
        self.account_sid = hasher.derived_sid("AC", "account")
        client, table = service._store._client, config.table_name
        default = ServiceSettings(hasher.derived_sid("VA", "default-service"), config.brand_name,
                                  config.code_length, 0, 0, default=True)
        self.catalog = ServiceCatalog(ServiceStore(client, table), default, wall=service.now)
        self.authenticator = Authenticator(ApiKeyStore(client, table), hasher.api_key_mac)
        self.totp = TotpResources(self, get_totp)
        self.attempts = AttemptResources(self, service._attempts, service.now)
        self._apps: dict[tuple[str, int, str, int], Any] = {}
        self._lock = threading.Lock()

    # -- Services ---------------------------------------------------------------------------

    def create_service(self, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, {"FriendlyName", "CodeLength", *_FALSE_ONLY})
        name = form.get("FriendlyName")
        if name is None:
            raise wire.invalid("FriendlyName", "is required")
        code_length = wire.optional_int(form, "CodeLength", 4, 10) or 6
        self._check_brand(name, code_length)
        now = int(self._service.now())
        service = ServiceSettings(wire.new_sid("VA"), name, code_length, now, now)
        try:
            self.catalog.create(service)
        except TooManyServices:
            raise wire.invalid("FriendlyName", "this deployment has the most Services it keeps") from None
        return self.service_body(service, base)

    def update_service(self, sid: str, form: dict[str, str], base: str) -> dict[str, Any]:
        current = self._settings(sid)
        if current.default:
            raise wire.invalid("Sid", "the default Service is the stage's configuration (OTP_* variables)")
        _only(form, {"FriendlyName", "CodeLength", *_FALSE_ONLY})
        changes: dict[str, Any] = {}
        if "FriendlyName" in form:
            changes["friendly_name"] = form["FriendlyName"]
        code_length = wire.optional_int(form, "CodeLength", 4, 10)
        if code_length is not None:
            changes["code_length"] = code_length
        self._check_brand(changes.get("friendly_name", current.friendly_name),
                          changes.get("code_length", current.code_length))
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
            "code_length": s.code_length, "lookup_enabled": False, "psd2_enabled": False,
            "skip_sms_to_landlines": False, "dtmf_input_required": False, "tts_name": None,
            "do_not_share_warning_enabled": False, "custom_code_enabled": False,
            "push": {"include_date": False, "apn_credential_sid": None, "fcm_credential_sid": None},
            "totp": {"issuer": s.friendly_name, "time_step": 30, "code_length": 6, "skew": 1},
            "default_template_sid": None, "whatsapp": {"msg_service_sid": None, "from": None},
            "verify_event_subscription_enabled": False,
            "date_created": wire.iso(s.created_at), "date_updated": wire.iso(s.updated_at), "url": url,
            "links": {"verifications": f"{url}/Verifications",
                      "verification_checks": f"{url}/VerificationCheck"},
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

    def _check_brand(self, brand: str, code_length: int, parameter: str = "FriendlyName") -> None:
        """The brand's rules (messages.brand_problem: the stage's OTP_BRAND_NAME follows the
        same), then one SMS segment with it; 60200 naming ``parameter``."""
        problem = brand_problem(brand)
        if problem:
            raise wire.invalid(parameter, problem)
        config = dataclasses.replace(self._config, brand_name=brand, code_length=code_length)
        if config.composer().check_budget(code_length):
            raise wire.invalid(parameter, "too long for a one-segment SMS with this code length")

    def app(self, sid: str, brand: str | None = None) -> tuple[ServiceSettings, Any]:
        """The Service and the VerificationService that applies its settings (the default
        Service's too: v1's verifications, with v2's rules for resends)."""
        settings = self._settings(sid)
        scope = "" if settings.default else settings.sid
        key = (scope, settings.code_length, brand or settings.friendly_name, resend_wait(settings))
        with self._lock:
            app = self._apps.get(key)
            if app is None:
                if len(self._apps) >= _APPS_CACHED:
                    self._apps.clear()
                app = self._apps[key] = self._service.for_app(*key)
        return settings, app

    # -- Verifications ----------------------------------------------------------------------

    def start(self, sid: str, form: dict[str, str], base: str) -> dict[str, Any]:
        """A start for the Service. The caller is a backend (one address for all its users), so
        the per-IP limit counts the end user's ``DeviceIp`` when given and nothing otherwise;
        the number's, the prefix's, the country's limits and the budget always apply."""
        _only(form, _START_PARAMETERS)
        to, channel = form.get("To"), form.get("Channel")
        if not to:
            raise wire.invalid("To", "is required")
        if channel not in CHANNELS:
            raise wire.invalid("Channel", "this service sends by sms, call, whatsapp and email (and auto)")
        locale = form.get("Locale") or "en"
        if not valid_locale(locale):
            raise wire.invalid("Locale")
        brand = form.get("CustomFriendlyName")
        settings = self._settings(sid)
        if brand is not None:
            self._check_brand(brand, settings.code_length, "CustomFriendlyName")
        ip, source_ip = form.get("DeviceIp"), None
        if ip is not None:
            source_ip = client_network(ip)  # the form every per-IP count keys (a /64 for IPv6)
            if source_ip is None:
                raise wire.invalid("DeviceIp")
        settings, app = self.app(sid, brand)
        verification, _ = app.start(StartRequest(to, None, CHANNELS[channel], locale), source_ip)
        return self.verification_body(settings, verification, app.now(), base)

    def fetch(self, sid: str, verification_sid: str, base: str) -> dict[str, Any]:
        settings, app = self.app(sid)
        verification = app.get(verification_sid)
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
        # (VerificationNotFound and NotPending: wire.from_domain), as at Twilio.
        verification = app.cancel(verification_sid) if status == "canceled" else app.approve(verification_sid)
        return self.verification_body(settings, verification, app.now(), base)

    def check(self, sid: str, form: dict[str, str]) -> dict[str, Any]:
        """A check for the Service: counted per verification and per number, not per IP (the
        caller is a backend; Twilio's check has no end user's address)."""
        _only(form, {"To", "VerificationSid", "Code"})
        to, verification_sid = form.get("To"), form.get("VerificationSid")
        if (to is None) == (verification_sid is None):
            raise wire.invalid("To", "give exactly one of To and VerificationSid")
        if "Code" not in form:
            raise wire.invalid("Code", "is required")
        settings, app = self.app(sid)
        request = CheckRequest(form["Code"], to, None, verification_sid)
        try:
            verification = app.check(request, None)
        except errors.IncorrectCode as exc:  # Twilio answers a wrong code with 200, pending
            return self._check_body(settings, exc.verification, "pending", None)
        receipt = self._receipts.for_verification(verification, app.now(),
                                                   test_number=app.is_test_number(verification.to))
        return self._check_body(settings, verification, "approved", receipt)

    def verification_body(self, s: ServiceSettings, v: Verification, now: float, base: str) -> dict[str, Any]:
        status = v.status(now)
        return {
            "sid": v.id, "service_sid": s.sid, "account_sid": self.account_sid, "to": v.to,
            "channel": _CHANNEL_NAMES.get(v.channel, v.channel), "status": status,
            "valid": status == "approved", "lookup": {}, "amount": None, "payee": None, "sna": None,
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
            "valid": status == "approved", "amount": None, "payee": None, "sna_attempts_error_codes": [],
            "date_created": wire.iso(v.created_at), "date_updated": wire.iso(_updated(v)),
        }
        if receipt is not None:
            body["receipt"] = receipt  # this service's extension: the approval's signed receipt
        return body


def resend_wait(settings: ServiceSettings) -> int:
    """Seconds a Service waits between two sends of a verification: none, as at Twilio (a
    resend is a start again, answered 201), unless the Service sets one (an extension
    parameter of the Service's settings, read here and nowhere else)."""
    return 0


def _only(form: dict[str, str], allowed: set[str] | tuple[str, ...]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")
        if name in _FALSE_ONLY and wire.optional_bool(form, name):
            raise wire.invalid(name, "not supported by this service (only false)")


def _updated(v: Verification) -> int:
    return max(v.created_at, v.canceled_at or 0, v.sent_at_ms // 1000)
