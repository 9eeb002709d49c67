"""Verification storage: an abstract store and its DynamoDB implementation.

One item per phone number (``pk = "v#" + keyed hash of the number``), so every rule about a
number ("one live verification", "resend not too soon", "attempts under the limit") is a
condition on one item, enforced by DynamoDB in one conditional write. No read-then-write.

A "live" verification is one that exists, is not canceled, not approved and not expired:
    attribute_exists(pk) AND expires_at > :now
    AND attribute_not_exists(canceled_at)
    AND (attribute_not_exists(guess_mac) OR guess_mac <> code_mac)
Approval is derived: the check write stores the MAC of the guess, and the verification is
approved when that equals the MAC of the code (compared in code with hmac.compare_digest).

Callers never see botocore errors: a failed condition raises ``ConditionFailed`` carrying the
item as it was (from ReturnValuesOnConditionCheckFailure, or one consistent read where the
server does not support that, e.g. dynalite); anything else raises ``StoreUnavailable``.
"""

from __future__ import annotations

import abc
from typing import Any

from chalicelib.models import SendAttempt, Verification

_LIVE = (
    "attribute_exists(pk) AND expires_at > :now AND attribute_not_exists(canceled_at)"
    " AND (attribute_not_exists(guess_mac) OR guess_mac <> code_mac)"
)


class ConditionFailed(Exception):
    """The write's condition did not hold; ``current`` is the item as it was, or None."""

    def __init__(self, current: Verification | None) -> None:
        super().__init__("condition failed")
        self.current = current


class StoreUnavailable(Exception):
    """The store could not be reached or refused the call for a reason other than a condition."""


def number_pk(number_key: str) -> str:
    return "v#" + number_key


class VerificationStore(abc.ABC):
    @abc.abstractmethod
    def create(self, number_key: str, v: Verification, now: int) -> None:
        """Store ``v`` unless the number has a live verification."""

    @abc.abstractmethod
    def resend(
        self, number_key: str, v: Verification, *, now: int, min_sent_at_ms: int, max_sends: int
    ) -> Verification:
        """Replace the code of the live verification ``v.id`` and count the send."""

    @abc.abstractmethod
    def undo_send(self, number_key: str, failed: Verification, previous: Verification | None) -> None:
        """After a failed delivery, put back what ``create``/``resend`` replaced."""

    @abc.abstractmethod
    def record_provider(self, number_key: str, v: Verification, provider: str) -> None:
        """After a failover, name the provider that actually took the latest send."""

    @abc.abstractmethod
    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int
    ) -> Verification:
        """Count one attempt on the live verification and store the guess; returns the item."""

    @abc.abstractmethod
    def cancel(self, number_key: str, verification_id: str, now: int) -> Verification:
        """Cancel the live verification ``verification_id``."""

    @abc.abstractmethod
    def get(self, number_key: str) -> Verification | None:
        """The number's verification, whatever its state (callers check expiry)."""


