"""Create or update the verifications table, idempotently.

    python scripts/deploy/create_table.py [TABLE_NAME]

Uses the ordinary AWS environment (AWS_ENDPOINT_URL_DYNAMODB is respected), so the same
command targets moto's server, dynalite or AWS. On-demand billing; TTL on ``expires_at``
where the server supports it (dynalite does not: that is reported, not fatal); the table's
stream on with NEW_AND_OLD_IMAGES, which events are read from (docs/events.md); the
``attempts`` global secondary index (the v2 Attempts list, chalicelib/verify/attempts.py), added to
an existing table too (DynamoDB builds it from the items already there; nothing else waits).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from botocore.exceptions import ClientError

TTL_ATTRIBUTE = "expires_at"
STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
# The Attempts list's index: sparse (only attempt items carry ``ak``), SHARDS partitions of
# attempts sorted by time. Its attributes beside the table's key (scripts/deploy/package_template.py
# declares the same).
ATTRIBUTES = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "ak", "as")]
ATTEMPTS_INDEX = {"IndexName": "attempts",
                  "KeySchema": [{"AttributeName": "ak", "KeyType": "HASH"},
                                {"AttributeName": "as", "KeyType": "RANGE"}],
                  "Projection": {"ProjectionType": "ALL"}}


def ensure_table(client: Any, name: str, wait_seconds: float = 30.0, encrypted: bool = False) -> list[str]:
    """Create the table if missing, turn TTL and the stream on; returns what it did, one line each.
    ``encrypted``: create it with server-side encryption under the AWS managed KMS key."""
    done: list[str] = []
    try:
        client.describe_table(TableName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=ATTRIBUTES,
            GlobalSecondaryIndexes=[ATTEMPTS_INDEX],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification=STREAM,
            **({"SSESpecification": {"Enabled": True, "SSEType": "KMS"}} if encrypted else {}),
        )
        done.append(f"created table {name}")
    deadline = time.monotonic() + wait_seconds
    while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} did not become ACTIVE")
        time.sleep(0.2)
    done.append(_ensure_ttl(client, name))
    done.append(_ensure_stream(client, name, deadline))
    done.append(_ensure_index(client, name))
    return done


def _ensure_index(client: Any, name: str) -> str:
    """The attempts index on a table made before it (one UpdateTable; DynamoDB backfills it
    while the table serves, and the list reads nothing from it until it is ACTIVE)."""
    indexes = client.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes") or []
    if any(index["IndexName"] == ATTEMPTS_INDEX["IndexName"] for index in indexes):
        return "attempts index already on"
    client.update_table(TableName=name, AttributeDefinitions=ATTRIBUTES,
                        GlobalSecondaryIndexUpdates=[{"Create": ATTEMPTS_INDEX}])
    return "attempts index created (DynamoDB fills it from the existing items)"


def stream_arn(client: Any, name: str) -> str | None:
    """The table's current stream (its ARN carries a label that changes when the stream is
    turned off and on again), or None."""
    table = client.describe_table(TableName=name)["Table"]
    on = table.get("StreamSpecification", {}).get("StreamEnabled")
    return table.get("LatestStreamArn") if on else None


def ensure_protections(client: Any, table: str) -> list[str]:
    """Point-in-time recovery and KMS server-side encryption on an existing table (a deployed
    stage's: `make deploy`, scripts/deploy/provision.py before)."""
    done = []
    backups = client.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
    if pitr != "ENABLED":
        client.update_continuous_backups(
            TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        done.append("point-in-time recovery enabled")
    else:
        done.append("point-in-time recovery already on")
    sse = client.describe_table(TableName=table)["Table"].get("SSEDescription", {})
    if sse.get("Status") not in ("ENABLED", "ENABLING"):
        client.update_table(TableName=table, SSESpecification={"Enabled": True, "SSEType": "KMS"})
        done.append("server-side encryption (KMS) enabled")
    else:
        done.append("server-side encryption already on")
    return done


def _ensure_stream(client: Any, name: str, deadline: float) -> str:
    spec = client.describe_table(TableName=name)["Table"].get("StreamSpecification") or {}
    if spec.get("StreamEnabled") and spec.get("StreamViewType") == STREAM["StreamViewType"]:
        return "stream already on (NEW_AND_OLD_IMAGES)"
    if spec.get("StreamEnabled"):  # another view type: a table has one stream, and it is in use
        raise SystemExit(f"table {name} has a {spec.get('StreamViewType')} stream: events need "
                         "NEW_AND_OLD_IMAGES (turn that stream off first if nothing else reads it)")
    try:
        client.update_table(TableName=name, StreamSpecification=STREAM)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("UnknownOperationException", "ValidationException"):
            return f"stream not supported by this server: {exc.response['Error'].get('Message', '')}"
        raise
    while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {name} did not become ACTIVE")
        time.sleep(0.2)
    return "stream on (NEW_AND_OLD_IMAGES)"


_NO_TTL = "TTL not supported by this server (dynalite): expiry is still checked in code"


def _ensure_ttl(client: Any, name: str) -> str:
    try:
        ttl = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        if on and ttl.get("AttributeName") == TTL_ATTRIBUTE:
            return f"TTL already on {TTL_ATTRIBUTE}"
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
    except ClientError as exc:
        error = exc.response["Error"]
        if error["Code"] == "UnknownOperationException":
            return _NO_TTL
        if error["Code"] == "ValidationException" and "multiple times" in error.get("Message", ""):
            # DynamoDB allows one TTL change per table per hour. Expiry is checked in code, so
            # the service is correct meanwhile; only the clean-up waits.
            return (f"TTL on {TTL_ATTRIBUTE} not changed: DynamoDB allows one TTL change an hour; "
                    "run this again later (expiry is enforced in code meanwhile)")
        raise
    return f"TTL enabled on {TTL_ATTRIBUTE}"


def main(argv: list[str]) -> int:
    import boto3

    name = argv[1] if len(argv) > 1 else os.environ.get("OTP_TABLE_NAME")
    if not name:
        print("usage: create_table.py TABLE_NAME (or set OTP_TABLE_NAME)", file=sys.stderr)
        return 2
    for line in ensure_table(boto3.client("dynamodb"), name):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
