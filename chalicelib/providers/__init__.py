"""SMS providers behind one small interface, registered by name and imported on first use.

A provider sends one message and returns the provider's message id, or raises
``ProviderError`` saying whether the failure is permanent (this number will never work
through any provider) or transient (try again, or try another provider).
"""

from __future__ import annotations

import abc
import importlib
from typing import Any, Callable

from chalicelib.phone import PhoneNumber

# name -> "module:Class"; modules load only when a deployment names them (cold start).
REGISTRY = {
    "console": "chalicelib.providers.console:ConsoleProvider",
    "sns": "chalicelib.providers.sns:SnsProvider",
}


class ProviderError(Exception):
    """A send failed. ``detail`` is the provider's own code and text, for logs only."""

    def __init__(self, provider: str, *, permanent: bool, detail: str) -> None:
        super().__init__(f"{provider}: {'permanent' if permanent else 'transient'}: {detail}")
        self.provider = provider
        self.permanent = permanent
        self.detail = detail


class SmsProvider(abc.ABC):
    name: str

    @abc.abstractmethod
    def send_sms(self, to: PhoneNumber, body: str) -> str:
        """Send ``body`` to ``to``; return the provider's message id."""


def load_provider(name: str, **dependencies: Any) -> SmsProvider:
    """Import and build the provider ``name``; ``dependencies`` are injected clients."""
    module_name, _, class_name = REGISTRY[name].partition(":")
    factory: Callable[..., SmsProvider] = getattr(importlib.import_module(module_name), class_name)
    return factory(**dependencies)
