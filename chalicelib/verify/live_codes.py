"""The live codes of a verification and the number's send window, as pieces of the number's
item's writes (chalicelib/verify/store.py): every code a verification sent stays valid until it ends.

The item holds the MACs of its live codes (``code_macs``, oldest first, at most
models.MAX_LIVE_CODES; never a code, docs/security.md rule 2) and ``code_mac``, the latest
one's (what the backend's approval and a provider's failover name). A check stores its guess's
MAC; the verification is approved when that is one of ``code_macs``: DynamoDB's
``contains(list, path)`` in the conditions (moto and dynalite evaluate it as DynamoDB
documents: docs.aws.amazon.com/amazondynamodb/latest/developerguide/
Expressions.OperatorsAndFunctions.html), hmac.compare_digest with each in code
(models.Verification.approved). An item written before the list existed has only
``code_mac``: read as a one-element list, checkable until it expires; its first resend makes
the list.
"""

from __future__ import annotations

from typing import Any

from chalicelib.verify.models import MAX_LIVE_CODES, SendLimit, Verification

DAY = 86_400

# Not approved: no guess yet, or the last guess is none of the live codes (an item made before
# the list has only ``code_mac``).
UNAPPROVED = (
    "(attribute_not_exists(guess_mac) OR (NOT contains(code_macs, guess_mac)"
    " AND (attribute_exists(code_macs) OR guess_mac <> code_mac)))"
)


def add_code(live: Verification, mac: str) -> tuple[str, str, dict[str, Any]]:
    """How a resend adds ``mac`` to ``live``'s codes: (SET clause, condition, values)."""
    if not live.code_macs:  # an item made before the list existed: its one code, then this one
        return ("code_macs = :code_macs", " AND attribute_not_exists(code_macs) AND code_mac = :live_mac",
                {":code_macs": [live.code_mac, mac], ":live_mac": live.code_mac})
    if len(live.code_macs) < MAX_LIVE_CODES:
        return ("code_macs = list_append(code_macs, :new_macs)", " AND size(code_macs) < :max_live",
                {":new_macs": [mac], ":max_live": MAX_LIVE_CODES})
    # Full (only with OTP_MAX_SENDS over MAX_LIVE_CODES): send n takes slot (n - 1) mod 5, the
    # oldest code's; pinned on the state read, so the slot is the one computed.
    slot = live.send_count % MAX_LIVE_CODES
    return (f"code_macs[{slot}] = :code_mac", " AND send_count = :live_count AND code_mac = :live_mac",
            {":live_count": live.send_count, ":live_mac": live.code_mac})


def without_code(failed: Verification, previous: Verification) -> tuple[tuple[str, ...], str]:
    """The live codes once the failed resend's own code is taken out (empty: the item had no
    list before it), and the latest code left. An appended code is the last of the list the
    resend returned (concurrent appends before it stay); a replaced one gets its slot back."""
    if not previous.code_macs:
        return (), previous.code_mac
    if len(previous.code_macs) < MAX_LIVE_CODES:
        restored = failed.code_macs[:-1]
        return restored, restored[-1]
    slot = previous.send_count % MAX_LIVE_CODES
    restored = (*failed.code_macs[:slot], previous.code_macs[slot], *failed.code_macs[slot + 1:])
    return restored, previous.code_mac


def send_window(
    window: SendLimit | None, now: int,
) -> tuple[tuple[str, str, str], dict[str, str], dict[str, Any]]:
    """The send window's pieces of a start's or resend's write: (ADD, REMOVE, condition)
    clauses, names and values; nothing when no window is given."""
    if window is None:
        return ("", "", ""), {}, {}
    return ((", #sent :one", ", #old_sent", " AND (attribute_not_exists(#sent) OR #sent < :max_window)"),
            {"#sent": window.attribute(now), "#old_sent": window.attribute(now, back=1)},
            {":max_window": window.max_sends})


def item_expires(code_expires: int, now: int, window: SendLimit | None) -> int:
    """The item's TTL: kept while its code, its day's counters or its send window may matter."""
    return max(code_expires, (now // DAY + 1) * DAY, window.window_end(now) if window else 0)
