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

from chalicelib.messages import SmsMessage, VoiceMessage
from chalicelib.phone import PhoneNumber
from chalicelib.providers import SmsProvider
from chalicelib.telemetry import sms_box

# Process-wide so the local inbox sees what every request sent.
OUTBOX: collections.deque[dict[str, Any]] = collections.deque(maxlen=100)
_ids = itertools.count(1)
_lock = threading.Lock()


class ConsoleProvider(SmsProvider):
    name = "console"
    supports_voice = True

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        return self._emit(to, "sms", message.text)

    def call(self, to: PhoneNumber, speech: VoiceMessage) -> str:
        return self._emit(to, "voice", speech.text)

    def _emit(self, to: PhoneNumber, channel: str, body: str) -> str:
        with _lock:
            message_id = f"console-{next(_ids)}"
            OUTBOX.appendleft(
                {"id": message_id, "to": to.e164, "channel": channel, "body": body, "at": time.time()}
            )
        label = "SMS" if channel == "sms" else "voice call"
        sys.stderr.write(sms_box(f"[console {label} to {to.e164}]", body) + "\n")
        sys.stderr.flush()
        return message_id
