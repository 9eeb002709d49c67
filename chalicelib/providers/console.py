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
from typing import Any, TextIO

from chalicelib.phone import PhoneNumber
from chalicelib.providers import SmsProvider

# Process-wide so the local inbox sees what every request sent.
OUTBOX: collections.deque[dict[str, Any]] = collections.deque(maxlen=100)
_ids = itertools.count(1)
_lock = threading.Lock()


class ConsoleProvider(SmsProvider):
    name = "console"

    def __init__(self, stream: TextIO | None = None, **_: Any) -> None:
        self._stream = stream

    def send_sms(self, to: PhoneNumber, body: str) -> str:
        with _lock:
            message_id = f"console-{next(_ids)}"
            OUTBOX.appendleft({"id": message_id, "to": to.e164, "body": body, "at": time.time()})
        stream = self._stream or sys.stderr
        stream.write(f"\n[console SMS to {to.e164}]\n{body}\n\n")
        stream.flush()
        return message_id
