"""OTP_TEST_NUMBERS: fixed codes and rehearsed failures for test numbers."""

from __future__ import annotations

import json
import re
from typing import Mapping

from chalicelib.errors import ConfigError
from chalicelib.settings.env import _str, section

# How a test number's rehearsal send fails (chalicelib/channels/providers/rehearsal.py).
FAIL_MODES = ("permanent", "transient", "timeout")


@section
class TestNumbers:
    """OTP_TEST_NUMBERS: numbers (or ^regex ranges) for app-store review and end-to-end tests.
    Each value is a fixed code ("123456" or {"code": "123456"}), or a failure on purpose
    ({"fail": "permanent"|"transient"|"timeout"}, optionally with a "code"): no SMS is ever
    sent to a test number; see chalicelib/channels/providers/rehearsal.py for how each failure answers."""

    exact: Mapping[str, str]
    ranges: tuple[tuple["re.Pattern[str]", str], ...]
    failures: Mapping[str, str] = None  # type: ignore[assignment]  # number or ^regex -> fail mode

    def code_for(self, e164: str) -> str | None:
        if e164 in self.exact:
            return self.exact[e164]
        for pattern, code in self.ranges:
            if pattern.fullmatch(e164):
                return code
        return None

    def fail_for(self, e164: str) -> str | None:
        """The failure a test number is configured to rehearse, or None."""
        failures = self.failures or {}
        if e164 in failures:
            return failures[e164]
        for pattern, _ in self.ranges:
            if pattern.pattern in failures and pattern.fullmatch(e164):
                return failures[pattern.pattern]
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str], stage: str, code_length: int) -> "TestNumbers":
        raw = _str(env, "OTP_TEST_NUMBERS")
        if raw is None:
            return cls({}, (), {})
        if stage == "prod" and (_str(env, "OTP_ALLOW_TEST_NUMBERS_IN_PROD") or "").lower() != "true":
            raise ConfigError(
                "OTP_TEST_NUMBERS is refused in the 'prod' stage unless OTP_ALLOW_TEST_NUMBERS_IN_PROD=true"
            )
        try:
            numbers = json.loads(raw)
        except ValueError:
            numbers = None
        if not isinstance(numbers, dict):
            raise ConfigError('OTP_TEST_NUMBERS must be a JSON object such as {"+15005550006": "123456"}')
        exact: dict[str, str] = {}
        ranges = []
        failures: dict[str, str] = {}
        for key, value in numbers.items():
            if isinstance(value, str):  # the original form, kept: "123456" means {"code": "123456"}
                value = {"code": value}
            if not isinstance(value, dict) or not value or set(value) - {"code", "fail"}:
                raise ConfigError(
                    f'OTP_TEST_NUMBERS: the value for {key!r} must be "<code>", {{"code": "<code>"}} '
                    f'or {{"fail": "permanent"|"transient"|"timeout"}}'
                )
            fail = value.get("fail")
            if fail is not None and fail not in FAIL_MODES:
                raise ConfigError(
                    f"OTP_TEST_NUMBERS: 'fail' for {key!r} must be one of {', '.join(FAIL_MODES)}"
                )
            # A failing number that never reaches a provider needs no code; one that fails over
            # (transient) verifies with its "code", all zeros when none is given.
            code = value.get("code", "0" * code_length if fail else None)
            if not isinstance(code, str) or not re.fullmatch(f"[0-9]{{{code_length}}}", code, re.ASCII):
                raise ConfigError(f"OTP_TEST_NUMBERS: the code for {key!r} must be {code_length} digits")
            if fail is not None:
                failures[key] = fail
            if key.startswith("^"):
                try:
                    ranges.append((re.compile(key, re.ASCII), code))
                except re.error:
                    raise ConfigError(f"OTP_TEST_NUMBERS: {key!r} is not a valid regex") from None
            elif re.fullmatch(r"\+[1-9][0-9]{6,14}", key, re.ASCII):
                exact[key] = code
            else:
                raise ConfigError(f"OTP_TEST_NUMBERS: {key!r} is neither an E.164 number nor a ^regex")
        return cls(exact, tuple(ranges), failures)
