"""Stand-ins for the real chain when a test number is configured to fail on purpose
(OTP_TEST_NUMBERS {"fail": ...}): they send nothing and answer the way a real chain would.

- "permanent": the first provider says the number cannot take the message: 422, no failover.
- "transient": the first provider fails transiently, the next one takes it: 201 with the
  next provider recorded (the failover); with a one-provider chain, 502 as in reality.
- "timeout": every provider times out (at once, nobody waits): 502 delivery_failed.

They carry the real providers' names, so the verification looks like a real one; ``rehearsal``
tells the service to keep them out of the provider metrics and alarms.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Sequence

from chalicelib.channels.providers import Delivery, ProviderError, SmsProvider
from chalicelib.settings.numbers import FAIL_MODES

if TYPE_CHECKING:
    from chalicelib.channels.messages import SmsMessage
    from chalicelib.channels.phone import PhoneNumber

_ids = itertools.count(1)


class RehearsalProvider(SmsProvider):
    rehearsal = True
    supports_voice = True

    def __init__(self, name: str, outcome: str) -> None:  # outcome: "sent" or a fail mode
        self.name = name
        self.outcome = outcome

    def send_sms(self, to: PhoneNumber, message: SmsMessage) -> str:
        raise NotImplementedError("driven through deliver()")

    def deliver(self, delivery: Delivery) -> str:
        if self.outcome == "sent":
            return f"rehearsal-{next(_ids)}"
        detail = "timeout" if self.outcome == "timeout" else f"rehearsal {self.outcome}"
        raise ProviderError(self.name, permanent=self.outcome == "permanent", detail=detail)


def rehearsal_chain(names: Sequence[str], fail: str) -> list[SmsProvider]:
    """The chain ``names`` as it would answer for a number failing with ``fail``."""
    if fail not in FAIL_MODES:
        raise ValueError(fail)
    if fail == "transient":
        outcomes = ["transient"] + ["sent"] * (len(names) - 1)
    else:
        outcomes = [fail] * len(names)
    return [RehearsalProvider(name, outcome) for name, outcome in zip(names, outcomes)]
