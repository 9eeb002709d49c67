"""Reading one variable: a string, a bounded whole number, a flag or a choice, with an error
that names the variable; the patterns and stage lists the settings share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, TypeVar, dataclass_transform

from chalicelib.errors import ConfigError


_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, eq_default=False)
def section(cls: type[_T]) -> type[_T]:
    """A part of the configuration (and Config itself): a frozen dataclass without the
    generated ``__eq__``, ``__hash__`` and ``__repr__``. Each is read once per container and
    compared by nothing; a repr would print the code key or a provider's token into a
    traceback; and those methods are half the cost of making the class, which every cold start
    pays for each section (docs/benchmarks.md, "Where the cold start goes")."""
    return dataclass(frozen=True, eq=False, repr=False)(cls)


STAGES = ("local", "test", "dev", "prod")
# Stages that run on Lambda for real users: secrets from SSM only, no console provider.
DEPLOYED_STAGES = ("dev", "prod")

_REGION = re.compile(r"[A-Z]{2}", re.ASCII)
_KMS_KEY_ID = re.compile(
    r"(alias/[A-Za-z0-9/_-]{1,250}"
    r"|(mrk-)?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|mrk-[0-9a-f]{32}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]{1,250})",
    re.ASCII,
)


def _str(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = _str(env, name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw, re.ASCII):
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {raw!r}")
    value = int(raw)
    if not low <= value <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {value}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _str(env, name)
    if raw is None:
        return default
    if raw.lower() not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return raw.lower() == "true"


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (_str(env, name) or default).lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
