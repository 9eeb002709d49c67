"""A number's item decoded into its Verification, and the parts of a verification the store
writes (its receipt binding). Here, beside the store, not in the kernel's DynamoDB plumbing
(chalicelib/dynamodb.py), which knows no capability's model."""

from __future__ import annotations

from typing import Any

from chalicelib.verify.models import ReceiptBinding, SendAttempt, Verification


def _send_attempt(value: dict[str, Any]) -> SendAttempt:
    m = value["M"]
    return SendAttempt(
        m["channel"]["S"], m["provider"]["S"], int(m["at_ms"]["N"]),
        status=m.get("status", {}).get("S", "accepted"), error_code=m.get("error_code", {}).get("S"),
        permanent=m.get("permanent", {}).get("N") == "1",
    )


def approved_at(item: dict[str, Any] | None) -> int | None:
    value = (item or {}).get("approved_at", {}).get("N")
    return int(value) if value is not None else None


def to_verification(item: dict[str, Any] | None) -> Verification | None:
    """The verification in a number's item; None for no item, a counter, or a removed one."""
    if not item or "vid" not in item:
        return None
    plain: dict[str, Any] = {
        k: (int(v["N"]) if "N" in v else v.get("S")) for k, v in item.items() if "L" not in v
    }
    return Verification(
        id=plain["vid"],
        to=plain["to"],
        channel=plain["channel"],
        code_mac=plain["code_mac"],
        created_at=plain["created_at"],
        expires_at=plain["code_expires_at"],
        sent_at_ms=plain["sent_at_ms"],
        send_count=plain["send_count"],
        attempts=plain["attempts"],
        max_attempts=plain["max_attempts"],
        guess_mac=plain.get("guess_mac"),
        canceled_at=plain.get("canceled_at"),
        sends=tuple(_send_attempt(x) for x in item.get("sends", {}).get("L", [])),
        approved_at=approved_at(item),
        binding=_binding(item.get("binding")),
        scope=plain.get("svc") or "",
        metadata=plain.get("meta"),
        # Absent on an item made before every code stayed live: its one code_mac is the list.
        code_macs=tuple(x["S"] for x in item.get("code_macs", {}).get("L", [])),
    )


def _binding(value: dict[str, Any] | None) -> ReceiptBinding | None:
    if not value or "M" not in value:
        return None
    fields = value["M"]
    return ReceiptBinding(fields.get("nonce", {}).get("S"), fields.get("purpose", {}).get("S"))


def binding_value(binding: ReceiptBinding | None) -> dict[str, str] | None:
    """The item's ``binding`` map (None: the attribute is removed)."""
    return binding.claims() or None if binding is not None else None
