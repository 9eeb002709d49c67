"""The DynamoDB plumbing every store shares: one table, one error translation, one item codec.

Callers never see botocore errors: a failed condition raises ``ConditionFailed`` carrying the
item as it was (from ReturnValuesOnConditionCheckFailure, or one consistent read where the
server does not support that, e.g. dynalite); anything else raises ``StoreUnavailable``.

Idempotent writes (``token=True``): the write also sets ``wid``, a random token of this one
write, and its condition refuses an item that already carries that token. botocore retries a
write whose answer was lost (a read timeout, a reset connection) with the same parameters, so
the same token: when the first attempt had landed, the retry's condition fails, the item
returned on failure carries our token, and the write is answered as the success it was (the
item as the retry found it, which is the item our write made unless another write landed in
the milliseconds between the two attempts). No extra round trip: the token rides in the write
and the item comes back with the failure. See docs/reliability.md.
"""

from __future__ import annotations

import re
import secrets
from typing import Any, Protocol, runtime_checkable


class ConditionFailed(Exception):
    """The write's condition did not hold; ``item`` is the raw item as it was (or None). Each
    store decodes it (the verification in a number's item: chalicelib/verify/items.py)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("condition failed")
        self.item = item


@runtime_checkable
class ItemValue(Protocol):
    """A value that says how DynamoDB stores it (a verification's send: chalicelib/verify/
    models.py's SendAttempt): the plumbing encodes it without knowing the capability's model."""

    def item_value(self) -> dict[str, Any]: ...


class StoreUnavailable(Exception):
    """The store could not be reached or refused the call for a reason other than a condition."""



class DynamoDBTable:
    """The base of every store on the table: one client, one table, the conditional update with
    its token, and the error translation above."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        from botocore.exceptions import BotoCoreError, ClientError

        self._client_error = ClientError
        self._botocore_errors = (BotoCoreError, ClientError)

    def _update(
        self,
        pk: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        returns: bool = False,
        old: bool = False,
        token: bool = False,
    ) -> dict[str, Any] | None:
        """One conditional UpdateItem; ``token``: idempotent under botocore's retries (see
        the module's docstring). With ``old`` and a retried write that had landed, the item
        returned is the one after the write (the one before it is gone)."""
        params: dict[str, Any] = {
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": update,
            "ExpressionAttributeValues": marshal(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if condition:
            params["ConditionExpression"] = condition
        if names:
            params["ExpressionAttributeNames"] = names
        if returns:
            params["ReturnValues"] = "ALL_NEW"
        elif old:  # the item as it was: free, part of the write
            params["ReturnValues"] = "ALL_OLD"
        if token:
            params = with_token(params, marshal({":wid": secrets.token_hex(8)})[":wid"])
        return self._call("update_item", pk=pk, **params).get("Attributes")

    def _get(self, pk: str) -> dict[str, Any] | None:
        return self._call("get_item", Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")

    def _call(self, operation: str, pk: str | None = None, **params: Any) -> dict:
        try:
            return getattr(self._client, operation)(TableName=self._table, **params)
        except self._client_error as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                if "Item" in exc.response:
                    item = exc.response["Item"]
                else:
                    # Servers without ReturnValuesOnConditionCheckFailure: one consistent
                    # read, on the failure path only.
                    item = self._get(pk) if pk is not None else None
                token = params.get("ExpressionAttributeValues", {}).get(":wid")
                if token is not None and item is not None and item.get("wid") == token:
                    return {"Attributes": item}  # our own write, landed before a retry: done
                raise ConditionFailed(item) from None
            raise StoreUnavailable(f"DynamoDB {operation} failed: {error.get('Code')}") from None
        except self._botocore_errors as exc:
            raise StoreUnavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from None


def with_token(params: dict[str, Any], token: dict[str, str]) -> dict[str, Any]:
    """``params`` of an UpdateItem made idempotent: it sets ``wid`` to ``token`` and its
    condition refuses an item that already holds that token (so a retry of a write that
    landed never applies it twice, e.g. counts one guess twice)."""
    update = params["UpdateExpression"]
    # SET may stand anywhere among the clauses; the first one gets the token.
    match = re.search(r"(^|\s)SET\s", update)
    if match:
        update = update[: match.end()] + "wid = :wid, " + update[match.end():]
    else:
        update = "SET wid = :wid " + update
    base, ours = params.get("ConditionExpression"), "(attribute_not_exists(wid) OR wid <> :wid)"
    # DynamoDB refuses redundant parentheses: the base is wrapped only when an OR at its top
    # level would otherwise bind looser than the AND.
    if base and _top_level_or(base):
        base = f"({base})"
    condition = f"{base} AND {ours}" if base else ours
    return {**params, "UpdateExpression": update, "ConditionExpression": condition,
            "ExpressionAttributeValues": {**params["ExpressionAttributeValues"], ":wid": token}}


def _top_level_or(expression: str) -> bool:
    depth = 0
    for word in re.findall(r"\(|\)|\bOR\b", expression):
        depth += {"(": 1, ")": -1}.get(word, 0)
        if word == "OR" and depth == 0:
            return True
    return False


# -- the value codec; a capability's own items are decoded by its store (verify/items.py) -------


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, ItemValue):
        return v.item_value()
    if isinstance(v, list):
        return {"L": [_value(x) for x in v]}
    if isinstance(v, dict):
        return {"M": {k: _value(x) for k, x in v.items()}}
    if isinstance(v, int) and not isinstance(v, bool):
        return {"N": str(v)}
    return {"S": str(v)}


def marshal(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: _value(v) for k, v in values.items()}
