"""What `make deploy` ensures around `chalice deploy`, and the secret `make secret` makes alone.

    python scripts/deploy/provision.py region        # the AWS region in use, or a message naming it
    python scripts/deploy/provision.py credentials   # the account and identity in use, or what is missing
    python scripts/deploy/provision.py secret --stage prod  # only the secret (CloudFormation path)
    python scripts/deploy/provision.py before --stage dev   # the table (its stream on), the secret,
                                # with events the failed-records queue, with WhatsApp or email
                                # their topics (scripts/deploy/channel_resources.py)
    python scripts/deploy/provision.py stream --stage dev   # the table stream's ARN (events on)
    python scripts/deploy/provision.py after --stage dev    # throttling, gateway responses
                                # (deployed), log retention, SNS SMS delivery-status logs, the
                                # events mapping's error handling, API Gateway access logs, the
                                # operator's dashboard (scripts/deploy/dashboard.py), how to attach
                                # the Cognito trigger (scripts/deploy/cognito_trigger.py)
    python scripts/deploy/provision.py destroy --stage dev  # after chalice delete: the dashboard

Idempotent: a second run changes nothing. The table is created if missing (on-demand, TTL on
``expires_at``, point-in-time recovery and server-side encryption with the AWS managed KMS
key); an existing table is checked and its TTL, PITR and SSE fixed, never dropped or
recreated. The secrets (SSM SecureStrings) are created on the first deploy and never
overwritten: the code key random, the identity key a copy of an existing code key (a stage from
before the split keeps its item keys, SIDs and API keys), else random. Names come from the
stage's entry in .chalice/config.json.

This module reads the stage's settings (scripts/deploy/stage.py) and runs the steps in order;
each step is its own module: the table (scripts/deploy/create_table.py), the secret
(scripts/keys/server_secret.py) and KMS keys (scripts/keys/kms.py), API Gateway's throttling and
error answers (scripts/deploy/gateway_settings.py), log groups (scripts/deploy/log_groups.py),
service roles (scripts/deploy/service_roles.py), SNS SMS delivery-status logs
(scripts/deploy/sms_delivery_logs.py), access logs (scripts/deploy/access_logs.py), events
(scripts/deploy/events_resources.py), the WhatsApp and email channels
(scripts/deploy/channel_resources.py). No step imports this module.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from collections.abc import Mapping
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

# The steps, one module each; this module reads the stage's settings and runs them in order.
from scripts.deploy import stage as _stage  # noqa: E402  (its ROOT: the project, tests point it elsewhere)
from scripts.deploy.log_groups import ensure_log_retention  # noqa: E402
# The stage as .chalice/config.json gives it (scripts/deploy/stage.py), for the steps and the callers.
from scripts.deploy.stage import chalice_config as chalice_config  # noqa: E402
from scripts.deploy.stage import function_name as function_name  # noqa: E402
from scripts.deploy.stage import log_group_name as log_group_name  # noqa: E402
from scripts.deploy.stage import log_retention_days as log_retention_days  # noqa: E402
from scripts.deploy.stage import stage_config as stage_config  # noqa: E402
from scripts.deploy.stage import stage_kind as stage_kind  # noqa: E402
from scripts.deploy.stage import stage_variables as stage_variables  # noqa: E402
from scripts.deploy.create_table import ensure_protections, ensure_table, stream_arn  # noqa: E402
from scripts.deploy.gateway_settings import ensure_gateway_responses, ensure_throttling  # noqa: E402
from scripts.keys.server_secret import ensure_identity_secret, ensure_secret  # noqa: E402
from scripts.deploy.sms_delivery_logs import ensure_sms_delivery_logging  # noqa: E402

# The message when there is no region: aws_access.py's (it says every operator error in one line).
from scripts.deploy.aws_access import NO_REGION as NO_REGION  # noqa: E402


def uses_sns(stage: str) -> bool:
    variables = stage_variables(stage)
    routes = json.loads(variables.get("SMS_ROUTES") or "{}")
    chains = [variables.get("SMS_PROVIDER", "console"), *routes.values()]
    return any("sns" in [p.strip() for p in chain.split(",")] for chain in chains)


def events_on(stage: str) -> bool:
    """The stage has the stream's consumer: OTP_EVENTS_URL or OTP_TWILIO_WEBHOOKS."""
    from chalicelib.settings.events import stream_consumer

    return stream_consumer(stage_variables(stage))


def region(environ: Mapping[str, str] | None = None) -> str:
    """The region botocore would use (AWS_DEFAULT_REGION, the profile's config), else AWS_REGION
    (which botocore ignores); a SystemExit naming the variables when there is none."""
    import boto3

    env = os.environ if environ is None else environ
    found = boto3.session.Session().region_name or env.get("AWS_REGION")
    if not found:
        raise SystemExit(NO_REGION)
    return found


def partition(region_name: str) -> str:
    import boto3

    return boto3.session.Session().get_partition_for_region(region_name)