class DynamoDBVerificationStore(VerificationStore):
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name
        from botocore.exceptions import BotoCoreError, ClientError

        self._client_error = ClientError
        self._botocore_errors = (BotoCoreError, ClientError)

    # -- writes ---------------------------------------------------------------------------

    def create(self, number_key: str, v: Verification, now: int) -> None:
        # Condition: NOT live. Two concurrent first requests for one number both see "no
        # live item"; DynamoDB serialises the writes on the item and the second one fails
        # (it now sees the first's live verification) and becomes a resend.
        # An UpdateItem, not a PutItem, so that other attributes of the number's item
        # (counters added by later features) survive a new verification.
        self._update(
            number_key,
            "SET vid = :vid, #to = :to, channel = :channel, code_mac = :code_mac,"
            " created_at = :created, expires_at = :expires, sent_at_ms = :sent,"
            " send_count = :one, attempts = :zero, max_attempts = :max_attempts, sends = :sends"
            " REMOVE guess_mac, canceled_at",
            f"NOT ({_LIVE})",
            {
                ":vid": v.id,
                ":to": v.to,
                ":channel": v.channel,
                ":code_mac": v.code_mac,
                ":created": v.created_at,
                ":expires": v.expires_at,
                ":sent": v.sent_at_ms,
                ":one": 1,
                ":zero": 0,
                ":max_attempts": v.max_attempts,
                ":sends": list(v.sends),
                ":now": now,
            },
            names={"#to": "to"},
        )

    def resend(
        self, number_key: str, v: Verification, *, now: int, min_sent_at_ms: int, max_sends: int
    ) -> Verification:
        # Condition: the same verification, still live, not locked by failed checks, under
        # the send limit and past the resend interval. Concurrent resends race on the item;
        # only the first passes `sent_at_ms <= :min_sent`, so one interval gives one SMS.
        # The attempts counter is left alone: a resend never resets the guessing budget.
        return self._update(
            number_key,
            "SET code_mac = :code_mac, sent_at_ms = :sent, expires_at = :expires,"
            " channel = :channel, sends = list_append(sends, :send)"
            " ADD send_count :one",
            f"vid = :vid AND {_LIVE} AND attempts < max_attempts"
            " AND send_count < :max_sends AND sent_at_ms <= :min_sent",
            {
                ":vid": v.id,
                ":code_mac": v.code_mac,
                ":sent": v.sent_at_ms,
                ":expires": v.expires_at,
                ":channel": v.channel,
                ":send": [v.sends[-1]],
                ":one": 1,
                ":max_sends": max_sends,
                ":min_sent": min_sent_at_ms,
                ":now": now,
            },
            returns=True,
        )

    def undo_send(self, number_key: str, failed: Verification, previous: Verification | None) -> None:
        # Condition: the item still holds the code we failed to deliver. If anything wrote
        # since (a concurrent resend that did deliver), leave its state alone.
        try:
            if previous is None or previous.id != failed.id:
                self._call(
                    "delete_item",
                    Key={"pk": {"S": number_pk(number_key)}},
                    ConditionExpression="vid = :vid AND code_mac = :code_mac",
                    ExpressionAttributeValues=_marshal(
                        {":vid": failed.id, ":code_mac": failed.code_mac}
                    ),
                )
            else:
                self._update(
                    number_key,
                    "SET code_mac = :old_mac, sent_at_ms = :old_sent, expires_at = :old_expires,"
                    " channel = :old_channel"
                    f" REMOVE sends[{len(failed.sends) - 1}]"
                    " ADD send_count :minus_one",
                    "vid = :vid AND code_mac = :code_mac",
                    {
                        ":vid": failed.id,
                        ":code_mac": failed.code_mac,
                        ":old_mac": previous.code_mac,
                        ":old_sent": previous.sent_at_ms,
                        ":old_expires": previous.expires_at,
                        ":old_channel": previous.channel,
                        ":minus_one": -1,
                    },
                )
        except ConditionFailed:
            pass

    def record_provider(self, number_key: str, v: Verification, provider: str) -> None:
        # Condition: the item still holds this send's code. Only on failover (the first write
        # named the chain's first provider), so the common path stays one write.
        try:
            self._update(
                number_key,
                f"SET sends[{len(v.sends) - 1}].provider = :provider",
                "vid = :vid AND code_mac = :code_mac",
                {":vid": v.id, ":code_mac": v.code_mac, ":provider": provider},
            )
        except ConditionFailed:
            pass

    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int
    ) -> Verification:
        # Condition: live and under the attempt limit. The attempt is counted in the same
        # write that stores the guess, so N concurrent guesses get at most max_attempts
        # successful writes, hence at most max_attempts comparisons. A correct guess makes
        # the item approved (guess_mac = code_mac), which the condition then refuses: a code
        # succeeds once even under 20 concurrent correct submissions.
        condition = f"{_LIVE} AND attempts < max_attempts"
        values: dict[str, Any] = {":guess": guess_mac, ":one": 1, ":now": now}
        if verification_id is not None:
            condition = "vid = :vid AND " + condition
            values[":vid"] = verification_id
        return self._update(
            number_key, "SET guess_mac = :guess ADD attempts :one", condition, values, returns=True
        )

    def cancel(self, number_key: str, verification_id: str, now: int) -> Verification:
        # Condition: the same verification, live. Cancel and approve race on one item;
        # whichever write lands first makes the other's condition fail.
        return self._update(
            number_key,
            "SET canceled_at = :now",
            f"vid = :vid AND {_LIVE}",
            {":vid": verification_id, ":now": now},
            returns=True,
        )

    # -- reads ----------------------------------------------------------------------------

    def get(self, number_key: str) -> Verification | None:
        response = self._call(
            "get_item", Key={"pk": {"S": number_pk(number_key)}}, ConsistentRead=True
        )
        return _to_verification(response.get("Item"))

    # -- plumbing -------------------------------------------------------------------------

    def _update(
        self,
        number_key: str,
        update: str,
        condition: str,
        values: dict[str, Any],
        *,
        names: dict[str, str] | None = None,
        returns: bool = False,
    ) -> Verification:
        params: dict[str, Any] = {
            "Key": {"pk": {"S": number_pk(number_key)}},
            "UpdateExpression": update,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": _marshal(values),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        if names:
            params["ExpressionAttributeNames"] = names
        if returns:
            params["ReturnValues"] = "ALL_NEW"
        response = self._call("update_item", number_key=number_key, **params)
        return _to_verification(response.get("Attributes"))  # type: ignore[return-value]

    def _call(self, operation: str, number_key: str | None = None, **params: Any) -> dict:
        try:
            return getattr(self._client, operation)(TableName=self._table, **params)
        except self._client_error as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ConditionalCheckFailedException":
                if "Item" in exc.response:
                    raise ConditionFailed(_to_verification(exc.response["Item"])) from None
                # Servers without ReturnValuesOnConditionCheckFailure: one consistent read,
                # on the failure path only.
                current = self.get(number_key) if number_key is not None else None
                raise ConditionFailed(current) from None
            raise StoreUnavailable(f"DynamoDB {operation} failed: {error.get('Code')}") from None
        except self._botocore_errors as exc:
            raise StoreUnavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from None


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, SendAttempt):
        return {"M": {"channel": {"S": v.channel}, "provider": {"S": v.provider},
                      "at_ms": {"N": str(v.at_ms)}}}
    if isinstance(v, list):
        return {"L": [_value(x) for x in v]}
    if isinstance(v, int) and not isinstance(v, bool):
        return {"N": str(v)}
    return {"S": str(v)}


def _marshal(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: _value(v) for k, v in values.items()}


def _send_attempt(value: dict[str, Any]) -> SendAttempt:
    m = value["M"]
    return SendAttempt(m["channel"]["S"], m["provider"]["S"], int(m["at_ms"]["N"]))


def _to_verification(item: dict[str, Any] | None) -> Verification | None:
    if not item or "vid" not in item:
        return None
    plain = {k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in item.items() if "L" not in v}
    return Verification(
        id=plain["vid"],
        to=plain["to"],
        channel=plain["channel"],
        code_mac=plain["code_mac"],
        created_at=plain["created_at"],
        expires_at=plain["expires_at"],
        sent_at_ms=plain["sent_at_ms"],
        send_count=plain["send_count"],
        attempts=plain["attempts"],
        max_attempts=plain["max_attempts"],
        guess_mac=plain.get("guess_mac"),
        canceled_at=plain.get("canceled_at"),
        sends=tuple(_send_attempt(x) for x in item.get("sends", {}).get("L", [])),
    )
