"""Storage: abstract stores and their DynamoDB implementations, on one table.

Verifications: one item per phone number (``pk = "v#" + keyed hash of the number``), so every
rule about a number ("one live verification", "resend not too soon", "attempts under the
limit", "starts and checks per day") is a condition on one item, enforced by DynamoDB in one
conditional write. No read-then-write anywhere.

A "live" verification is one that exists, is not canceled, not approved and not expired:
    attribute_exists(vid) AND code_expires_at > :now AND attribute_not_exists(canceled_at)
    AND <the last guess is none of its live codes> (chalicelib/verify/live_codes.py)
Every code a verification sent stays valid until it ends (live_codes.py: the item holds their
MACs, never a code); approval is derived from the guess the check write stores. The life,
``code_expires_at``, is fixed by the first send. ``expires_at`` is the item's TTL: the latest of
that, the end of the day and of the send window whose counters the item holds. TTL only cleans
up; every condition and read checks expiry itself.

Services: a verification's item key is its Service's (codes.py ``number_key``), and its SID
names that key through its lookup item (chalicelib/factors/sid_links.py; a 50-character id made before
holds it masked); the item also names its Service (``svc``: the Service's SID, absent
for the stage's own app), and every write that names a verification by SID carries that Service
in its condition (``_of_scope``), so another Service's SID is simply not found, counting nothing.

Counters (``pk = "rl#..."``) live in chalicelib/verify/counters.py; the botocore plumbing both share
(``ConditionFailed``, ``StoreUnavailable``, the item codec) in chalicelib/dynamodb.py.
"""

from __future__ import annotations

import abc
from typing import Any

from chalicelib.delivery import STATUS_RANK
from chalicelib.dynamodb import ConditionFailed
from chalicelib.verify.items import approved_at, binding_value, to_verification
from chalicelib.verify.live_codes import UNAPPROVED, add_code, item_expires, send_window, without_code
from chalicelib.verify.models import CheckLimit, SendLimit, Verification
from chalicelib.factors import SidLinks

DAY = 86_400

_LIVE = (
    "attribute_exists(vid) AND code_expires_at > :now AND attribute_not_exists(canceled_at)"
    f" AND {UNAPPROVED}"
)

# Cancel and approve: live and not locked by failed checks (by SID: ``vid = :vid`` too).
_LIVE_AND_UNLOCKED = f"{_LIVE} AND attempts < max_attempts"


def _of_scope(scope: str, by_sid: bool = True) -> tuple[str, dict[str, str]]:
    """The condition that the item is the Service ``scope``'s ("": the stage's own app), and
    its values. By number (``by_sid`` False) the item's key was derived from the Service, which
    already proves it: an item made before ``svc`` existed (none has it) is taken too."""
    if not scope:
        return "attribute_not_exists(svc)", {}
    if by_sid:
        return "svc = :svc", {":svc": scope}
    return "(svc = :svc OR attribute_not_exists(svc))", {":svc": scope}


def number_pk(number_key: str) -> str:
    return "v#" + number_key


def day_of(now: int) -> int:
    return now // DAY


