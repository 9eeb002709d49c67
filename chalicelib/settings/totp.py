"""Authenticator-app factors' settings (chalicelib/totp/service.py): OTP_TOTP_*."""

from __future__ import annotations

from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import _KMS_KEY_ID, _int, _str, section


@section
class TotpSettings:
    """Authenticator-app factors (chalicelib/totp/service.py). ``key_id`` None: TOTP is off (local
    and test stages without OTP_TOTP_KEY_ID); deployed stages default to the stage's key."""

    key_id: str | None
    max_factors: int
    enroll_ttl_seconds: int
    window: int  # time steps accepted either side of now
    max_failures: int  # consecutive wrong codes that suspend a factor (NIST 800-63B: <= 100)

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str) -> "TotpSettings":
        key_id = _str(env, "OTP_TOTP_KEY_ID")
        if key_id is not None and not _KMS_KEY_ID.fullmatch(key_id):
            raise ConfigError(f"OTP_TOTP_KEY_ID {key_id!r} must be a KMS key id, key ARN or alias/... name")
        if key_id is None and stage not in ("local", "test"):
            key_id = f"alias/phone-verify-{stage}-totp"  # scripts/keys/kms.py totp_alias
        return cls(
            key_id=key_id,
            max_factors=_int(env, "OTP_TOTP_MAX_FACTORS", 5, 1, 20),
            enroll_ttl_seconds=_int(env, "OTP_TOTP_ENROLL_TTL_SECONDS", 900, 60, 86400),
            window=_int(env, "OTP_TOTP_WINDOW", 1, 0, 2),
            max_failures=_int(env, "OTP_TOTP_MAX_FAILURES", 100, 10, 100),
        )
