"""What every AWS-facing script checks first, and how it says what is missing: one line, exit 1.

The deploy targets (scripts/deploy/provision.py), `make destroy` and the credentials' commands
(scripts/keys/api_keys.py) find the region (scripts/deploy/provision.py ``region``), then the credentials
(``require_credentials``: botocore's own chain, nothing is called), and run their steps inside
``one_line``: an error AWS answers (expired credentials, access denied) or botocore raises is
printed as one line that names what to fix, never as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

NO_CREDENTIALS = (
    "No AWS credentials found: run `aws configure` (or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY), then run the command again")

# Errors that mean the credentials are there but are not good (the STS and IAM docs' names:
# docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
_BAD_CREDENTIALS = frozenset({
    "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
    "SignatureDoesNotMatch", "InvalidSignatureException", "RequestExpired",
})


def require_credentials(session: Any) -> None:
    """SystemExit(NO_CREDENTIALS) when botocore's chain finds none (environment, profile, SSO,
    container or instance role); makes no AWS call."""
    if session.get_credentials() is None:
        raise SystemExit(NO_CREDENTIALS)


NO_REGION = """No AWS region configured. Set one, for example:
  export AWS_DEFAULT_REGION=eu-west-1     (or AWS_REGION, or `aws configure set region eu-west-1`)"""

def describe(exc: BaseException) -> str | None:
    """The one line for a botocore error, or None for anything else (a bug: its traceback stays)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return NO_CREDENTIALS
    if isinstance(exc, NoRegionError):
        return NO_REGION
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        operation = getattr(exc, "operation_name", "a call")
        if code in _BAD_CREDENTIALS:
            return (f"AWS refused the credentials ({code}: {message}): refresh them (`aws sso login`, "
                    "`aws configure`) and run the command again")
        return f"AWS refused {operation} ({code}: {message})"
    if isinstance(exc, BotoCoreError):
        return f"could not reach AWS: {exc}"
    return None


@contextmanager
def one_line() -> Iterator[None]:
    """Run AWS calls; a botocore error ends the script with its one line (exit 1)."""
    try:
        yield
    except Exception as exc:
        line = describe(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        raise SystemExit(1) from None
