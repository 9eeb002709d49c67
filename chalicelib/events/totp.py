"""A DynamoDB Stream record of an identity's TOTP item (``pk = "t#..."``, chalicelib/totp/store.py)
-> the events it implies (docs/events.md):

    a factor's status unverified -> verified          totp.factor_verified
    a verified factor's last_step up                  totp.approved (a challenge accepted)
    a factor's suspended_at set                       totp.factor_suspended (its consecutive
                                                      wrong codes reached the cap)
    a factor's replayed_at set anew                   totp.code_replayed (a code already used
                                                      was sent again: answered as a wrong one)

Read from the images' factor maps (``f_<suffix>``: ``id``, ``status``, ``last_step``, ``fails``,
``suspended_at``, ``replayed_at``) only: the secret's ciphertext is never read or sent. The
identity is the app's own user id.
"""

from __future__ import annotations

from typing import Any, Mapping

from chalicelib.totp import VERIFIED

TOTP_ITEM_PREFIX = "t#"


def _factors(image: Mapping[str, Any] | None) -> dict[str, tuple[str, int, int, bool, str | None]]:
    """factor id -> (status, last_step, fails, suspended, replayed_at)."""
    found = {}
    for name, value in (image or {}).items():
        if name.startswith("f_") and isinstance(value, Mapping) and "M" in value:
            m = value["M"]
            found[m["id"]["S"]] = (m["status"]["S"], int(m["last_step"]["N"]),
                                   int(m.get("fails", {}).get("N", 0)), "suspended_at" in m,
                                   m.get("replayed_at", {}).get("N"))
    return found


def totp_changes(old_image: Mapping[str, Any] | None,
                 new_image: Mapping[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) for each event, factor by factor in id order. Raises KeyError,
    TypeError or ValueError on an image that is not a TOTP item's."""
    before, after = _factors(old_image), _factors(new_image)
    identity = ((new_image or old_image or {}).get("identity") or {}).get("S")
    found: list[tuple[str, dict[str, Any]]] = []
    for factor_id in sorted(after):
        status, step, fails, suspended, replayed_at = after[factor_id]
        was = before.get(factor_id)
        if was is None or status != VERIFIED:
            continue
        data: dict[str, Any] = {"identity": identity, "factor_id": factor_id}
        if was[0] != VERIFIED:
            found.append(("totp.factor_verified", data))
        elif step > was[1]:
            found.append(("totp.approved", data))
        if replayed_at is not None and replayed_at != was[4]:
            found.append(("totp.code_replayed", {**data, "consecutive_failures": fails}))
        if suspended and not was[3]:
            found.append(("totp.factor_suspended", {**data, "consecutive_failures": fails}))
    return found
