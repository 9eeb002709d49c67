"""Numbers and addresses erased by ``make forget`` (scripts/data/personal_data.py), as the table's
stream consumer must know them: the stream keeps every write's record (with the item's images,
so its ``to``) for 24 hours and cannot be edited, so a receiver that was down, or a batch being
retried, would still be POSTed the forgotten number's events.

The same holds for a TOTP identity's item (its events name the identity).

``forget`` writes, before it deletes anything, a tombstone per number or identity item it erases:
``pk = "fg#" + the item's key`` (a keyed hash: no number), removed by TTL after KEEP_SECONDS,
longer than the stream keeps a record. The consumer (chalicelib/events/posting.py ``deliver_batch``)
reads the tombstones of a batch's number items in one BatchGetItem and skips their records.
"""

from __future__ import annotations

from typing import Any, Callable

from chalicelib.dynamodb import StoreUnavailable

PREFIX = "fg#"
KEEP_SECONDS = 25 * 3600  # the stream's 24 hours, and an hour for a consumer behind
_BATCH = 100  # BatchGetItem's limit of keys per call


def tombstone_pk(item_pk: str) -> str:
    return PREFIX + item_pk


class Tombstones:
    """The tombstones on the table, through a client made on first use."""

    def __init__(self, client: Callable[[], Any], table: str) -> None:
        self._client = client
        self._table = table

    def forgotten(self, item_pks: set[str]) -> set[str]:
        """Which of the items (``v#...`` and ``t#...`` keys) were forgotten. A failure raises
        StoreUnavailable: the batch fails and is retried, rather than delivered unchecked."""
        from botocore.exceptions import BotoCoreError, ClientError

        found: set[str] = set()
        keys = [{"pk": {"S": tombstone_pk(pk)}} for pk in sorted(item_pks)]
        client = self._client()
        for i in range(0, len(keys), _BATCH):
            batch = keys[i:i + _BATCH]
            while batch:
                try:
                    answer = client.batch_get_item(RequestItems={self._table: {"Keys": batch}})
                except (BotoCoreError, ClientError) as exc:
                    raise StoreUnavailable(f"DynamoDB batch_get_item failed: {type(exc).__name__}") from None
                items = answer.get("Responses", {}).get(self._table, [])
                found |= {item["pk"]["S"][len(PREFIX):] for item in items}
                batch = answer.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
        return found
