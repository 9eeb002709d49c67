"""Twilio's Messaging Configurations of a Service (https://www.twilio.com/docs/verify/api/
verify-messaging-configurations; Twilio's OpenAPI document twilio_verify_v2's
``verify.v2.service.messaging_configuration``): for one country (or ``all``), the Messaging
Service (``MG``) whose sender sends the Service's SMS there. Here a Messaging Service is one of
the stage's configured SMS provider chains (SMS_PROVIDER, each chain of SMS_ROUTES, and each of
their providers alone), named by a SID derived from the chain (``messaging_services``), which
operators list with ``python -m scripts.deploy.messaging_services --stage STAGE``. So a Service
can send to the US by one provider and to India by another, inside what the stage configured
(its credentials, its failover): a configuration picks a chain, it never adds a provider.

Where they live: in the Service's own item (ServiceSettings.messaging_configurations), read with
the Service through its cache, each change the Service's one compare-and-set write
(ServiceCatalog.change, as rate_limits.py's): a change takes effect at once in the container that
made it and within services.CACHE_SECONDS (30 s) in every other. A start's SMS chain is then the
configuration of its number's country, else the Service's ``all``, else the stage's own
(Config.chain_for). Calls and WhatsApp keep the stage's chains (Twilio's configuration is for SMS).

Twilio's errors: 60213 a configuration for that country exists already
(https://www.twilio.com/docs/api/errors/60213); 60200 a Country that is no ISO 3166 region nor
``all``, a MessagingServiceSid of another shape or that names no chain here; 20404 none for that
country.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from typing import Any, Iterable, Mapping

from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.service_resources import ServiceResources
from chalicelib.twilio_v2.services import ServiceSettings

MAX_CONFIGURATIONS = 250  # per Service: every country once, and ``all``
_MG = re.compile(r"MG[0-9a-fA-F]{32}", re.ASCII)  # the document's pattern
_REGION = re.compile(r"[A-Z]{2}", re.ASCII)
LIST_COMMAND = "python -m scripts.deploy.messaging_services --stage STAGE"


def messaging_service_sid(chain: tuple[str, ...]) -> str:
    """A chain's ``MG`` SID: derived from its providers in order (no secret: the names are the
    stage's configuration), so it is stable across deploys while the chain is."""
    return "MG" + hashlib.sha256(("messaging-service:" + ",".join(chain)).encode()).hexdigest()[:32]


Chain = tuple[str, ...]


def messaging_services(default: Chain, routes: Mapping[str, Chain]) -> dict[str, Chain]:
    """The stage's SMS chains as Messaging Services: SMS_PROVIDER's chain, each of SMS_ROUTES',
    then each of their providers alone, by SID (in that order, each once)."""
    chains: list[tuple[str, ...]] = [default, *routes.values()]
    singles = [(name,) for chain in list(chains) for name in chain]
    found: dict[str, tuple[str, ...]] = {}
    for chain in _unique([*chains, *singles]):
        found[messaging_service_sid(chain)] = chain
    return found


