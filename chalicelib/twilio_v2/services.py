"""Verify Services: one per app on this deployment (its brand in the SMS, its code length),
stored in the verifications table and read through a per-container cache.

Each Service is its own item, ``pk = "v2#service#<sid>"`` (its settings as JSON in
``settings``; the place for whatever a Service gains later). The index item, ``pk =
"v2#services"``, names the live ones (``i_<sid>``: its creation time) and counts them
(``service_count``, at most ``MAX_SERVICES``): listing is one GetItem and one BatchGetItem per
100 Services, no scan. A deleted Service leaves nothing: its item is deleted and its SID
removed from the index.

No transaction (dynalite, which the integration suite runs on, has none): each change is one
conditional write on the item that decides it, with the index kept in an order a stopped
function cannot harm. A create writes the index first (the bound holds before the Service
exists), then the Service's item; a delete deletes the item first (the Service is gone), then
its SID from the index. A SID left in the index without its item (a function stopped between
the two) is not a Service; the listing drops it once older than ``REPAIR_SECONDS``. Every write
recognises its own earlier success when botocore retries it after a lost answer: a create by
its own creation time in the index and its own JSON in the item, an update by its own JSON, a
delete by its SID still in the index (its second step not done yet). A second DELETE, the
first one finished, is 20404 as on Twilio.

A container reads a Service's item at most once per ``CACHE_SECONDS`` (the hot path, a
verification's start or check, makes no round trip while it is fresh), so an update made
elsewhere takes effect everywhere within ``CACHE_SECONDS``; the container that writes sees its
write at once. A SID this container does not know is looked up in the index, re-read at most
once per ``MISS_REFRESH_SECONDS``: a Service created elsewhere moments ago is found, and a flood
of made-up SIDs costs at most one read a second.

Earlier versions kept every Service in the index item itself (``s_<sid>``: its JSON, or
``deleted``). Reading the index moves each such Service to its own item and drops the
tombstones, once (``ServiceStore._move``); the count is the same before and after.

The stage's own configuration is the default Service (``default_sid``): v1, the seed routes
and v2 calls on it share one set of verifications.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Callable

from chalicelib.dynamodb import ConditionFailed, StoreUnavailable, DynamoDBTable

CACHE_SECONDS = 30.0
MISS_REFRESH_SECONDS = 1.0  # an unknown SID re-reads the index at most this often
REPAIR_SECONDS = 60  # an index entry without its item, older than this, is no create in progress
MAX_SERVICES = 200  # the index holds one short attribute per live Service (~9 KB at most)
PK = "v2#services"
_WRITE_TRIES = 3
_BATCH = 100  # BatchGetItem's limit of keys per call


def item_pk(sid: str) -> str:
    return f"v2#service#{sid}"


@dataclass(frozen=True)
class ServiceSettings:
    """A Service's settings: Twilio's Service parameters this service applies
    (twilio_v2/params.py reads them from a form; docs/twilio-verify.md says what each does)."""

    sid: str
    friendly_name: str
    code_length: int
    created_at: int
    updated_at: int
    default: bool = False
    lookup_enabled: bool = False  # the number's type in each verification's ``lookup``
    skip_sms_to_landlines: bool = False  # an SMS to a fixed line answers 60205
    do_not_share_warning_enabled: bool = False  # messages.DO_NOT_SHARE after the SMS's text
    psd2_enabled: bool = False  # a start takes Amount and Payee, a check must repeat them
    totp_issuer: str | None = None  # None: the FriendlyName
    totp_skew: int | None = None  # None: the stage's OTP_TOTP_WINDOW
    verify_event_subscription_enabled: bool = False
    # Extensions (Twilio has none of these; docs/twilio-verify.md names them):
    resend_wait: int = 0  # ResendWait: seconds between two sends of a verification (Twilio: none)
    allowed_countries: tuple[str, ...] | None = None  # AllowedCountries: None, the stage's list
    risk_check_opt_out_enabled: bool = False  # RiskCheckOptOutEnabled: a start may send RiskCheck=disable
    # Twilio's Service Rate Limits and their Buckets, as JSON objects (twilio_v2/rate_limits.py):
    # in the Service's own item, so a start reads them with the Service (no extra round trip).
    rate_limits: tuple[dict[str, Any], ...] = ()
    # Twilio's Webhooks (twilio_v2/webhooks.py), as JSON objects: read with the Service by the
    # events consumer (twilio_v2/webhook_delivery.py) through its cache.
    webhooks: tuple[dict[str, Any], ...] = ()
    default_template_sid: str | None = None  # DefaultTemplateSid: an HJ SID of GET /v2/Templates
    # Twilio's Messaging Configurations (twilio_v2/messaging.py): the SMS chain per country.
    messaging_configurations: tuple[dict[str, Any], ...] = ()
    custom_code_enabled: bool = False  # CustomCodeEnabled (Twilio's): a start may give its CustomCode
    # CustomCodeReported (an extension): False, its custom codes are checked elsewhere and never
    # reported, so their sends stay out of the conversion breakers' sample
    custom_code_reported: bool = True
    # Passkeys.* (Twilio's): a Passkeys Factor's defaults (twilio_v2/passkeys.py); all None: 60393
    passkey_rp_id: str | None = None
    passkey_rp_name: str | None = None
    passkey_rp_origins: tuple[str, ...] | None = None
    passkey_attachment: str | None = None  # platform | cross-platform | any
    passkey_discoverable: str | None = None  # required | preferred | discouraged
    passkey_user_verification: str | None = None  # required | preferred | discouraged

    def to_json(self) -> str:
        """The stored JSON. A field at its default is left out, so a Service stored before the
        field existed reads and writes back the very JSON it has (the update's compare-and-set
        compares JSON)."""
        defaults = {f.name: f.default for f in fields(ServiceSettings)}
        data = {k: v for k, v in asdict(self).items()
                if k != "default" and not (k in _OPTIONAL and v == defaults[k])}
        return json.dumps(data, sort_keys=True)

    @staticmethod
    def from_json(raw: str) -> ServiceSettings | None:
        data = json.loads(raw)
        if not isinstance(data, dict) or "sid" not in data:
            return None
        known = {f.name for f in fields(ServiceSettings)} - {"default"}
        settings = {k: v for k, v in data.items() if k in known}
        if isinstance(settings.get("allowed_countries"), list):  # JSON's list: the field's tuple
            settings["allowed_countries"] = tuple(settings["allowed_countries"])
        if isinstance(settings.get("passkey_rp_origins"), list):
            settings["passkey_rp_origins"] = tuple(settings["passkey_rp_origins"])
        for name in ("rate_limits", "webhooks", "messaging_configurations"):
            if isinstance(settings.get(name), list):
                settings[name] = tuple(settings[name])
        return ServiceSettings(**settings)


# Fields added after the first layout (sid, friendly_name, code_length, created_at, updated_at).
_OPTIONAL = frozenset(f.name for f in fields(ServiceSettings)) - {
    "sid", "friendly_name", "code_length", "created_at", "updated_at", "default"}


class ServiceStore(DynamoDBTable):
    def index(self) -> dict[str, int]:
        """The live SIDs and their creation times (moving any Service of the one-item layout)."""
        item = self._get(PK) or {}
        live = {name[2:]: int(value["N"]) for name, value in item.items() if name.startswith("i_")}
        for name, value in item.items():
            if name.startswith("s_") and "S" in value:
                moved = self._move(name[2:], value["S"])
                if moved is not None:
                    live[moved.sid] = moved.created_at
        return live

    def get(self, sid: str) -> ServiceSettings | None:
        return _settings(self._get(item_pk(sid)))

    def get_many(self, sids: list[str]) -> dict[str, ServiceSettings]:
        found: dict[str, ServiceSettings] = {}
        for i in range(0, len(sids), _BATCH):
            keys: list[dict[str, Any]] = [{"pk": {"S": item_pk(sid)}} for sid in sids[i:i + _BATCH]]
            while keys:
                answer = self._call("batch_get_item", RequestItems={
                    self._table: {"Keys": keys, "ConsistentRead": True}})
                for item in answer.get("Responses", {}).get(self._table, []):
                    service = _settings(item)
                    if service is not None:
                        found[service.sid] = service
                keys = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found

    def _call(self, operation: str, pk: str | None = None, **params: Any) -> dict:
        if operation == "batch_get_item":  # no TableName of its own: the table is in RequestItems
            try:
                return self._client.batch_get_item(**params)
            except self._botocore_errors as exc:
                raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
        return super()._call(operation, pk=pk, **params)

    def create(self, service: ServiceSettings) -> None:
        """The SID into the index (within the bound), then the Service's item."""
        names = {"#i": "i_" + service.sid, "#s": "s_" + service.sid}
        try:
            self._update(PK, "SET #i = :created ADD service_count :one",
                         "attribute_not_exists(#i) AND attribute_not_exists(#s) AND "
                         "(attribute_not_exists(service_count) OR service_count < :max)",
                         {":created": service.created_at, ":one": 1, ":max": MAX_SERVICES}, names=names)
        except ConditionFailed as exc:  # a retry finds its own creation time there
            if (exc.item or {}).get(names["#i"], {}).get("N") != str(service.created_at):
                raise TooManyServices() from None
        try:
            self._update(item_pk(service.sid), "SET settings = :json", "attribute_not_exists(pk)",
                         {":json": service.to_json()})
        except ConditionFailed as exc:
            if (exc.item or {}).get("settings", {}).get("S") != service.to_json():
                raise  # a random SID taken: never in practice

    def replace(self, old: ServiceSettings, new: ServiceSettings) -> bool:
        """Compare-and-set on the Service's JSON: two updates racing on different fields
        cannot lose one (the loser re-reads and applies its change again). False: it changed
        meanwhile (or is gone). A retried write that finds its own JSON there succeeded."""
        try:
            self._update(item_pk(old.sid), "SET settings = :new", "settings = :old",
                         {":new": new.to_json(), ":old": old.to_json()})
        except ConditionFailed as exc:
            return (exc.item or {}).get("settings", {}).get("S") == new.to_json()
        return True

    def delete(self, sid: str) -> bool:
        """The Service's item, then its SID from the index. False: there was no such Service.
        A retry whose first attempt deleted the item finds the SID still in the index (its
        own second step is to come) and answers as the first attempt did."""
        try:
            self._call("delete_item", pk=item_pk(sid), Key={"pk": {"S": item_pk(sid)}},
                       ConditionExpression="attribute_exists(pk)",
                       ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except ConditionFailed:
            if "i_" + sid not in (self._get(PK) or {}):  # the failure path only
                return False
        self.forget(sid, None)
        return True

    def forget(self, sid: str, created_at: int | None) -> None:
        """The SID out of the index (``created_at``: only if it is still that entry). Done
        already (a retry, a concurrent repair) is done."""
        names = {"#i": "i_" + sid}
        condition, values = "attribute_exists(#i)", {":minus": -1}
        if created_at is not None:
            condition, values = "#i = :created", {":minus": -1, ":created": created_at}
        try:
            self._update(PK, "REMOVE #i ADD service_count :minus", condition, values, names=names)
        except ConditionFailed:
            pass

    def _move(self, sid: str, raw: str) -> ServiceSettings | None:
        """A Service of the one-item layout to its own item (its count stays), or a tombstone
        dropped. Two containers moving it at once: each step's condition lets one do it."""
        service = None if raw == "deleted" else ServiceSettings.from_json(raw)
        if service is not None:
            try:
                self._update(item_pk(sid), "SET settings = :json", "attribute_not_exists(pk)",
                             {":json": service.to_json()})
            except ConditionFailed:
                pass  # moved already (and perhaps updated since: that is the Service now)
        values: dict[str, Any] = {":raw": raw}
        update, names = "REMOVE #s", {"#s": "s_" + sid}
        if service is not None:
            update = "SET #i = :created REMOVE #s"
            values[":created"], names["#i"] = service.created_at, "i_" + sid
        try:
            self._update(PK, update, "#s = :raw", values, names=names)
        except ConditionFailed:
            pass
        return service


class TooManyServices(Exception):
    pass


def _settings(item: dict[str, Any] | None) -> ServiceSettings | None:
    raw = (item or {}).get("settings", {}).get("S")
    return ServiceSettings.from_json(raw) if raw else None


class ServiceCatalog:
    """The Services as this container knows them: the default one (from the stage's
    configuration) and the stored ones, each re-read after CACHE_SECONDS."""

    def __init__(self, store: ServiceStore, default: ServiceSettings,
                 monotonic: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self._store = store
        self.default = default
        self._monotonic = monotonic
        self._wall = wall
        self._lock = threading.Lock()
        self._services: dict[str, tuple[ServiceSettings, float]] = {}  # sid -> (settings, read at)
        self._index: dict[str, int] = {}
        self._index_at: float | None = None
        self.loads = 0  # how many reads were made (the bench's hit/miss rows)

    def all(self) -> list[ServiceSettings]:
        index = self._fresh_index(CACHE_SECONDS)
        stale = [sid for sid in index if not self._cached(sid)]
        found = self._store.get_many(stale) if stale else {}
        now = self._monotonic()
        with self._lock:
            self.loads += bool(stale)
            for sid in stale:
                if sid in found:
                    self._services[sid] = (found[sid], now)
                else:
                    self._services.pop(sid, None)
        for sid in stale:
            if sid not in found and self._wall() - index[sid] > REPAIR_SECONDS:
                self._store.forget(sid, index[sid])  # left by a function stopped mid-way
        services = [entry[0] for sid in index if (entry := self._services.get(sid))]
        return [self.default, *sorted(services, key=lambda s: (s.created_at, s.sid))]

    def get(self, sid: str) -> ServiceSettings | None:
        if sid == self.default.sid:
            return self.default
        cached = self._cached(sid)
        if cached is not None:
            return cached
        if sid not in self._services and sid not in self._fresh_index(MISS_REFRESH_SECONDS):
            return None  # unknown: the index was read within MISS_REFRESH_SECONDS
        return self._read(sid)

    def remember(self, service: ServiceSettings | None, sid: str) -> None:
        """This container's own write, seen at once."""
        with self._lock:
            if service is None:
                self._services.pop(sid, None)
                self._index.pop(sid, None)
            else:
                self._services[sid] = (service, self._monotonic())
                self._index[sid] = service.created_at

    def create(self, service: ServiceSettings) -> None:
        self._fresh_index(CACHE_SECONDS)  # moves the one-item layout's Services first (their count)
        self._store.create(service)
        self.remember(service, service.sid)

    def update(self, sid: str, now: int, **changes: Any) -> ServiceSettings | None:
        current = self.get(sid)
        for _ in range(_WRITE_TRIES):
            if current is None:
                return None
            new = replace(current, updated_at=now, **changes)
            if self._store.replace(current, new):
                self.remember(new, sid)
                return new
            current = self._read(sid)
        raise ConcurrentUpdate()

    def change(self, sid: str, apply: Callable[[ServiceSettings], ServiceSettings]) -> ServiceSettings | None:
        """``apply`` to the Service, written by the compare-and-set of ``update``. ``apply``
        must be idempotent (twilio_v2/rate_limits.py: a create names its new SID, so applying
        it again to a Service that has it changes nothing): a retry after a lost answer that
        meets another change re-reads, applies again and finds nothing left to write.
        None: no such Service."""
        current = self.get(sid)
        for _ in range(_WRITE_TRIES):
            if current is None:
                return None
            new = apply(current)
            if new.to_json() == current.to_json() or self._store.replace(current, new):
                self.remember(new, sid)
                return new
            current = self._read(sid)
        raise ConcurrentUpdate()

    def delete(self, sid: str) -> bool:
        deleted = self._store.delete(sid)
        self.remember(None, sid)
        return deleted

    def expire(self) -> None:
        """Forget what was read (the next look-ups read again): for the bench and tests."""
        with self._lock:
            self._services.clear()
            self._index, self._index_at = {}, None

    def _cached(self, sid: str) -> ServiceSettings | None:
        entry = self._services.get(sid)
        if entry is None or self._monotonic() - entry[1] >= CACHE_SECONDS:
            return None
        return entry[0]

    def _read(self, sid: str) -> ServiceSettings | None:
        service = self._store.get(sid)
        with self._lock:
            self.loads += 1
        self.remember(service, sid)  # None: gone (or never written), the next look-up asks the index
        return service

    def _fresh_index(self, max_age: float) -> dict[str, int]:
        if self._index_at is not None and self._monotonic() - self._index_at < max_age:
            return self._index
        index = self._store.index()
        with self._lock:
            self._index, self._index_at = index, self._monotonic()
            self.loads += 1
        return index


class ConcurrentUpdate(Exception):
    pass
