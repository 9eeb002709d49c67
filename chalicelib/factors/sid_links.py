"""SID lookups: a 34-character SID (Twilio's 2 letters + 32 hex) to the key of the item it names.

Before 34-character SIDs, a Verification SID (``VE`` + 48 hex) held its number's item key
masked by a pad, and a Factor SID (``YF`` + 48 hex) its identity's: the server found the item
from the SID alone. Twilio's pattern leaves 128 bits, the size of the key alone, so a new SID
names its item through one small item of its own, keeping every item key as it was (a shorter
key in the SID would change the number's item key, its day's counters, its trust marker and
every TOTP identity's: a migration reading two keys for a retention period):

    pk = "sid#" + SID    k    the item key's hash part (a number key, an identity key)
                         svc  the Service's SID (absent: the stage's own app, v1's)
                         expires_at  the verification's TTL (a factor's: none, it lives for ever)

It is written in the same wave as the write that creates its object (never in a row: no round
trip added to a start), and read, strongly consistent, before a write that names the object by
that SID (one read added there; by number, nothing changes). It proves nothing: the object's
own write still names the SID (``vid = :vid``, a factor's attribute) and its Service in its
condition, so a lookup left behind by a refused create (an orphan) or one of another Service
simply finds nothing. Old 50-character ids keep their own way (the key inside), told apart by
their length, for as long as such objects can exist.
"""

from __future__ import annotations

from chalicelib.dynamodb import DynamoDBTable


def sid_pk(sid: str) -> str:
    return "sid#" + sid


class SidLinks(DynamoDBTable):
    """The lookup's two operations, on the stores' table (a mixin of their stores)."""

    def link_sid(self, sid: str, key: str, scope: str | None, expires_at: int | None) -> None:
        # Condition: no lookup for this SID yet (SIDs are random: a clash is a bug, refused).
        # A retry after a lost answer finds its own token on the item: a success.
        sets = "SET k = :k" + (", svc = :svc" if scope else "") + (", expires_at = :e" if expires_at else "")
        self._update(sid_pk(sid), sets, "attribute_not_exists(k)",
                     {":k": key, **({":svc": scope} if scope else {}),
                      **({":e": expires_at} if expires_at else {})}, token=True)

    def resolve_sid(self, sid: str) -> tuple[str, str] | None:
        """(item key, Service SID or "") of a 34-character SID; None: no such SID."""
        item = self._get(sid_pk(sid))
        if not item or "k" not in item:
            return None
        return item["k"]["S"], item.get("svc", {}).get("S", "")