class VerificationStore(abc.ABC):
    @abc.abstractmethod
    def create(
        self, number_key: str, v: Verification, now: int, max_starts_per_day: int, checks: CheckLimit,
        window: SendLimit | None = None,
    ) -> int | None:
        """Store ``v`` unless the number has a live verification, used its starts today, its
        checks this window or its sends this send window (counting one); returns when the
        number was last approved (None: never)."""

    @abc.abstractmethod
    def mark_approved(self, number_key: str, verification_id: str, now: int) -> None:
        """Note on the number's item that it was approved at ``now`` (the breaker trusts it)."""

    @abc.abstractmethod
    def resend(
        self, number_key: str, v: Verification, *, live: Verification, now: int,
        min_sent_at_ms: int | None, max_sends: int, checks: CheckLimit, window: SendLimit | None = None,
    ) -> Verification:
        """Add ``v.code_mac`` to the live codes of ``live`` (the verification as last read; at
        most MAX_LIVE_CODES, the oldest replaced beyond) and count the send."""

    @abc.abstractmethod
    def undo_send(
        self, number_key: str, failed: Verification, previous: Verification | None,
        window: SendLimit | None = None,
    ) -> None:
        """After a failed or refused delivery, put back what ``create``/``resend`` changed:
        exactly the code it added, its send and its count in the send window."""

    @abc.abstractmethod
    def record_provider(
        self, number_key: str, v: Verification, provider: str, channel: str | None = None
    ) -> None:
        """After a failover, name the provider that actually took the latest send (and its
        channel, when channel "auto" moved it past a suspended breaker)."""

    @abc.abstractmethod
    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int,
        checks: CheckLimit, scope: str = "",
    ) -> Verification:
        """Count one attempt on the Service ``scope``'s live verification and store the guess;
        returns the item."""

    @abc.abstractmethod
    def cancel(self, number_key: str, verification_id: str | None, now: int, scope: str = "") -> Verification:
        """Cancel the Service ``scope``'s live verification ``verification_id`` (None: the
        number's live one, whatever its SID)."""

    def approve(
        self, number_key: str, verification_id: str | None, now: int, scope: str = ""
    ) -> Verification:
        """Approve the Service ``scope``'s live verification ``verification_id`` (None: the
        number's) without a code."""
        raise NotImplementedError

    def record_delivery(
        self, number_key: str, verification_id: str, index: int, provider: str, status: str,
        error_code: str | None, permanent: bool,
    ) -> Verification | None:
        """Raise a send's delivery status from a provider's receipt (never lower it)."""
        raise NotImplementedError

    @abc.abstractmethod
    def get(self, number_key: str) -> Verification | None:
        """The number's verification, whatever its state (callers check expiry)."""

    def link_sid(self, sid: str, key: str, scope: str | None, expires_at: int | None) -> None:
        """Map a 34-character SID to its number key (chalicelib/factors/sid_links.py)."""
        raise NotImplementedError

    def resolve_sid(self, sid: str) -> tuple[str, str] | None:
        """(number key, Service SID) of a 34-character SID, or None (chalicelib/factors/sid_links.py)."""
        raise NotImplementedError


