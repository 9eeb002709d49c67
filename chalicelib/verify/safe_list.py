"""The account's Safe List (Twilio's ``/v2/SafeList/Numbers``: numbers that Fraud Guard and Geo
Permissions never block, https://www.twilio.com/docs/verify/api/safe-list): a safe-listed number
is a *trusted* number, as one approved within limits.TRUSTED_FOR_SECONDS is, so it passes the
conversion breakers' suspensions by the one rule that exists (Limiter.reserve_send's ``trusted``,
its headroom included), and it passes the stage's country allow-list (OTP_ALLOWED_COUNTRIES, the
Geo Permissions here). Every per-number and per-verification limit, the prefix's and country's
rate limits (with the trusted headroom), the budget and a Service's own AllowedCountries still hold.

One item per number, ``pk = "safe#" + HMAC(number)`` under the identity key: the table never holds
the number (the fetch answers with the path's number), and its key is the number's canonical
E.164 form, so no spelling of a number is a second entry. A start reads it only when a limit it
lifts has refused the send (a suspension, the prefix's or country's limit, the country list): the
refusal path pays one consistent GetItem, a start that passes pays nothing.
"""

from __future__ import annotations

from typing import Any

from chalicelib.dynamodb import ConditionFailed, DynamoDBTable

_SCOPE = "safe-list"  # the number key's scope: never a Service's (those are VA SIDs)


class SafeList(DynamoDBTable):
    def __init__(self, client: Any, table_name: str, hasher: Any) -> None:
        super().__init__(client, table_name)
        self._hasher = hasher

    def sid(self, e164: str) -> str:
        """The entry's SID (Twilio's ``GN``): derived from the number, so adding it again after
        a removal gives it the same SID, and nothing but the key is stored to answer it."""
        return self._hasher.derived_sid("GN", f"{_SCOPE}:{e164}")

    def _pk(self, e164: str) -> str:
        return safe_list_pk(self._hasher, e164)

    def add(self, e164: str, now: int) -> bool:
        """False: the number is on the list already (Twilio's 60411). The write's token makes a
        retry after a lost answer find its own write (True), not another request's."""
        try:
            self._update(self._pk(e164), "SET created_at = :now REMOVE expires_at",
                         "attribute_not_exists(created_at)", {":now": now}, token=True)
        except ConditionFailed:
            return False
        return True

    def contains(self, e164: str) -> bool:
        return "created_at" in (self._get(self._pk(e164)) or {})

    def remove(self, e164: str, now: int) -> bool:
        """False: it was not on the list (a second DELETE is Twilio's 20404). An UpdateItem, not
        a DeleteItem, so that its token lets a retry after a lost answer find its own removal
        (the item left, without ``created_at``, goes by TTL a day later)."""
        try:
            self._update(self._pk(e164), "SET expires_at = :expires REMOVE created_at",
                         "attribute_exists(created_at)", {":expires": now + 86_400}, token=True)
        except ConditionFailed:
            return False
        return True


def safe_list_pk(hasher: Any, e164: str) -> str:
    """A number's Safe List item (scripts/data/personal_data.py finds and erases it too)."""
    return "safe#" + hasher.number_key(e164, _SCOPE)
