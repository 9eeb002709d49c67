"""The server secrets, SSM SecureStrings made on a stage's first deploy and never overwritten
(`make deploy`, `make secret`: scripts/deploy/provision.py):

- the code key (OTP_SECRET_PARAMETER): keys every code's MAC; random;
- the identity key (OTP_IDENTITY_SECRET_PARAMETER): keys every number's and identity's item key,
  the v2 SIDs and API keys (docs/architecture.md, docs/twilio-verify.md). Made as a COPY of the
  stage's code key when that exists, so a deployment from before the split keeps its keys and
  SIDs; random on a new stage.
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError

_CODE_KEY = "phone-verify server secret (keys every code MAC); rotate freely: voids pending codes only"
_IDENTITY_KEY = ("phone-verify identity key (keys item keys, SIDs, API keys); rotate after a compromise "
                 "only: voids TOTP enrolments, API keys and SIDs")


def ensure_secret(ssm: Any, name: str) -> str:
    return _ensure(ssm, name, lambda: secrets.token_urlsafe(48), _CODE_KEY)[0]


def ensure_identity_secret(ssm: Any, name: str, code_key_name: str | None) -> str:
    """The identity key: a copy of the code key ``code_key_name`` when it exists (run this
    before ensure_secret, so a new stage gets two random keys), else random."""
    copied = []

    def initial() -> str:
        if code_key_name is not None:
            current = _read(ssm, code_key_name)
            if current is not None:
                copied.append(code_key_name)
                return current
        return secrets.token_urlsafe(48)

    line, created = _ensure(ssm, name, initial, _IDENTITY_KEY)
    if created and copied:
        return f"{line} as a copy of {code_key_name} (item keys, SIDs and API keys unchanged)"
    return line


def _read(ssm: Any, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return None


def _ensure(ssm: Any, name: str, initial: Any, description: str) -> tuple[str, bool]:
    try:
        ssm.get_parameter(Name=name)
        return f"secret {name} exists (kept)", False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
    try:
        # Overwrite=False: a deploy running at the same time that made it first wins, and this
        # one keeps what it made (ParameterAlreadyExists) rather than replace a key in use.
        ssm.put_parameter(Name=name, Type="SecureString", Value=initial(), Overwrite=False,
                          Description=description)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterAlreadyExists":  # a concurrent deploy
            return f"secret {name} exists (kept)", False
        raise
    return f"secret {name} created", True
