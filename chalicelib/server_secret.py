"""The server secret that keys every MAC: from SSM Parameter Store (SecureString) in
deployed stages, from OTP_SECRET locally and in tests. Fetched once per container."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Callable

from chalicelib.config import Config, ConfigError

log = logging.getLogger("verify")


def load_server_secret(config: Config, ssm_client: Callable[[], Any]) -> bytes:
    if config.secret is not None:
        return config.secret.encode("utf-8")
    if config.secret_parameter is not None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = ssm_client().get_parameter(
                Name=config.secret_parameter, WithDecryption=True
            )
        except (BotoCoreError, ClientError) as exc:
            # The parameter's name is safe to log; its value never is.
            raise ConfigError(
                f"OTP_SECRET_PARAMETER {config.secret_parameter!r} could not be read: "
                f"{type(exc).__name__}"
            ) from None
        value = response["Parameter"]["Value"]
        if len(value) < 32:
            raise ConfigError(f"OTP_SECRET_PARAMETER {config.secret_parameter!r} is too short")
        return value.encode("utf-8")
    # Only the local stage gets here (Config refuses it elsewhere): codes do not survive a
    # restart of `make run`, which is what a developer expects of a scratch server.
    log.warning("no OTP_SECRET set: using a random secret for this process (local stage only)")
    return secrets.token_bytes(32)
