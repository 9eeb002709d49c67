"""Two small idempotent steps the deploy's features share (SNS delivery-status logs, API Gateway
access logs, the function's own log groups): an IAM role an AWS service assumes, and a log
group with its retention.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy's retentionInDays).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)
DEFAULT_RETENTION_DAYS = 30


def ensure_service_role(iam: Any, name: str, trust: Mapping[str, Any], description: str,
                        policy_name: str, policy: Mapping[str, Any]) -> tuple[str, bool]:
    """(the ARN of the role ``name`` that an AWS service assumes, whether it was created now),
    with its inline policy put (again) to ``policy``. A role created now is not assumable at
    once (IAM is eventually consistent): callers retry their first use of it."""
    try:
        role_arn, created = iam.get_role(RoleName=name)["Role"]["Arn"], False
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "NoSuchEntity":
            raise
        role_arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                                   Description=description)["Role"]["Arn"]
        created = True
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(policy))
    return role_arn, created


def ensure_log_retention(logs: Any, name: str, days: int) -> str:
    """The log group, created before Lambda (or API Gateway) would create it with no retention."""
    try:
        logs.create_log_group(logGroupName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
            raise
    logs.put_retention_policy(logGroupName=name, retentionInDays=days)
    return f"log group {name}: retention {days} days"