def before(stage: str, dynamodb: Any, ssm: Any, kms: Any, sqs: Any = None, cloudwatch: Any = None,
           sns: Any = None, sesv2: Any = None, social: Any = None, sts: Any = None,
           part: str = "aws") -> list[str]:
    variables = stage_variables(stage)
    table = variables["OTP_TABLE_NAME"]
    done = ensure_table(dynamodb, table, encrypted=True)
    done += ensure_protections(dynamodb, table)
    done += secret(stage, ssm, kms)
    done += cognito_key(stage, kms, sts, part)
    if events_on(stage):  # events are opt-in: where undeliverable records go exists before the mapping
        from scripts.deploy.events_resources import ensure_failed_queue

        arn = ensure_failed_queue(sqs, cloudwatch, chalice_config()["app_name"], stage)
        done.append(f"events: failed-records queue {arn} and its alarm ready")
    # the topics chalice subscribes to
    from scripts.deploy.channel_resources import ensure_channel_resources as channels

    return done + channels(variables, sns, sesv2, social, _stage.ROOT / ".chalice" / f"policy-{stage}.json")


def cognito_key(stage: str, kms: Any, sts: Any, part: str = "aws") -> list[str]:
    """The key Cognito encrypts the trigger's codes with, when the stage has the trigger and
    names the stage's own alias (another key named is the operator's to manage)."""
    from scripts.keys.kms import cognito_alias, ensure_cognito_key

    key = stage_variables(stage).get("OTP_HOOK_COGNITO_KEY_ID")
    if not key:
        return []
    if key != cognito_alias(stage):
        return [f"Cognito key named by OTP_HOOK_COGNITO_KEY_ID (yours to manage): {key}"]
    account = sts.get_caller_identity()["Account"]
    return [f"Cognito key {ensure_cognito_key(kms, stage, account, part)} ready"]


def events_stream(stage: str, dynamodb: Any) -> str:
    """What `make deploy` hands `chalice deploy` as OTP_EVENTS_STREAM_ARN: the table's stream
    when the stage has events, else nothing."""
    if not events_on(stage):
        return ""
    arn = stream_arn(dynamodb, stage_variables(stage)["OTP_TABLE_NAME"])
    if not arn:
        raise SystemExit("the table has no stream: run `provision.py before` first")
    return arn


def secret(stage: str, ssm: Any, kms: Any) -> list[str]:
    """The secret and the stage's two KMS keys (receipts, TOTP secrets), nothing else: the
    CloudFormation path's one step outside the stack (they outlive any stack: deleting one
    voids receipts in flight or every enrolled authenticator)."""
    from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

    variables = stage_variables(stage)
    done = []
    if "OTP_IDENTITY_SECRET_PARAMETER" in variables:  # first: a copy of the code key if it exists
        done.append(ensure_identity_secret(ssm, variables["OTP_IDENTITY_SECRET_PARAMETER"],
                                           variables.get("OTP_SECRET_PARAMETER")))
    if "OTP_SECRET_PARAMETER" in variables:
        done.append(ensure_secret(ssm, variables["OTP_SECRET_PARAMETER"]))
    else:
        done.append(f"stage {stage} names no OTP_SECRET_PARAMETER: no secret to create")
    if variables.get("OTP_RECEIPT_KEY_IDS"):
        done.append("receipt keys named by OTP_RECEIPT_KEY_IDS (yours to manage): "
                    f"{variables['OTP_RECEIPT_KEY_IDS']}")
    else:
        done.append(f"receipt key {ensure_receipt_key(kms, stage)} ready (kept forever)")
    if variables.get("OTP_TOTP_KEY_ID"):
        done.append(f"TOTP key named by OTP_TOTP_KEY_ID (yours to manage): {variables['OTP_TOTP_KEY_ID']}")
    else:
        done.append(f"TOTP key {ensure_totp_key(kms, stage)} ready (kept forever)")
    return done


