"""A log group with its retention, made before Lambda or API Gateway would make it with none
(the function's, its handlers', the access log's), and the periods CloudWatch Logs accepts.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy's retentionInDays).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)
DEFAULT_RETENTION_DAYS = 30


def ensure_log_retention(logs: Any, name: str, days: int) -> str:
    """The log group, created before Lambda (or API Gateway) would create it with no retention."""
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    return f"log group {name}: retention {days} days"
