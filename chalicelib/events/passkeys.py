"""A DynamoDB Stream record of an identity's item (``pk = "t#..."``, chalicelib/passkeys/store.py)
-> the passkey events it implies (docs/events.md):

    a passkey's status unverified -> verified       passkey.registered
    a verified passkey's used_at moves              passkey.approved (a sign-in accepted)
    a passkey's regressed_at set anew               passkey.counter_regressed (an assertion whose
                                                    sign counter went back was refused: a clone?)

Read from the images' passkey maps (``k_<suffix>``: ``id``, ``status``, ``used_at``,
``regressed_at``, ``count``) only: no key or credential id is sent. The identity is the app's
user id (v2) or the number (v1's page: masked unless OTP_EVENTS_INCLUDE_NUMBER)."""

from __future__ import annotations

from typing import Any, Callable, Mapping

VERIFIED = "verified"


def _passkeys(image: Mapping[str, Any] | None) -> dict[str, tuple[str, str | None, str | None, int]]:
    """factor id -> (status, used_at, regressed_at, count)."""
    found = {}
    for name, value in (image or {}).items():
        if name.startswith("k_") and isinstance(value, Mapping) and "M" in value:
            m = value["M"]
            found[m["id"]["S"]] = (m["status"]["S"], m.get("used_at", {}).get("N"),
                                   m.get("regressed_at", {}).get("N"), int(m.get("count", {}).get("N", 0)))
    return found


def passkey_changes(old_image: Mapping[str, Any] | None, new_image: Mapping[str, Any] | None,
                    mask: Callable[[str], str]) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) for each event, passkey by passkey in id order; ``mask`` hides a v1
    number. Raises KeyError, TypeError or ValueError on an image that is not an identity's."""
    before, after = _passkeys(old_image), _passkeys(new_image)
    identity = ((new_image or old_image or {}).get("identity") or {}).get("S") or ""
    who = mask(identity) if identity.startswith("+") else identity
    found: list[tuple[str, dict[str, Any]]] = []
    for factor_id in sorted(after):
        status, used_at, regressed_at, count = after[factor_id]
        was = before.get(factor_id)
        if was is None or status != VERIFIED:
            continue
        data: dict[str, Any] = {"identity": who, "factor_id": factor_id}
        if was[0] != VERIFIED:
            found.append(("passkey.registered", data))
        elif used_at is not None and used_at != was[1]:
            found.append(("passkey.approved", {**data, "sign_count": count}))
        if regressed_at is not None and regressed_at != was[2]:
            found.append(("passkey.counter_regressed", {**data, "sign_count": count}))
    return found