def _unique(chains: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    return list(dict.fromkeys(chains))


def service_routes(service: ServiceSettings, chains: Mapping[str, Chain]) -> tuple[tuple[str, Chain], ...]:
    """The Service's SMS chains by region (``*``: its ``all``), as a start's provider pool takes
    them. A configuration whose Messaging Service the stage no longer has (its chain changed)
    is left out: the stage's chain applies there until it is updated."""
    return tuple(sorted(("*" if c["country"] == "all" else c["country"], chains[c["messaging_service_sid"]])
                        for c in service.messaging_configurations if c["messaging_service_sid"] in chains))


class MessagingResources(ServiceResources):
    WHAT = "its Messaging Configurations"

    def __init__(self, api: Any, chains: Mapping[str, tuple[str, ...]]) -> None:
        super().__init__(api)
        self.chains = chains  # MG SID -> the stage's provider chain

    def create(self, sid: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("Country", "MessagingServiceSid"))
        country = _country(form.get("Country"))
        mg = self._messaging_service(form)
        now, token = self._now(), secrets.token_hex(8)  # this create's own mark

        def apply(s: ServiceSettings) -> ServiceSettings:
            existing = _get(s, country)
            if existing is not None:
                if existing.get("token") == token:
                    return s  # our own write, landed before a retry
                raise wire.TwilioError(60213, 400, "A Messaging Configuration already exists for the given "
                                                   "country")
            if len(s.messaging_configurations) >= MAX_CONFIGURATIONS:
                raise wire.invalid("Country", f"a Service has at most {MAX_CONFIGURATIONS} configurations")
            made = {"country": country, "messaging_service_sid": mg, "created_at": now, "updated_at": now,
                    "token": token}
            return replace(s, messaging_configurations=(*s.messaging_configurations, made))

        service = self._change(sid, apply)
        return self.body(service, _find(service, country), base)

    def list(self, sid: str, query: dict[str, str], base: str) -> dict[str, Any]:
        service = self._service(sid)
        items = [self.body(service, c, base) for c in service.messaging_configurations]
        return self._api.page("messaging_configurations", items, query, base,
                              f"/v2/Services/{sid}/MessagingConfigurations")

    def fetch(self, sid: str, country: str, base: str) -> dict[str, Any]:
        service = self._service(sid)
        return self.body(service, _find(service, _path_country(country)), base)

    def update(self, sid: str, country: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("MessagingServiceSid",))
        country = _path_country(country)
        mg = self._messaging_service(form)
        now = self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            current = _find(s, country)
            if current["messaging_service_sid"] == mg:
                return s
            changed = {**current, "messaging_service_sid": mg, "updated_at": now}
            return replace(s, messaging_configurations=tuple(
                changed if c["country"] == country else c for c in s.messaging_configurations))

        service = self._change(sid, apply)
        return self.body(service, _find(service, country), base)

    def delete(self, sid: str, country: str) -> None:
        country = _path_country(country)

        def apply(s: ServiceSettings) -> ServiceSettings:
            _find(s, country)
            return replace(s, messaging_configurations=tuple(
                c for c in s.messaging_configurations if c["country"] != country))

        self._change(sid, apply)

    def body(self, s: ServiceSettings, c: dict[str, Any], base: str) -> dict[str, Any]:
        return {"account_sid": self._api.account_sid, "service_sid": s.sid, "country": c["country"],
                "messaging_service_sid": c["messaging_service_sid"],
                "date_created": wire.iso(c["created_at"]), "date_updated": wire.iso(c["updated_at"]),
                "url": f"{base}/v2/Services/{s.sid}/MessagingConfigurations/{c['country']}"}

    def _messaging_service(self, form: dict[str, str]) -> str:
        mg = form.get("MessagingServiceSid")
        if not mg:
            raise wire.invalid("MessagingServiceSid", "is required")
        if not _MG.fullmatch(mg):
            raise wire.invalid("MessagingServiceSid", "must match ^MG[0-9a-fA-F]{32}$")
        for known in self.chains:
            if known.lower() == mg.lower():
                return known
        raise wire.invalid("MessagingServiceSid",
                           f"names none of this stage's provider chains ({LIST_COMMAND} lists them)")



def _only(form: dict[str, str], allowed: tuple[str, ...]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")


def _country(raw: str | None) -> str:
    """An ISO 3166-1 alpha-2 region that phonenumbers knows (a number's region is one), or
    ``all`` (Twilio's global configuration), as Twilio spells them: upper case, ``all``."""
    import phonenumbers  # loaded by chalicelib.channels.phone on every start already

    if not raw:
        raise wire.invalid("Country", "is required")
    if raw.lower() == "all":
        return "all"
    region = raw.upper()
    if not _REGION.fullmatch(region) or region not in phonenumbers.SUPPORTED_REGIONS:
        raise wire.invalid("Country", "an ISO 3166-1 alpha-2 country code (US, IN) or all")
    return region


def _path_country(raw: str) -> str:
    try:
        return _country(raw)
    except wire.TwilioError:
        raise wire.not_found("The Messaging Configuration") from None


def _get(s: ServiceSettings, country: str) -> dict[str, Any] | None:
    return next((c for c in s.messaging_configurations if c["country"] == country), None)


def _find(s: ServiceSettings, country: str) -> dict[str, Any]:
    found = _get(s, country)
    if found is None:
        raise wire.not_found("The Messaging Configuration")
    return found
