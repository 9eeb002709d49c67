"""Twilio's channel names and the domain's (chalicelib/verify/models.py CHANNELS), one map for the
Verifications (api.py) and the Attempts filters (attempts.py)."""

from __future__ import annotations

# Twilio's name -> the domain's; the domain answers for the ones the stage has not turned on
# (docs/channels.md), and Twilio's others (sna, rcs) are answered 60200 (Channel).
CHANNELS = {"sms": "sms", "call": "voice", "whatsapp": "whatsapp", "email": "email", "auto": "auto"}
CHANNEL_NAMES = {v: k for k, v in CHANNELS.items()}
