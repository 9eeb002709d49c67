"""The server secret (keys every code's MAC, every number's item key and the Twilio-compatible
API keys: docs/architecture.md, docs/twilio-verify.md): an SSM SecureString made with a random
value on a stage's first deploy and never overwritten (`make deploy`, `make secret`:
scripts/provision.py).
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError


def ensure_secret(ssm: Any, name: str) -> str:
    try:
        ssm.get_parameter(Name=name)
        return f"secret {name} exists (kept)"
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
    try:
        ssm.put_parameter(
            Name=name,
            Type="SecureString",
            Value=secrets.token_urlsafe(48),
            Overwrite=False,
            Description="phone-verify server secret (keys every code MAC); rotate with care",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterAlreadyExists":  # a concurrent deploy
            return f"secret {name} exists (kept)"
        raise
    return f"secret {name} created"
