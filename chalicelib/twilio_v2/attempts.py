"""Twilio's Verification Attempts (``GET /v2/Attempts``, ``/v2/Attempts/{VL}``) and their
Summary (``GET /v2/Attempts/Summary``) over chalicelib/verify/attempts.py. On unless the stage sets
OTP_ATTEMPTS=false; then these answer 20404 naming the variable.

Dates are Twilio's ``YYYY-MM-DDTHH:MM:SSZ``; a range covers at most MAX_DAYS days and
defaults to the last day. The list pages as Twilio's does: ``next_page_url`` carries
``PageToken`` (where the page stopped) and the SDKs follow it as given; a page may hold fewer
than ``PageSize`` when filters skip many attempts (each page reads a bounded part of the
index). The summary's counters are kept per UTC day, so its date filters count whole days."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import re
from urllib.parse import urlencode

from chalicelib.verify import DAY, Attempt
from chalicelib.twilio_v2 import wire
from chalicelib.twilio_v2.channels import CHANNEL_NAMES, CHANNELS

MAX_DAYS = 31
_LIST = {"DateCreatedAfter", "DateCreatedBefore", "ChannelData.To", "Country", "Channel", "VerifyServiceSid",
         "VerificationSid", "Status", "PageSize", "Page", "PageToken"}
_SUMMARY = {"DateCreatedAfter", "DateCreatedBefore", "Country", "Channel", "VerifyServiceSid",
            "DestinationPrefix"}
# Twilio's enum for the Channel filter (twilio_verify_v2: verification_attempt_enum_channels and
# verification_attempts_summary_enum_channels). This service never sends by rbm: that filter finds nothing.
_FILTERS = ("sms", "call", "email", "whatsapp", "rbm")
_TOKEN = re.compile(r"PT[0-9]{13}#VL[0-9a-f]{32}|PT[0-9]{13}#")  # "PT" + a position (verify/attempts.py)


class AttemptResources:
    def __init__(self, api: Any, log: Any, now: Any = time.time) -> None:
        self._api = api
        self._log = log
        self._now = now

    def list(self, query: dict[str, str], base: str) -> dict[str, Any]:
        log = self._require(query, _LIST)
        self._days(query)  # the range's bounds checked
        scope = self._scope(query.get("VerifyServiceSid"))
        channel = _channel(query.get("Channel"))
        status = query.get("Status")
        if status not in (None, "converted", "unconverted"):
            raise wire.invalid("Status", "converted or unconverted")
        size = wire.optional_int(query, "PageSize", 1, 1000) or 50
        number = wire.optional_int(query, "Page", 0, 1_000_000) or 0
        token = query.get("PageToken")
        if token is not None and not _TOKEN.fullmatch(token):
            raise wire.invalid("PageToken", "a token from this list's next_page_url")
        low, high = _bounds(query, self._now())
        country = query.get("Country", "").upper() or None

        def keep(a: Attempt) -> bool:
            return ((scope is None or a.scope == scope) and (channel is None or a.channel == channel)
                    and low <= a.at < high and (country is None or a.country == country)
                    and query.get("ChannelData.To", a.to) == a.to
                    and query.get("VerificationSid", a.verification_id) == a.verification_id
                    and (status is None or (status == "converted") == a.converted))

        before = token[2:] if token else None
        low_ms, high_ms = int(low * 1000), int(high * 1000)
        if "VerificationSid" in query:  # its attempts by key: one page
            found = sorted((a for a in log.of_verification(query["VerificationSid"])
                            if keep(a) and (before is None or a.position < before)),
                           key=lambda a: a.position, reverse=True)
            chunk, after = found[:size], (found[size - 1].position if len(found) > size else None)
        else:
            chunk, after = log.page(low_ms, high_ms, before, size, keep)
        filters = {k: v for k, v in query.items() if k not in ("PageSize", "Page", "PageToken")}

        def url(page: int, at: str | None) -> str:
            return f"{base}/v2/Attempts?" + urlencode(
                {**filters, "PageSize": size, "Page": page, **({"PageToken": "PT" + at} if at else {})})

        return {"attempts": [self.body(a, base) for a in chunk], "meta": {
            "page": number, "page_size": size, "first_page_url": url(0, None), "url": url(number, before),
            "key": "attempts", "previous_page_url": None,  # forward only (the SDKs follow next)
            "next_page_url": url(number + 1, after) if after else None}}

    def fetch(self, sid: str, base: str) -> dict[str, Any]:
        log = self._require({}, _LIST)
        attempt = log.get(sid)
        if attempt is None:
            raise wire.not_found("The Attempt")
        return self.body(attempt, base)

    def summary(self, query: dict[str, str], base: str) -> dict[str, Any]:
        log = self._require(query, _SUMMARY)
        if "DestinationPrefix" in query:
            raise wire.invalid("DestinationPrefix", "not supported by this service")
        scope = self._scope(query.get("VerifyServiceSid"))
        channel = _channel(query.get("Channel"))
        country = query.get("Country", "").upper() or None
        counts = log.counts(self._days(query), lambda s, cc, ch: (scope is None or s == scope)
                            and (country is None or cc == country) and (channel is None or ch == channel))
        rate = 100 * counts.converted / counts.total if counts.total else 0
        return {"account_sid": self._api.account_sid, "total_attempts": counts.total,
                "total_converted": counts.converted, "total_unconverted": counts.total - counts.converted,
                "conversion_rate_percentage": f"{rate:.2f}", "url": f"{base}/v2/Attempts/Summary"}

    def body(self, a: Attempt, base: str) -> dict[str, Any]:
        service = a.scope or self._api.catalog.default.sid
        return {"sid": a.sid, "account_sid": self._api.account_sid, "service_sid": service,
                "verification_sid": a.verification_id, "date_created": wire.iso(a.at),
                "date_updated": wire.iso(a.at),
                "conversion_status": "converted" if a.converted else "unconverted",
                "channel": CHANNEL_NAMES.get(a.channel, a.channel),
                "price": {"value": None, "currency": None},  # the providers report none at send time
                "channel_data": {"to": a.to, "country_code": a.country},
                "url": f"{base}/v2/Attempts/{a.sid}"}

    def _require(self, query: dict[str, str], allowed: set[str]) -> Any:
        if self._log is None:
            raise wire.not_found("The Attempts log (OTP_ATTEMPTS=false turned it off)")
        for name in sorted(query):
            if name not in allowed:
                raise wire.invalid(name, "not supported by this service")
        return self._log

    def _scope(self, sid: str | None) -> str | None:
        if sid is None:
            return None
        return "" if self._api.app(sid)[0].default else sid

    def _days(self, query: dict[str, str]) -> range:
        low, high = _bounds(query, self._now())
        if high <= low:
            raise wire.invalid("DateCreatedBefore", "must be after DateCreatedAfter")
        first, last = int(low) // DAY, int(high - 1) // DAY
        if last - first + 1 > MAX_DAYS:
            raise wire.invalid("DateCreatedAfter", f"a range covers at most {MAX_DAYS} days")
        return range(first, last + 1)


def _bounds(query: dict[str, str], now: float) -> tuple[float, float]:
    high = _date(query, "DateCreatedBefore") or now + 1
    low = _date(query, "DateCreatedAfter") or high - DAY
    return low, high


def _date(query: dict[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise wire.invalid(name, "a date such as 2026-11-30T08:00:00Z") from None


def _channel(raw: str | None) -> str | None:
    if raw is None:
        return None
    if raw not in _FILTERS:
        raise wire.invalid("Channel", "one of " + ", ".join(_FILTERS))
    return CHANNELS.get(raw, raw)
