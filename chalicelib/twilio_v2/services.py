"""Verify Services: one per app on this deployment (its brand in the SMS, its code length),
stored in the verifications table and read through a per-container cache.

All Services live in one item, ``pk = "v2#services"``, one attribute per Service (``s_<sid>``,
its settings as JSON; ``deleted`` once deleted): listing them is one GetItem, no index, no
scan. A container reads the item at most once per ``CACHE_SECONDS`` (the hot path, a
verification's start or check, makes no extra round trip), so an update made elsewhere takes
effect everywhere within ``CACHE_SECONDS``; the container that writes sees its write at once.

The stage's own configuration is the default Service (``default_sid``): v1, the seed routes
and v2 calls on it share one set of verifications.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

from chalicelib.dynamodb import ConditionFailed, _DynamoDBTable

CACHE_SECONDS = 30.0
MISS_REFRESH_SECONDS = 1.0  # an unknown SID re-reads the item at most this often
MAX_SERVICES = 200  # one item holds them all (DynamoDB's 400 KB limit is far above this)
PK = "v2#services"
_WRITE_TRIES = 3
_CREATE = "attribute_not_exists(#s) AND (attribute_not_exists(service_count) OR service_count < :max)"


@dataclass(frozen=True)
class ServiceSettings:
    sid: str
    friendly_name: str
    code_length: int
    created_at: int
    updated_at: int
    default: bool = False

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "default"}, sort_keys=True)

    @staticmethod
    def from_json(raw: str) -> ServiceSettings | None:
        data = json.loads(raw)
        return ServiceSettings(**data) if isinstance(data, dict) and "sid" in data else None


class ServiceStore(_DynamoDBTable):
    def load(self) -> dict[str, ServiceSettings]:
        item = self._get(PK) or {}
        return _services(item)

    def create(self, service: ServiceSettings) -> None:
        # Retried after a lost answer (botocore): the condition then fails on our own write;
        # the item holding exactly our JSON is recognised as our success.
        attribute = "s_" + service.sid
        try:
            self._update(PK, "SET #s = :json ADD service_count :one", _CREATE,
                         {":json": service.to_json(), ":one": 1, ":max": MAX_SERVICES},
                         names={"#s": attribute})
        except ConditionFailed as exc:
            if (exc.item or {}).get(attribute, {}).get("S") != service.to_json():
                raise TooManyServices() from None

    def replace(self, old: ServiceSettings, new: ServiceSettings) -> bool:
        """Compare-and-set on the Service's JSON: two updates racing on different fields
        cannot lose one (the loser re-reads and applies its change again). False: it changed
        meanwhile (or is gone). A retried write that finds its own JSON there succeeded."""
        attribute = "s_" + old.sid
        try:
            self._update(PK, "SET #s = :new", "#s = :old", {":new": new.to_json(), ":old": old.to_json()},
                         names={"#s": attribute})
        except ConditionFailed as exc:
            return (exc.item or {}).get(attribute, {}).get("S") == new.to_json()
        return True

    def delete(self, sid: str) -> bool:
        """Leaves a tombstone, so a retried delete (after a lost answer) finds ``deleted`` and
        answers as the first did, while a SID never created stays unknown."""
        attribute = "s_" + sid
        try:
            self._update(PK, "SET #s = :deleted ADD service_count :minus",
                         "attribute_exists(#s) AND #s <> :deleted",
                         {":deleted": "deleted", ":minus": -1}, names={"#s": attribute})
        except ConditionFailed as exc:
            return (exc.item or {}).get(attribute, {}).get("S") == "deleted"
        return True


class TooManyServices(Exception):
    pass


def _services(item: dict[str, Any]) -> dict[str, ServiceSettings]:
    found = {}
    for name, value in item.items():
        if name.startswith("s_") and value.get("S") not in (None, "deleted"):
            service = ServiceSettings.from_json(value["S"])
            if service is not None:
                found[service.sid] = service
    return found


class ServiceCatalog:
    """The Services as this container knows them: the default one (from the stage's
    configuration) and the stored ones, re-read after CACHE_SECONDS."""

    def __init__(self, store: ServiceStore, default: ServiceSettings,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self.default = default
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._services: dict[str, ServiceSettings] = {}
        self._loaded_at: float | None = None
        self.loads = 0  # how many times the item was read (the bench's hit/miss rows)

    def all(self) -> list[ServiceSettings]:
        self._fresh(force=False)
        return [self.default, *sorted(self._services.values(), key=lambda s: (s.created_at, s.sid))]

    def get(self, sid: str) -> ServiceSettings | None:
        if sid == self.default.sid:
            return self.default
        self._fresh(force=False)
        if sid not in self._services and self._age() > MISS_REFRESH_SECONDS:
            self._fresh(force=True)  # created in another container moments ago
        return self._services.get(sid)

    def remember(self, service: ServiceSettings | None, sid: str) -> None:
        """This container's own write, seen at once."""
        with self._lock:
            if service is None:
                self._services.pop(sid, None)
            else:
                self._services[sid] = service

    def create(self, service: ServiceSettings) -> None:
        self._store.create(service)
        self.remember(service, service.sid)

    def update(self, sid: str, now: int, **changes: Any) -> ServiceSettings | None:
        for _ in range(_WRITE_TRIES):
            current = self.get(sid)
            if current is None:
                return None
            new = replace(current, updated_at=now, **changes)
            if self._store.replace(current, new):
                self.remember(new, sid)
                return new
            self._fresh(force=True)
        raise ConcurrentUpdate()

    def delete(self, sid: str) -> bool:
        deleted = self._store.delete(sid)
        self.remember(None, sid)
        return deleted

    def _age(self) -> float:
        return float("inf") if self._loaded_at is None else self._monotonic() - self._loaded_at

    def _fresh(self, force: bool) -> None:
        if not force and self._age() < CACHE_SECONDS:
            return
        services = self._store.load()
        with self._lock:
            self._services, self._loaded_at = services, self._monotonic()
            self.loads += 1


class ConcurrentUpdate(Exception):
    pass