class DynamoDBVerificationStore(SidLinks, VerificationStore):

    # -- writes ---------------------------------------------------------------------------

    def create(
        self, number_key: str, v: Verification, now: int, max_starts_per_day: int, checks: CheckLimit,
        window: SendLimit | None = None,
    ) -> int | None:
        # Condition: NOT live, today's starts under the limit, this window's checks too (no
        # SMS whose code could not be checked) and the number's sends in the send window. Two concurrent first
        # requests for one number both see "no live item"; DynamoDB serialises the writes on
        # the item and the second one fails (it now sees the first's live verification) and
        # becomes a resend. An UpdateItem, not a PutItem: the number's daily counters survive
        # a new verification (starting over must not reset them).
        # Retry timeline: t0 the write lands; t1 its answer is lost (read timeout, reset);
        # t2 botocore sends it again: the item is live (ours), the condition fails, and the
        # item returned carries our token: the start goes on (one start counted, one SMS).
        day = day_of(now)
        binding = binding_value(v.binding)  # never inherited from the number's last verification
        # The item's Service (v.scope) is set, or removed for the stage's own app, by every start.
        sets = (", binding = :binding" if binding else "") + (", svc = :svc" if v.scope else "")
        removes = ("" if binding else ", binding") + ("" if v.scope else ", svc")
        sets += ", meta = :meta" if v.metadata else ""  # a v2 start's Tags, Amount, Payee
        removes += "" if v.metadata else ", meta"
        counted, counted_names, counted_values = send_window(window, now)
        old = self._update(
            number_pk(number_key),
            "SET vid = :vid, #to = :to, channel = :channel, code_mac = :code_mac, code_macs = :code_macs,"
            " created_at = :created, code_expires_at = :code_expires, expires_at = :item_expires,"
            " sent_at_ms = :sent, send_count = :one, attempts = :zero,"
            " max_attempts = :max_attempts, sends = :sends" + sets + " ADD #starts :one" + counted[0] +
            " REMOVE guess_mac, canceled_at, #old_starts, #old_checks" + counted[1] + removes,
            f"NOT ({_LIVE}) AND (attribute_not_exists(#starts) OR #starts < :max_starts)"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)" + counted[2],
            {
                ":vid": v.id,
                ":to": v.to,
                ":channel": v.channel,
                ":code_mac": v.code_mac,
                ":code_macs": [v.code_mac],
                ":created": v.created_at,
                ":code_expires": v.expires_at,
                ":item_expires": item_expires(v.expires_at, now, window),
                ":sent": v.sent_at_ms,
                ":one": 1,
                ":zero": 0,
                ":max_attempts": v.max_attempts,
                ":sends": list(v.sends),
                ":max_starts": max_starts_per_day,
                ":max_checks": checks.max_checks,
                ":now": now,
                **({":binding": binding} if binding else {}),
                **({":svc": v.scope} if v.scope else {}),
                **({":meta": v.metadata} if v.metadata else {}),
                **counted_values,
            },
            names={
                "#to": "to",
                "#starts": f"starts_{day}",
                "#old_starts": f"starts_{day - 1}",
                "#checks": checks.attribute(now),
                "#old_checks": checks.attribute(now, back=1),
                **counted_names,
            },
            old=True,
            token=True,  # a retry after a lost answer finds its own live item: a success
        )
        return approved_at(old)

    def mark_approved(self, number_key: str, verification_id: str, now: int) -> None:
        # Condition: the item still holds this verification (no item is made if TTL removed
        # it). Out of order with a later approval it may set an earlier time: harmless, the
        # marker only says "approved within the trust period".
        try:
            self._write(number_key, "SET approved_at = :now", "vid = :vid",
                        {":vid": verification_id, ":now": now})
        except ConditionFailed:
            pass

    def resend(
        self, number_key: str, v: Verification, *, live: Verification, now: int,
        min_sent_at_ms: int | None, max_sends: int, checks: CheckLimit, window: SendLimit | None = None,
    ) -> Verification:
        # Condition: the same verification, still live, not locked by failed checks, the
        # number's checks this window and its send window not used up, under the send limit
        # and past the resend interval (none on v2 unless its Service sets one: concurrent
        # resends then all land, up to the limits; with one, only the first passes
        # `sent_at_ms <= :min_sent`). The code joins the live codes (live_codes.add_code); the
        # expiry and the attempts are left alone (rule 5; a resend never resets the guessing).
        # The last wrong guess is removed: a code sent now that happens to equal it must not
        # be found approved without a check. The receipt's binding is the last start's.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry fails its condition on its own
        # send; the token says it is ours, so the new code is sent (without it: a second code
        # counted that nobody received, or 429). ``to`` is the last start's spelling of the
        # recipient (one mailbox, several spellings: email_address.py). By number: the item's
        # key proves the Service (v.scope); an item made before ``svc`` existed gets it here.
        binding = binding_value(v.binding)
        scoped, scope_values = _of_scope(v.scope, by_sid=False)
        codes, pinned, code_values = add_code(live, v.code_mac)
        counted, counted_names, counted_values = send_window(window, now)
        waited = " AND sent_at_ms <= :min_sent" if min_sent_at_ms is not None else ""
        return self._write(
            number_key,
            f"SET #to = :to, code_mac = :code_mac, {codes}, sent_at_ms = :sent,"
            " expires_at = :item_expires, channel = :channel, sends = list_append(sends, :send)"
            + (", binding = :binding" if binding else "") + (", svc = :svc" if v.scope else "") +
            " ADD send_count :one" + counted[0] + " REMOVE guess_mac" + counted[1]
            + ("" if binding else ", binding"),
            f"vid = :vid AND {scoped} AND {_LIVE} AND attempts < max_attempts"
            f" AND send_count < :max_sends{waited}{pinned}"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)" + counted[2],
            {
                ":vid": v.id,
                ":to": v.to,
                ":code_mac": v.code_mac,
                ":sent": v.sent_at_ms,
                ":item_expires": item_expires(live.expires_at, now, window),
                ":channel": v.channel,
                ":send": [v.sends[-1]],
                ":one": 1,
                ":max_sends": max_sends,
                ":max_checks": checks.max_checks,
                ":now": now,
                **({":min_sent": min_sent_at_ms} if min_sent_at_ms is not None else {}),
                **({":binding": binding} if binding else {}),
                **scope_values,
                **code_values,
                **counted_values,
            },
            names={"#to": "to", "#checks": checks.attribute(now), **counted_names},
            returns=True,
            token=True,  # a retry after a lost answer fails its condition on its own send
        )

    def undo_send(
        self, number_key: str, failed: Verification, previous: Verification | None,
        window: SendLimit | None = None,
    ) -> None:
        # Condition: the item still holds the code we failed to deliver as its latest, at the
        # same send count, and no check has landed since that send (attempts unchanged). If
        # anything wrote since (a concurrent resend that did deliver, a check, an approval),
        # leave its state alone: undoing after an approval could bring a used code back to life.
        # The send window's count is given back with the send (at the failed send's window).
        given, given_names = ("", {}) if window is None else (
            ", #sent :minus_one", {"#sent": window.attribute(failed.sent_at_ms // 1000)})
        try:
            if previous is None or previous.id != failed.id:
                # A new verification: remove it and give back the day's start; the item's
                # other counters stay.
                self._write(
                    number_key,
                    "REMOVE vid, #to, channel, code_mac, code_macs, created_at, code_expires_at, sent_at_ms,"
                    " send_count, attempts, max_attempts, sends ADD #starts :minus_one" + given,
                    "vid = :vid AND code_mac = :code_mac AND attempts = :attempts",
                    {":vid": failed.id, ":code_mac": failed.code_mac, ":minus_one": -1,
                     ":attempts": failed.attempts},
                    names={"#to": "to", "#starts": f"starts_{day_of(failed.created_at)}", **given_names},
                )
            else:
                restored, latest = without_code(failed, previous)
                self._write(
                    number_key,
                    "SET #to = :old_to, code_mac = :old_mac, sent_at_ms = :old_sent, channel = :old_channel"
                    + (", code_macs = :old_macs" if restored else "")
                    + f" REMOVE sends[{len(failed.sends) - 1}]" + ("" if restored else ", code_macs")
                    + " ADD send_count :minus_one" + given,
                    "vid = :vid AND code_mac = :code_mac AND attempts = :attempts AND send_count = :count",
                    {
                        ":vid": failed.id,
                        ":code_mac": failed.code_mac,
                        ":attempts": failed.attempts,
                        ":count": failed.send_count,
                        ":old_mac": latest,
                        ":old_sent": previous.sent_at_ms,
                        ":old_channel": previous.channel,
                        ":old_to": previous.to,
                        ":minus_one": -1,
                        **({":old_macs": list(restored)} if restored else {}),
                    },
                    names={"#to": "to", **given_names},
                )
        except ConditionFailed:
            pass

    def record_provider(
        self, number_key: str, v: Verification, provider: str, channel: str | None = None
    ) -> None:
        # Condition: the item still holds this send's code. Only on failover or a channel
        # moved on (the first write named the first channel and provider), so the common path
        # stays one write. A retry after a lost answer sets the same values again: harmless.
        send = f"sends[{len(v.sends) - 1}]"
        values = {":vid": v.id, ":code_mac": v.code_mac, ":provider": provider}
        update = f"SET {send}.provider = :provider"
        if channel is not None:
            update += f", {send}.channel = :channel, channel = :channel"
            values[":channel"] = channel
        try:
            self._write(number_key, update, "vid = :vid AND code_mac = :code_mac", values)
        except ConditionFailed:
            pass

    def record_delivery(
        self, number_key: str, verification_id: str, index: int, provider: str, status: str,
        error_code: str | None, permanent: bool,
    ) -> Verification | None:
        """Set send ``index``'s status from a receipt; None when it changed nothing."""
        # Condition: the same verification, a send at that index made by this provider, and a
        # lower status rank than the receipt's. Late, duplicated or out-of-order receipts
        # (delivered, then sent; two final receipts racing) fail it and change nothing, so a
        # status never moves backwards and a replay is a no-op.
        send = f"sends[{int(index)}]"
        values: dict[str, Any] = {":vid": verification_id, ":provider": provider, ":status": status,
                                  ":rank": STATUS_RANK[status], ":permanent": int(permanent)}
        update = f"SET {send}.#status = :status, {send}.#rank = :rank, {send}.permanent = :permanent"
        if error_code:
            update += f", {send}.error_code = :code"
            values[":code"] = error_code[:32]
        try:
            return self._write(
                number_key, update,
                f"vid = :vid AND {send}.provider = :provider"
                f" AND (attribute_not_exists({send}.#rank) OR {send}.#rank < :rank)",
                values, names={"#status": "status", "#rank": "rank"}, returns=True,
            )
        except ConditionFailed:
            return None

    def record_check(
        self, number_key: str, verification_id: str | None, guess_mac: str, now: int,
        checks: CheckLimit, scope: str = "",
    ) -> Verification:
        # Condition: the Service's (``_of_scope``), live, under the verification's attempt
        # limit and under the number's checks for the window. The attempt is counted in the
        # same write that stores the guess, so N concurrent guesses get at most max_attempts
        # successful writes, hence at most max_attempts comparisons. A correct guess (any live
        # code's: ``contains(code_macs, guess_mac)``) makes the item approved, which the
        # condition then refuses: one approval under 20 concurrent correct submissions, be they
        # of one code or of several codes of the verification. The day's count lives on
        # the number's item, so a new verification does not reset it.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry would count a wrong guess a
        # second time, or fail on its own approval (404, approval lost): its condition refuses
        # an item holding its token, and the item returned is the check's result.
        scoped, scope_values = _of_scope(scope, by_sid=verification_id is not None)
        condition = (
            f"{scoped} AND {_LIVE} AND attempts < max_attempts"
            " AND (attribute_not_exists(#checks) OR #checks < :max_checks)"
        )
        values: dict[str, Any] = {":guess": guess_mac, ":one": 1, ":now": now,
                                  ":max_checks": checks.max_checks, **scope_values}
        if verification_id is not None:
            condition = "vid = :vid AND " + condition
            values[":vid"] = verification_id
        return self._write(
            number_key,
            "SET guess_mac = :guess ADD attempts :one, #checks :one",
            condition,
            values,
            names={"#checks": checks.attribute(now)},
            returns=True,
            # A retry after a lost answer would count a wrong guess twice (or read its own
            # approval as "not live"): the token makes it find its own write instead.
            token=True,
        )

    def cancel(self, number_key: str, verification_id: str | None, now: int, scope: str = "") -> Verification:
        # Condition: the same verification (by SID), the Service's, live and not locked by
        # failed checks (canceling a locked one and starting over would reset the guessing).
        # Cancel and approve race on one item; whichever write lands first makes the other's
        # condition fail. By number (v2's ``Verifications/+1...``) there is no ``vid`` to
        # name: the item's key, derived from the number and the Service, names it, and the
        # condition still proves the Service (``_of_scope``'s by-number form), in this one write.
        # Retry timeline: t0 lands, t1 answer lost, t2 the retry finds it canceled (409):
        # the token says by itself, so the cancel answers 200.
        return self._end(number_key, "SET canceled_at = :now", verification_id, now, scope)

    def approve(
        self, number_key: str, verification_id: str | None, now: int, scope: str = ""
    ) -> Verification:
        # Condition: as for cancel (by SID or by number). The guess becomes the code's MAC: the
        # item is approved as by a right check, so a later check, cancel or approval finds it
        # no longer live. Approve, cancel and check race on one item; the first write to land
        # wins. A retry after a lost answer fails the condition on its own approval (the
        # token answers it at once: chalicelib/dynamodb.py).
        return self._end(number_key, "SET guess_mac = code_mac", verification_id, now, scope)

    def _end(
        self, number_key: str, update: str, verification_id: str | None, now: int, scope: str
    ) -> Verification:
        scoped, scope_values = _of_scope(scope, by_sid=verification_id is not None)
        condition = f"{scoped} AND {_LIVE_AND_UNLOCKED}"
        values: dict[str, Any] = {":now": now, **scope_values}
        if verification_id is not None:
            condition = "vid = :vid AND " + condition
            values[":vid"] = verification_id
        return self._write(number_key, update, condition, values, returns=True,
                           token=True)  # a retry after a lost answer finds its own write: a success

    # -- reads ----------------------------------------------------------------------------

    def get(self, number_key: str) -> Verification | None:
        return to_verification(self._get(number_pk(number_key)))

    # -- plumbing -------------------------------------------------------------------------

    def _write(self, number_key: str, *args: Any, **kwargs: Any) -> Verification:
        return to_verification(self._update(number_pk(number_key), *args, **kwargs))  # type: ignore[return-value]

