"""The floor: exactly the DynamoDB calls the handler makes, replayed by hand with boto3 and
nothing else (no validation, no hashing, no service code, no HTTP handler).

``capture`` records the calls a client makes (botocore's provide-client-params hook);
``replay`` makes them again on another client, with the number's item key replaced by a fresh
one, so a replayed request creates a new verification exactly as the handler did.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path
from typing import Any

from botocore import xform_name


def capture(client: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(params: dict, model: Any, **_: Any) -> None:
        calls.append({"operation": model.name, "params": copy.deepcopy(params)})

    client.meta.events.register("provide-client-params.dynamodb", record)
    return calls


def replay(client: Any, calls: list[dict[str, Any]], table: str, number_pk: str) -> None:
    """The number's item and its prefix counter get fresh keys (as a new number would); the
    IP, country and budget counters are the same items the handler's writes hit."""
    prefix_pk = "rl#prefix#" + secrets.token_hex(6)
    for call in calls:
        params = copy.deepcopy(call["params"])
        params["TableName"] = table
        key = params.get("Key", {}).get("pk", {})
        if key.get("S", "").startswith("v#"):
            key["S"] = number_pk
        elif key.get("S", "").startswith("rl#prefix#"):
            key["S"] = prefix_pk
        getattr(client, xform_name(call["operation"]))(**params)


def fresh_number_pk() -> str:
    return "v#" + secrets.token_hex(16)


def save(path: Path, request: list, check: list) -> None:
    path.write_text(json.dumps({"request": request, "check": check}))


def load(path: Path) -> dict[str, list]:
    return json.loads(path.read_text())
