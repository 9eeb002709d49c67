"""Twilio's Service Webhooks (``YW``): create, list, fetch, update and delete under a Service
(https://www.twilio.com/docs/verify/api/webhooks; Twilio's OpenAPI document twilio_verify_v2's
``verify.v2.service.webhook`` schema and its CreateWebhook/UpdateWebhook forms).

Where they live: in the Service's own item (ServiceSettings.webhooks), changed by the Service's
one compare-and-set write (ServiceCatalog.change), as the Rate Limits are (rate_limits.py): a
webhook named from another Service is not in it (20404), two changes racing cannot lose one,
and a create names its SID before the write, so a retried write finds its own webhook. The
events consumer reads them with the Service through its cache (webhook_delivery.py): a change
takes effect at once in the container that made it and within services.CACHE_SECONDS (30 s)
in every other, the consumer's included.

``EventTypes`` takes Twilio's values (``*`` and the five factor and challenge events) and, as
an extension, the verification events the table's stream shows (``verification.*`` or one of
them): Twilio sends those as Verify Events through Event Streams, not to a Service's Webhooks.
``*`` is Twilio's five only, so a webhook copied from Twilio gets what it got there.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Sequence

from chalicelib.channels import text_problem
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.service_resources import ServiceResources
from chalicelib.twilio_v2.services import ServiceSettings

TWILIO_EVENTS = ("factor.created", "factor.verified", "factor.deleted", "challenge.approved",
                 "challenge.denied")
# The extension: what chalicelib/events/stream.py derives from a number's item (delivery.updated
# is a send's, not a verification's, and stays with the Standard Webhooks events).
VERIFICATION_EVENTS = ("verification.started", "verification.resent", "verification.approved",
                       "verification.failed", "verification.canceled", "verification.expired")
EVENT_TYPES = ("*", *TWILIO_EVENTS, "verification.*", *VERIFICATION_EVENTS)
MAX_WEBHOOKS = 5  # per Service: this service's bound (Twilio publishes none); each is a POST per event
MAX_FRIENDLY_NAME, MAX_URL = 64, 2048
_YW = re.compile(r"YW[0-9a-fA-F]{32}", re.ASCII)
_HTTPS = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s#]*)?", re.ASCII)
_LOCAL = re.compile(r"http://(127\.0\.0\.1|localhost)(:[0-9]{1,5})?(/[^\s#]*)?", re.ASCII)
_CREATE = ("FriendlyName", "EventTypes", "WebhookUrl", "Status", "Version")


def subscribed(webhook: dict[str, Any], event_type: str) -> bool:
    """The webhook is enabled and takes this event."""
    if webhook.get("status") != "enabled":
        return False
    types = webhook["event_types"]
    if event_type in types:
        return True
    if event_type.startswith("verification."):
        return "verification.*" in types
    return "*" in types


class WebhookResources(ServiceResources):
    WHAT = "its Webhooks"

    def create(self, sid: str, form: dict[str, str], event_types: Sequence[str], base: str) -> dict[str, Any]:
        _only(form, _CREATE)
        for name in ("FriendlyName", "WebhookUrl"):
            if not form.get(name):
                raise wire.invalid(name, "is required")
        if not event_types:
            raise wire.invalid("EventTypes", "is required")
        if not self._api._config.events.twilio_webhooks:
            raise wire.TwilioError(60200, 400, "Webhooks are off on this deployment: its operator turns them "
                                               "on with OTP_TWILIO_WEBHOOKS=true (docs/events.md)")
        if not self._api.authenticator.has_signing_token():
            raise wire.TwilioError(60200, 400, "The account has no auth token to sign webhooks with: "
                                               "its operator makes one with make auth-token "
                                               "(docs/twilio-verify.md)")
        given = self._given(form, event_types)
        new_sid, now = wire.new_sid("YW"), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            if any(w["sid"] == new_sid for w in s.webhooks):
                return s  # our own write, landed before a retry
            if len(s.webhooks) >= MAX_WEBHOOKS:
                raise wire.invalid("WebhookUrl", f"a Service has at most {MAX_WEBHOOKS} webhooks")
            webhook = {"sid": new_sid, "status": "enabled", "version": "v2", **given,
                       "created_at": now, "updated_at": now}
            return replace(s, webhooks=(*s.webhooks, webhook))

        service = self._change(sid, apply)
        return self.body(service, _find(service, new_sid), base)

    def list(self, sid: str, query: dict[str, str], base: str) -> dict[str, Any]:
        service = self._service(sid)
        items = [self.body(service, w, base) for w in service.webhooks]
        return self._api.page("webhooks", items, query, base, f"/v2/Services/{sid}/Webhooks")

    def fetch(self, sid: str, yw: str, base: str) -> dict[str, Any]:
        service = self._service(sid)
        return self.body(service, _find(service, yw), base)

    def update(self, sid: str, yw: str, form: dict[str, str], event_types: Sequence[str],
               base: str) -> dict[str, Any]:
        _only(form, _CREATE)
        given, now = self._given(form, event_types), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            webhook = _find(s, yw)
            if all(webhook.get(k) == v for k, v in given.items()):
                return s
            changed = {**webhook, **given, "updated_at": now}
            return replace(s, webhooks=tuple(changed if w["sid"] == yw else w for w in s.webhooks))

        service = self._change(sid, apply)
        return self.body(service, _find(service, yw), base)

    def delete(self, sid: str, yw: str) -> None:
        def apply(s: ServiceSettings) -> ServiceSettings:
            _find(s, yw)
            return replace(s, webhooks=tuple(w for w in s.webhooks if w["sid"] != yw))

        self._change(sid, apply)

    def body(self, s: ServiceSettings, w: dict[str, Any], base: str) -> dict[str, Any]:
        return {"sid": w["sid"], "service_sid": s.sid, "account_sid": self._api.account_sid,
                "friendly_name": w["friendly_name"], "event_types": list(w["event_types"]),
                "status": w["status"], "version": w["version"], "webhook_url": w["url"],
                "webhook_method": "POST",
                "date_created": wire.iso(w["created_at"]), "date_updated": wire.iso(w["updated_at"]),
                "url": f"{base}/v2/Services/{s.sid}/Webhooks/{w['sid']}"}

    # -- internals ------------------------------------------------------------------------

    def _given(self, form: dict[str, str], event_types: Sequence[str]) -> dict[str, Any]:
        given: dict[str, Any] = {}
        if "FriendlyName" in form:
            name = form["FriendlyName"]
            problem = text_problem(name, MAX_FRIENDLY_NAME) if name else "must not be empty"
            if problem:
                raise wire.invalid("FriendlyName", problem)
            given["friendly_name"] = name
        if event_types:
            unknown = [t for t in event_types if t not in EVENT_TYPES]
            if unknown:  # Twilio's 60306 names "Invalid EventTypes" among its causes
                raise wire.TwilioError(60306, 400, f"Invalid EventTypes: {unknown[0][:40]!r} is not one of "
                                                   + ", ".join(EVENT_TYPES))
            given["event_types"] = sorted(set(event_types), key=EVENT_TYPES.index)
        if "WebhookUrl" in form:
            given["url"] = self._url(form["WebhookUrl"])
        for name, key, allowed in (("Status", "status", ("enabled", "disabled")),
                                   ("Version", "version", ("v1", "v2"))):
            if name in form:
                if form[name] not in allowed:
                    raise wire.invalid(name, "must be " + " or ".join(allowed))
                given[key] = form[name]
        return given

    def _url(self, url: str) -> str:
        """https (http to 127.0.0.1 or localhost only in the local stage), no credentials in it
        (an answer would repeat them), at most MAX_URL characters."""
        from chalicelib.settings.env import DEPLOYED_STAGES

        local = self._api._config.stage not in DEPLOYED_STAGES
        if len(url) > MAX_URL or not (_HTTPS.fullmatch(url) or (local and _LOCAL.fullmatch(url))):
            where = "https" if not local else "https, or http://127.0.0.1 or http://localhost locally"
            raise wire.invalid("WebhookUrl", f"must be an absolute URL with {where}, no user or password, "
                                             f"at most {MAX_URL} characters")
        if not local and _internal(url):
            raise wire.invalid("WebhookUrl", "must name a public host: the events consumer POSTs to it")
        return url





def _internal(url: str) -> bool:
    """A host the consumer must not be pointed at from the API: localhost, or an IP address
    that is not global (loopback, private, link-local such as 169.254.169.254, reserved). A
    name that resolves to one is not caught here (no DNS lookup on the request path)."""
    import ipaddress

    host = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0].lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False


def _only(form: dict[str, str], allowed: tuple[str, ...]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")


def _find(s: ServiceSettings, yw: str) -> dict[str, Any]:
    if _YW.fullmatch(yw):
        for webhook in s.webhooks:
            if webhook["sid"] == yw:
                return webhook
    raise wire.not_found("The Webhook")
