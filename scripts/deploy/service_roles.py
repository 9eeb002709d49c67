"""An IAM role an AWS service assumes (SNS for SMS delivery-status logs, API Gateway for access
logs), made once and its inline policy put again on each deploy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError


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
