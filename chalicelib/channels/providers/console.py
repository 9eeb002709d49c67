"""The local provider: writes each message to stderr and keeps the last ones in memory.

For `make run` and tests only; configuration refuses it in the prod stage because the
message, code included, goes to the terminal.
"""

from __future__ import annotations

import collections
import itertools
import sys
import threading
import time
from typing import Any

from typing import TYPE_CHECKING

from chalicelib.channels.messages import SmsMessage, VoiceMessage
from chalicelib.channels.phone import PhoneNumber
from chalicelib.channels.providers import SmsProvider
from chalicelib.telemetry import sms_box

if TYPE_CHECKING:
    from chalicelib.channels.channel_messages import EmailMessage, WhatsAppMessage
    from chalicelib.channels.email_address import EmailAddress

# Process-wide so the local inbox sees what every request sent.
OUTBOX: collections.deque[dict[str, Any]] = collections.deque(maxlen=100)
_ids = itertools.count(1)
_lock = threading.Lock()


class ConsoleProvider(SmsProvider):
    name = "console"
    supports_voice = True

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        return self._emit(to.e164, "sms", message.text)

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        return self._emit(to.e164, "voice", speech.text)

    def send_whatsapp(self, to: PhoneNumber, message: WhatsAppMessage) -> str:
        # What the user's WhatsApp shows for the authentication template (English preview).
        return self._emit(to.e164, "whatsapp", f"{message.preview}\n[Copy code]")

    def send_email(self, to: EmailAddress, message: EmailMessage) -> str:
        return self._emit(to.address, "email", f"Subject: {message.subject}\n\n{message.text}")

    def _emit(self, to: str, channel: str, body: str) -> str:
        with _lock:
            message_id = f"console-{next(_ids)}"
            OUTBOX.appendleft(
                {"id": message_id, "to": to, "channel": channel, "body": body, "at": time.time()}
            )
        label = {"sms": "SMS", "voice": "voice call", "whatsapp": "WhatsApp", "email": "email"}[channel]
        sys.stderr.write(sms_box(f"[console {label} to {to}]", body) + "\n")
        sys.stderr.flush()
        return message_id