def after(stage: str, apigateway: Any, logs: Any, iam: Any, sns: Any, part: str = "aws",
          lambda_client: Any = None, dynamodb: Any = None, sqs: Any = None,
          cloudwatch: Any = None, kms: Any = None) -> list[str]:
    deployed = _stage.ROOT / ".chalice" / "deployed" / f"{stage}.json"
    if not deployed.exists():
        return [f"no {deployed}: nothing deployed for {stage}"]
    resources = json.loads(deployed.read_text())["resources"]
    api = next((r for r in resources if r.get("resource_type") == "rest_api"), None)
    if api is None:
        return ["no REST API in the deployment"]
    api_stage = stage_config(stage).get("api_gateway_stage", "api")
    # The deployment first: moto replaces the stage's settings on a new deployment, and the
    # throttling set after it holds in either case.
    done = ensure_gateway_responses(apigateway, api["rest_api_id"], api_stage)
    done.insert(0, ensure_throttling(apigateway, api["rest_api_id"], api_stage, stage))
    done.append(ensure_log_retention(logs, log_group_name(stage), log_retention_days(stage)))
    from scripts.deploy import access_logs

    done += access_logs.ensure_access_logging(
        access_logs.enabled(stage_config(stage)), apigateway, iam, logs, api["rest_api_id"], api_stage,
        access_logs.log_group(function_name(stage)), log_retention_days(stage), part)
    if uses_sns(stage):
        done += ensure_sms_delivery_logging(iam, sns, part)
    if events_on(stage):
        done += _events_after(stage, logs, lambda_client, dynamodb, sqs)
    from scripts.deploy.channel_resources import handlers  # the functions SNS topics invoke

    for handler in handlers(stage_variables(stage)):
        done.append(ensure_log_retention(logs, f"{log_group_name(stage)}-{handler}",
                                         log_retention_days(stage)))
    if cloudwatch is not None:  # the operator's dashboard (scripts/deploy/dashboard.py, docs/dashboard.md)
        from scripts.deploy.dashboard import ensure_dashboard

        done.append(ensure_dashboard(cloudwatch, stage))
    done += _cognito_after(stage, resources, logs, kms)
    return done + [f"URL: {api.get('rest_api_url', '(see chalice url)')}"]


def _cognito_after(stage: str, resources: list[dict[str, Any]], logs: Any, kms: Any) -> list[str]:
    """The trigger's log retention and how to attach it to a user pool (printed, not done: the
    pool is the operator's)."""
    from scripts.deploy.cognito_trigger import FUNCTION, attach_instructions, enabled

    function = next((r for r in resources if r.get("resource_type") == "lambda_function"
                     and r.get("name") == FUNCTION), None)
    if not enabled(stage) or function is None:
        return []
    key = stage_variables(stage)["OTP_HOOK_COGNITO_KEY_ID"]
    key_arn = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"] if kms is not None else key
    group = f"/aws/lambda/{function_name(stage)}-{FUNCTION}"
    return [ensure_log_retention(logs, group, log_retention_days(stage)),
            *attach_instructions(stage, function["lambda_arn"], key_arn)]


def _events_after(stage: str, logs: Any, lambda_client: Any, dynamodb: Any, sqs: Any) -> list[str]:
    from scripts.deploy.events_resources import FUNCTION, configure_mapping, failed_queue_name

    name = f"{function_name(stage)}-{FUNCTION}"
    url = sqs.get_queue_url(QueueName=failed_queue_name(chalice_config()["app_name"], stage))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return [configure_mapping(lambda_client, name, events_stream(stage, dynamodb), queue_arn),
            ensure_log_retention(logs, f"/aws/lambda/{name}", log_retention_days(stage))]


def destroy(stage: str, cloudwatch: Any) -> list[str]:
    """What `make destroy` deletes besides `chalice delete`'s function, role and API: the dashboard."""
    from scripts.deploy.dashboard import delete_dashboard

    return [delete_dashboard(cloudwatch, stage)]


def main(argv: list[str] | None = None) -> int:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["region", "credentials", "secret", "before", "stream", "after",
                                         "destroy"])
    parser.add_argument("--stage")
    args = parser.parse_args(argv)
    region_name = region()
    if args.step == "region":
        print(region_name)
        return 0
    if not args.stage and args.step != "credentials":
        parser.error("--stage is required")
    from scripts.deploy.aws_access import one_line, require_credentials

    session = boto3.session.Session(region_name=region_name)
    require_credentials(session)  # one line naming what to set, before any step's first call
    with one_line():  # AWS's refusals (expired credentials, access denied): one line each
        if args.step == "credentials":
            identity = session.client("sts").get_caller_identity()
            print(f"AWS account {identity['Account']} as {identity['Arn']} in {region_name}")
            return 0
        return _step(args.step, args.stage, session, region_name)


def _step(step: str, stage: str, session: Any, region_name: str) -> int:
    if step == "secret":
        lines = secret(stage, session.client("ssm"), session.client("kms"))
    elif step == "before":
        clients = ("dynamodb", "ssm", "kms", "sqs", "cloudwatch", "sns", "sesv2", "socialmessaging", "sts")
        dynamodb, ssm, kms, sqs, cloudwatch, sns, sesv2, social, sts = map(session.client, clients)
        lines = before(stage, dynamodb, ssm, kms, sqs, cloudwatch, sns, sesv2, social, sts,
                       partition(region_name))
    elif step == "destroy":
        lines = destroy(stage, session.client("cloudwatch"))
    elif step == "stream":
        lines = [events_stream(stage, session.client("dynamodb"))]
    else:
        lines = after(stage, session.client("apigateway"), session.client("logs"), session.client("iam"),
                      session.client("sns"), partition(region_name), session.client("lambda"),
                      session.client("dynamodb"), session.client("sqs"), session.client("cloudwatch"),
                      session.client("kms"))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
