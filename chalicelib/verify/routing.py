"""Which providers carry a message: per-country chains, voice capability, lazy loading.

A chain is tried in order: a transient failure moves to the next provider with the same
code; a permanent one stops (the number is the problem, not the provider).
"""

from __future__ import annotations

import copy
from typing import Callable, Mapping

from chalicelib.config import Config
from chalicelib.channels import REGISTRY, ProviderContext, SmsProvider, load_provider


class ProviderPool:
    def __init__(
        self,
        config: Config,
        settings: Callable[[], Mapping[str, Mapping[str, str]]],
        context: Callable[[str, Mapping[str, str]], ProviderContext],
        loader: Callable[[ProviderContext], SmsProvider] = load_provider,
    ) -> None:
        self._config = config
        self._settings = settings  # fetched on first send (SSM), then cached by the caller
        self._context = context
        self._loader = loader
        self._loaded: dict[str, SmsProvider] = {}
        self._routes: Mapping[str, tuple[str, ...]] = {}

    def with_routes(self, routes: Mapping[str, tuple[str, ...]]) -> ProviderPool:
        """This pool (its loaded providers shared) with an app's own SMS chains by region
        (``*``: every other region), before the stage's: a v2 Service's Messaging
        Configurations, each one of the stage's configured chains."""
        if not routes:
            return self
        pool = copy.copy(self)
        pool._routes = dict(routes)
        return pool

    def names(self, region: str, channel: str) -> tuple[str, ...]:
        if channel in ("whatsapp", "email"):  # one chain each (docs/channels.md)
            return self._config.channels.chain(channel)
        own = self._routes.get(region) or self._routes.get("*") if channel == "sms" else None
        chain = own or self._config.chain_for(region)
        if channel == "voice":
            chain = tuple(name for name in chain if REGISTRY[name].voice)
        return chain

    def chain(self, region: str, channel: str) -> list[SmsProvider]:
        return [self.get(name) for name in self.names(region, channel)]

    def get(self, name: str) -> SmsProvider:
        provider = self._loaded.get(name)
        if provider is None:
            settings = self._settings().get(name, {})
            provider = self._loaded[name] = self._loader(self._context(name, settings))
        return provider

    def replace(self, name: str, provider: SmsProvider) -> None:
        """Put a provider in place of ``name`` (tests, and an app embedding its own)."""
        self._loaded[name] = provider
