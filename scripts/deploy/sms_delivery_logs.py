"""SNS SMS delivery-status logging, which `make deploy` turns on for a stage that sends SMS
through SNS (scripts/deploy/provision.py after): an account setting (per region) shared by every
stage, with the IAM role SNS assumes to write to CloudWatch Logs.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from botocore.exceptions import ClientError

from scripts.deploy.service_roles import ensure_service_role

SMS_STATUS_ROLE = "phone-verify-sns-delivery-status"
SMS_STATUS_SUCCESS_SAMPLING = "100"  # failures are always logged; log every success too

SNS_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def sns_logs_policy(part: str) -> dict:
    # What SNS needs to write delivery status (docs.aws.amazon.com/sns/latest/dg/topics-attrib-prereq.html),
    # scoped to SNS's own log groups: sns/<region>/<account>/DirectPublishToPhoneNumber[/Failure]
    # (repost.aws/knowledge-center/monitor-sns-texts-cloudwatch).
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": f"arn:{part}:logs:*:*:log-group:sns/*",
    }]}


def ensure_sms_delivery_logging(iam: Any, sns: Any, part: str,
                                sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """SNS SMS delivery-status logs in CloudWatch (sns/<region>/<account>/DirectPublishToPhoneNumber):
    the only place a message SNS accepted and then dropped (sandbox, spend limit) shows up."""
    role_arn, created = ensure_service_role(
        iam, SMS_STATUS_ROLE, SNS_TRUST, "SNS writes SMS delivery status to CloudWatch Logs (phone-verify)",
        "sns-delivery-status-logs", sns_logs_policy(part))
    done = [f"created IAM role {SMS_STATUS_ROLE}"] if created else []
    # All of them (moto 5.2.5 filters to the first name only).
    current = sns.get_sms_attributes()["attributes"]
    if current.get("DeliveryStatusIAMRole") not in (None, "", role_arn):
        return done + ["SNS SMS delivery-status logging already uses "
                       f"{current['DeliveryStatusIAMRole']} (kept)"]
    if current.get("DeliveryStatusIAMRole") == role_arn and \
            current.get("DeliveryStatusSuccessSamplingRate") == SMS_STATUS_SUCCESS_SAMPLING:
        return done + ["SNS SMS delivery-status logging already on"]
    for attempt in range(10):
        try:
            sns.set_sms_attributes(attributes={
                "DeliveryStatusIAMRole": role_arn,
                "DeliveryStatusSuccessSamplingRate": SMS_STATUS_SUCCESS_SAMPLING,
            })
            break
        except ClientError as exc:
            # A role created a moment ago is not yet assumable everywhere (IAM is eventually consistent).
            retryable = ("InvalidParameter", "AuthorizationError")
            if not created or attempt == 9 or exc.response["Error"]["Code"] not in retryable:
                raise
            sleep(3)
    return done + ["SNS SMS delivery-status logging on "
                   "(CloudWatch Logs: sns/<region>/<account>/DirectPublishToPhoneNumber)"]
