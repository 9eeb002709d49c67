"""Twilio's Service Rate Limits (``RK``) and their Buckets (``BL``): create, list, fetch,
update and delete under a Service, and the ``RateLimits`` a start names
(https://www.twilio.com/docs/verify/api/service-rate-limits, .../service-rate-limit-buckets,
the guide .../programmable-rate-limits; Twilio's OpenAPI document twilio_verify_v2's
RateLimit and Bucket schemas).

Where they live: in the Service's own item, as part of its settings (ServiceSettings.
rate_limits), so a start reads them with the Service through its cache (no extra round trip)
and every change is the Service's one compare-and-set write (ServiceCatalog.change): its
condition is the Service's whole JSON, so a rate limit or bucket named from another Service
is not in it (20404), and two changes racing cannot lose one. A create names its new SID
before the write, so applying it again (botocore's retry after a lost answer that meets
another change) finds it there: one resource, not two. A change takes effect at once in the
container that made it and within services.CACHE_SECONDS (30 s) in every other.

Twilio's errors (https://www.twilio.com/docs/verify/api/error-codes): 60207 max rate limits per
Service, 60208 a UniqueName taken, 60209 a UniqueName of other than letters, digits, ``-``,
``_`` and ``.``, 60210 max buckets per rate limit, 60211 a bucket with that Interval already.
Twilio publishes the codes, not the numbers: MAX_RATE_LIMITS and MAX_BUCKETS are this
service's (docs/twilio-verify.md), as are the bounds of Max, Interval and the lengths.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from chalicelib.channels import text_problem
from chalicelib.verify import Bucket, BucketCount
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.service_resources import ServiceResources
from chalicelib.twilio_v2.services import ServiceSettings

MAX_RATE_LIMITS = 5  # per Service (60207); a start counts each it names in one wave (concurrency.py)
MAX_BUCKETS = 5  # per rate limit (60210): all counted in one write
MAX_UNIQUE_NAME, MAX_DESCRIPTION, MAX_KEY = 64, 256, 256
MAX_MAX, MAX_INTERVAL = 1_000_000, 30 * 86_400
_UNIQUE_NAME = re.compile(r"[A-Za-z0-9._-]+", re.ASCII)  # 60209's alphabet
_SHAPE = "must be a JSON object of a Rate Limit's UniqueName and its key"
_RK = re.compile(r"RK[0-9a-fA-F]{32}", re.ASCII)
_BL = re.compile(r"BL[0-9a-fA-F]{32}", re.ASCII)


def _only(form: dict[str, str], allowed: tuple[str, ...]) -> None:
    for name in sorted(form):
        if name not in allowed:
            raise wire.invalid(name, "not supported by this service")


class RateLimitResources(ServiceResources):
    WHAT = "its Rate Limits"

    # -- Rate Limits ----------------------------------------------------------------------

    def create(self, sid: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("UniqueName", "Description"))
        name = form.get("UniqueName")
        if not name:
            raise wire.invalid("UniqueName", "is required")
        if len(name) > MAX_UNIQUE_NAME or not _UNIQUE_NAME.fullmatch(name):
            raise wire.TwilioError(60209, 400, f"UniqueName format is invalid: 1-{MAX_UNIQUE_NAME} letters, "
                                               "digits, -, _ or .")
        description = _description(form)
        new_sid, now = wire.new_sid("RK"), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            if any(r["sid"] == new_sid for r in s.rate_limits):
                return s  # our own write, landed before a retry
            if any(r["unique_name"] == name for r in s.rate_limits):
                raise wire.TwilioError(60208, 400, "Rate limit with that UniqueName already exists")
            if len(s.rate_limits) >= MAX_RATE_LIMITS:
                raise wire.TwilioError(60207, 400, f"Max rate limits per service reached ({MAX_RATE_LIMITS})")
            limit: dict[str, Any] = {"sid": new_sid, "unique_name": name, "description": description,
                     "created_at": now, "updated_at": now, "buckets": []}
            return replace(s, rate_limits=(*s.rate_limits, limit))

        service = self._change(sid, apply)
        return self.body(service, _find(service, new_sid), base)

    def list(self, sid: str, query: dict[str, str], base: str) -> dict[str, Any]:
        service = self._service(sid)
        items = [self.body(service, r, base) for r in service.rate_limits]
        return self._api.page("rate_limits", items, query, base, f"/v2/Services/{sid}/RateLimits")

    def fetch(self, sid: str, rk: str, base: str) -> dict[str, Any]:
        service = self._service(sid)
        return self.body(service, _find(service, rk), base)

    def update(self, sid: str, rk: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("Description",))
        description, now = _description(form), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            limit = _find(s, rk)
            if "Description" not in form or limit["description"] == description:
                return s
            return _with(s, {**limit, "description": description, "updated_at": now})

        service = self._change(sid, apply)
        return self.body(service, _find(service, rk), base)

    def delete(self, sid: str, rk: str) -> None:
        def apply(s: ServiceSettings) -> ServiceSettings:
            _find(s, rk)
            return replace(s, rate_limits=tuple(r for r in s.rate_limits if r["sid"] != rk))

        self._change(sid, apply)

    # -- Buckets --------------------------------------------------------------------------

    def create_bucket(self, sid: str, rk: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("Max", "Interval"))
        given = _bounds(form)
        if len(given) < 2:
            raise wire.invalid("Interval" if "max" in given else "Max", "is required")
        new_sid, now = wire.new_sid("BL"), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            limit = _find(s, rk)
            buckets = limit["buckets"]
            if any(b["sid"] == new_sid for b in buckets):
                return s
            if len(buckets) >= MAX_BUCKETS:
                raise wire.TwilioError(60210, 400, f"Max Buckets per Rate limit reached ({MAX_BUCKETS})")
            _interval_free(buckets, given["interval"], new_sid)
            bucket = {"sid": new_sid, **given, "created_at": now, "updated_at": now}
            return _with(s, {**limit, "buckets": [*buckets, bucket]})

        service = self._change(sid, apply)
        return self.bucket_body(service, rk, _bucket(_find(service, rk), new_sid), base)

    def list_buckets(self, sid: str, rk: str, query: dict[str, str], base: str) -> dict[str, Any]:
        service = self._service(sid)
        items = [self.bucket_body(service, rk, b, base) for b in _find(service, rk)["buckets"]]
        return self._api.page("buckets", items, query, base, f"/v2/Services/{sid}/RateLimits/{rk}/Buckets")

    def fetch_bucket(self, sid: str, rk: str, bl: str, base: str) -> dict[str, Any]:
        service = self._service(sid)
        return self.bucket_body(service, rk, _bucket(_find(service, rk), bl), base)

    def update_bucket(self, sid: str, rk: str, bl: str, form: dict[str, str], base: str) -> dict[str, Any]:
        _only(form, ("Max", "Interval"))
        given, now = _bounds(form), self._now()

        def apply(s: ServiceSettings) -> ServiceSettings:
            limit = _find(s, rk)
            bucket = _bucket(limit, bl)
            if all(bucket[k] == v for k, v in given.items()):
                return s
            if "interval" in given:
                _interval_free(limit["buckets"], given["interval"], bl)
            changed = {**bucket, **given, "updated_at": now}
            buckets = [changed if b["sid"] == bl else b for b in limit["buckets"]]
            return _with(s, {**limit, "buckets": buckets})

        service = self._change(sid, apply)
        return self.bucket_body(service, rk, _bucket(_find(service, rk), bl), base)

    def delete_bucket(self, sid: str, rk: str, bl: str) -> None:
        def apply(s: ServiceSettings) -> ServiceSettings:
            limit = _find(s, rk)
            _bucket(limit, bl)
            return _with(s, {**limit, "buckets": [b for b in limit["buckets"] if b["sid"] != bl]})

        self._change(sid, apply)

    # -- bodies ---------------------------------------------------------------------------

    def body(self, s: ServiceSettings, r: dict[str, Any], base: str) -> dict[str, Any]:
        url = f"{base}/v2/Services/{s.sid}/RateLimits/{r['sid']}"
        return {"sid": r["sid"], "service_sid": s.sid, "account_sid": self._api.account_sid,
                "unique_name": r["unique_name"], "description": r["description"],
                "date_created": wire.iso(r["created_at"]), "date_updated": wire.iso(r["updated_at"]),
                "url": url, "links": {"buckets": f"{url}/Buckets"}}

    def bucket_body(self, s: ServiceSettings, rk: str, b: dict[str, Any], base: str) -> dict[str, Any]:
        return {"sid": b["sid"], "rate_limit_sid": rk, "service_sid": s.sid,
                "account_sid": self._api.account_sid, "max": b["max"], "interval": b["interval"],
                "date_created": wire.iso(b["created_at"]), "date_updated": wire.iso(b["updated_at"]),
                "url": f"{base}/v2/Services/{s.sid}/RateLimits/{rk}/Buckets/{b['sid']}"}

    # -- internals ------------------------------------------------------------------------





def named(service: ServiceSettings, raw: str | None, key_mac: Any) -> tuple[BucketCount, ...]:
    """A start's ``RateLimits`` (a JSON object: a rate limit's UniqueName -> the key's value,
    as twilio-python's ``serialize.object`` sends it) as the counters to count; 60200 naming
    ``RateLimits`` for anything else, a name the Service has no rate limit of included.
    ``key_mac(service_sid, rate_limit_sid, value)``: the keyed hash the counter is stored by."""
    if raw is None or raw.strip() in ("", "{}"):
        return ()
    try:
        given = json.loads(raw)
    except (ValueError, RecursionError):
        raise wire.invalid("RateLimits", _SHAPE) from None
    if not isinstance(given, dict):
        raise wire.invalid("RateLimits", _SHAPE)
    limits = {r["unique_name"]: r for r in service.rate_limits}
    counts = []
    for name in sorted(given):
        value = given[name]
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise wire.invalid("RateLimits", f"the key of {name[:MAX_UNIQUE_NAME]!r} must be a string")
        value = str(value)
        if name not in limits:
            raise wire.invalid("RateLimits", f"this Service has no Rate Limit named "
                                             f"{name[:MAX_UNIQUE_NAME]!r}")
        if not value or len(value) > MAX_KEY:
            raise wire.invalid("RateLimits", f"a key of 1-{MAX_KEY} characters for {name!r}")
        limit = limits[name]
        counts.append(BucketCount(
            "rl#rk#" + key_mac(service.sid, limit["sid"], value),
            tuple(Bucket(b["sid"][-8:], b["max"], b["interval"]) for b in limit["buckets"])))
    return tuple(counts)


def _description(form: dict[str, str]) -> str | None:
    description = form.get("Description")
    if description:
        problem = text_problem(description, MAX_DESCRIPTION)
        if problem:
            raise wire.invalid("Description", problem)
    return description or None


def _bounds(form: dict[str, str]) -> dict[str, int]:
    given: dict[str, int] = {}
    value = wire.optional_int(form, "Max", 1, MAX_MAX)
    if value is not None:
        given["max"] = value
    value = wire.optional_int(form, "Interval", 1, MAX_INTERVAL)
    if value is not None:
        given["interval"] = value
    return given


def _interval_free(buckets: list[dict[str, Any]], interval: int, own: str) -> None:
    if any(b["interval"] == interval and b["sid"] != own for b in buckets):
        raise wire.TwilioError(60211, 400, "Bucket with the given Interval already exists")


def _find(s: ServiceSettings, rk: str) -> dict[str, Any]:
    if _RK.fullmatch(rk):
        for limit in s.rate_limits:
            if limit["sid"] == rk:
                return limit
    raise wire.not_found("The Rate Limit")


def _bucket(limit: dict[str, Any], bl: str) -> dict[str, Any]:
    if _BL.fullmatch(bl):
        for bucket in limit["buckets"]:
            if bucket["sid"] == bl:
                return bucket
    raise wire.not_found("The Bucket")


def _with(s: ServiceSettings, limit: dict[str, Any]) -> ServiceSettings:
    return replace(s, rate_limits=tuple(limit if r["sid"] == limit["sid"] else r for r in s.rate_limits))
