"""Secrets from SSM Parameter Store (SecureString), fetched once per container:

- the server secret that keys every MAC (OTP_SECRET_PARAMETER; OTP_SECRET locally and in tests);
- the providers' credentials (SMS_CREDENTIALS_PARAMETER: one JSON object, provider name ->
  settings, e.g. {"twilio": {"account_sid": "AC…", "auth_token": "…"}}), laid over the
  settings from <PREFIX>_<SETTING> environment variables.

A failed read keeps the last value read in this container (a refresh after
OTP_PARAMETERS_MAX_AGE_SECONDS while SSM throttles must not drop a working secret), with an
error log line and a ``ParameterReadFailures`` metric. With no value yet (a cold container),
a transient failure (throttling, a timeout, SSM's 5xx) is ``ParametersUnavailable``: 503
``service_unavailable`` with ``retry_after``; a parameter that does not exist or may not be
read is a configuration error.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any, Callable

from chalicelib import errors, telemetry
from chalicelib.config import Config, ConfigError

log = logging.getLogger("verify")

# GetParameter's errors that no retry fixes: the deployment's configuration is wrong
# (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameter.html;
# AccessDeniedException and ValidationException are common errors of every SSM action).
_CONFIGURATION_ERRORS = frozenset({
    "ParameterNotFound", "ParameterVersionNotFound", "InvalidKeyId", "AccessDeniedException",
    "ValidationException",
})
RETRY_AFTER_SECONDS = 5

# The last value read per parameter name, in this container.
_last_good: dict[str, str] = {}


class ParametersUnavailable(errors.ServiceUnavailable):
    """SSM could not be read (throttled, timed out, 5xx) and this container has no value yet."""


def _get_secure_string(variable: str, name: str, ssm_client: Callable[[], Any]) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        value = ssm_client().get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except (BotoCoreError, ClientError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        reason = code or type(exc).__name__
        # The parameter's name is safe to log; its value never is.
        if name in _last_good:
            log.error("%s %r could not be read (%s): keeping the last value read", variable, name, reason)
            telemetry.metric("ParameterReadFailures")
            return _last_good[name]
        if code in _CONFIGURATION_ERRORS:
            raise ConfigError(f"{variable} {name!r} could not be read: {reason}") from None
        log.error("%s %r could not be read (%s): no value yet, answering 503", variable, name, reason)
        telemetry.metric("ParameterReadFailures")
        raise ParametersUnavailable(retry_after=RETRY_AFTER_SECONDS) from None
    _last_good[name] = value
    return value


def load_provider_settings(
    config: Config, ssm_client: Callable[[], Any]
) -> dict[str, dict[str, str]]:
    settings = {name: dict(values) for name, values in config.provider_settings.items()}
    if config.sms_credentials_parameter is None:
        return settings
    raw = _get_secure_string("SMS_CREDENTIALS_PARAMETER", config.sms_credentials_parameter, ssm_client)
    try:
        stored = json.loads(raw)
    except ValueError:
        stored = None
    if not isinstance(stored, dict) or not all(isinstance(v, dict) for v in stored.values()):
        # Never echo the value: it is credentials.
        raise ConfigError("SMS_CREDENTIALS_PARAMETER must hold a JSON object of objects")
    for name, values in stored.items():
        if name in settings:
            settings[name].update({str(k).lower(): str(v) for k, v in values.items()})
    return settings


def load_server_secret(config: Config, ssm_client: Callable[[], Any]) -> bytes:
    if config.secret is not None:
        return config.secret.encode("utf-8")
    if config.secret_parameter is not None:
        value = _get_secure_string("OTP_SECRET_PARAMETER", config.secret_parameter, ssm_client)
        if len(value) < 32:
            raise ConfigError(f"OTP_SECRET_PARAMETER {config.secret_parameter!r} is too short")
        return value.encode("utf-8")
    # Only the local stage gets here (Config refuses it elsewhere): codes do not survive a
    # restart of `make run`, which is what a developer expects of a scratch server.
    log.warning("no OTP_SECRET set: using a random secret for this process (local stage only)")
    return secrets.token_bytes(32)
