"""Channel "auto" (docs/channels.md): which channel a start or a resend takes.

A new verification takes the first channel of the stage's order for the number's country
(OTP_CHANNEL_ORDER). A resend stays on the channel of the last send, unless that send was
reported undelivered (or failed): then it takes the next channel of the order, as a resend
after an undelivered SMS moves to the next provider. A WhatsApp send counts as reached only
once it was read: the user asked for another code, and a WhatsApp they have not opened says
they are not looking at WhatsApp (users with read receipts off never report "read", so their
resends move on too). At the order's end it stays on the last channel (whose provider chain
then moves on).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.verify.models import Verification

PHONE_CHANNELS = frozenset({"sms", "voice"})


def auto_channel(order: tuple[str, ...], live: Verification | None, now: float) -> str:
    from chalicelib.delivery import UNDELIVERED

    if live is None or live.status(now) != "pending" or not live.sends:
        return order[0]
    last = live.sends[-1]
    if last.channel not in order:
        return order[0]
    reached = last.status == "read" if last.channel == "whatsapp" else last.status not in UNDELIVERED
    if reached:
        return last.channel
    return order[min(order.index(last.channel) + 1, len(order) - 1)]


def same_reach(failed_channel: str, channel: str) -> bool:
    """Whether a send that failed on ``failed_channel`` says anything about ``channel``: SMS
    and voice reach the same line; WhatsApp (an app account) and email reach other things, so
    a number that is not on WhatsApp may still take an SMS."""
    return failed_channel == channel or {failed_channel, channel} <= PHONE_CHANNELS


def order_after_undelivered(
    live: Verification | None, chain: tuple[str, ...], channel: str
) -> tuple[str, ...]:
    """The chain for a resend: after a send reported undelivered, start with the provider
    after the one that failed (then wrap around); a permanent reason refuses the resend on a
    channel that reaches the same thing (not WhatsApp's failure for an SMS)."""
    from chalicelib import errors
    from chalicelib.delivery import UNDELIVERED

    last = live.sends[-1] if live is not None and live.sends else None
    if last is None or last.status not in UNDELIVERED or not same_reach(last.channel, channel):
        return chain
    if last.permanent:
        raise errors.UndeliverableNumber()
    if last.provider not in chain:
        return chain
    at = chain.index(last.provider) + 1
    return chain[at:] + chain[:at]
