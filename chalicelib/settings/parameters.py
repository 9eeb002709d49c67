"""Secrets from SSM Parameter Store (SecureString), fetched once per container:

- the server secrets: the code key that keys code MACs (OTP_SECRET_PARAMETER; OTP_SECRET locally
  and in tests) and the identity key that keys item keys, SIDs and API keys
  (OTP_IDENTITY_SECRET_PARAMETER; OTP_IDENTITY_SECRET), both read in one GetParameters call;
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
    return _get_secure_strings({name: variable}, ssm_client)[name]


def _get_secure_strings(variables: dict[str, str], ssm_client: Callable[[], Any]) -> dict[str, str]:
    """The values of the parameters ``variables`` names (name -> the variable naming it), in one
    round trip: GetParameter for one name, GetParameters (up to 10 names) for more."""
    from botocore.exceptions import BotoCoreError, ClientError

    names = list(variables)
    try:
        if len(names) == 1:
            answer = ssm_client().get_parameter(Name=names[0], WithDecryption=True)
            values = {names[0]: answer["Parameter"]["Value"]}
        else:
            # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html:
            # a name that does not exist comes back in InvalidParameters, not as an error.
            answer = ssm_client().get_parameters(Names=names, WithDecryption=True)
            values = {p["Name"]: p["Value"] for p in answer.get("Parameters", [])
                      if p.get("Name") in variables}
    except (BotoCoreError, ClientError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        return _failed(variables, code, code or type(exc).__name__)
    missing = {n: v for n, v in variables.items() if n not in values}
    if missing:
        values.update(_failed(missing, "ParameterNotFound", "ParameterNotFound"))
    _last_good.update(values)
    return values


def _failed(variables: dict[str, str], code: str | None, reason: str) -> dict[str, str]:
    """A failed read: the last values read when this container has them all, else an error."""
    # The parameters' names are safe to log; their values never are.
    listed = ", ".join(f"{variable} {name!r}" for name, variable in variables.items())
    if all(name in _last_good for name in variables):
        log.error("%s could not be read (%s): keeping the last value read", listed, reason)
        telemetry.metric("ParameterReadFailures")
        return {name: _last_good[name] for name in variables}
    if code in _CONFIGURATION_ERRORS:
        raise ConfigError(f"{listed} could not be read: {reason}") from None
    log.error("%s could not be read (%s): no value yet, answering 503", listed, reason)
    telemetry.metric("ParameterReadFailures")
    raise ParametersUnavailable(retry_after=RETRY_AFTER_SECONDS) from None


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


def load_server_secrets(config: Config, ssm_client: Callable[[], Any]) -> tuple[bytes, bytes]:
    """(code key, identity key): the identity key is the code key when none is configured."""
    wanted = {name: variable for variable, value, name in (
        ("OTP_SECRET_PARAMETER", config.secret, config.secret_parameter),
        ("OTP_IDENTITY_SECRET_PARAMETER", config.identity_secret, config.identity_secret_parameter),
    ) if value is None and name is not None}
    read = _get_secure_strings(wanted, ssm_client) if wanted else {}  # one round trip for both
    for name, variable in wanted.items():
        if len(read[name]) < 32:
            raise ConfigError(f"{variable} {name!r} is too short")
    code_key = _value(config.secret, config.secret_parameter, read)
    if code_key is None:
        # Only the local stage gets here (Config refuses it elsewhere): codes do not survive a
        # restart of `make run`, which is what a developer expects of a scratch server.
        log.warning("no OTP_SECRET set: using a random secret for this process (local stage only)")
        code_key = secrets.token_bytes(32)
    identity_key = _value(config.identity_secret, config.identity_secret_parameter, read)
    return code_key, code_key if identity_key is None else identity_key


def _value(secret: str | None, name: str | None, read: dict[str, str]) -> bytes | None:
    if secret is not None:
        return secret.encode("utf-8")
    return read[name].encode("utf-8") if name is not None else None
