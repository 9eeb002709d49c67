"""The function's permissions for the WhatsApp and email channels (docs/channels.md), from a
stage's variables: `make package` adds them to the role's policy; for `make deploy`, add the
same statements to .chalice/policy-STAGE.json (`python -m scripts.channel_resources STAGE`
prints them with the stage's wildcards).

    ses:SendEmail                     on the From address's identities (the address and its
                                      domain: SES authorises against the verified one) and the
                                      configuration set, with ses:FromAddress = SES_FROM
    social-messaging:SendWhatsAppMessage  on the origination phone number only

Actions and resources: the Service Authorization Reference, "Actions, resources, and condition
keys for Amazon SES" (SendEmail: identity, configuration-set; condition ses:FromAddress) and
"... for AWS End User Messaging Social" (SendWhatsAppMessage: phone-number-id,
arn:${Partition}:social-messaging:${Region}:${Account}:phone-number-id/${Id}, whose id is
the originationPhoneNumberId without its "phone-number-id-" prefix, as the ARNs in the
service's events show).
"""

from __future__ import annotations

import json
import sys
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Callable, Mapping

ROOT = Path(__file__).resolve().parent.parent
Arn = Callable[[str, str], Any]  # (service, resource) -> an ARN in the stack, or with wildcards


def stack_arn(service: str, resource: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def wildcard_arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:*:*:{resource}"


def _chain(variables: Mapping[str, str], name: str) -> list[str]:
    return [p.strip().lower() for p in (variables.get(name) or "").split(",") if p.strip()]


def _required(variables: Mapping[str, str], name: str) -> str:
    value = (variables.get(name) or "").strip()
    if not value:
        raise SystemExit(f"{name} must be one of the stage's environment_variables: the policy names it")
    return value


def policy_statements(variables: Mapping[str, str], arn: Arn = stack_arn) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    if "ses" in _chain(variables, "OTP_EMAIL_PROVIDER"):
        address = parseaddr(_required(variables, "SES_FROM"))[1].lower()
        if "@" not in address:
            raise SystemExit("SES_FROM must be an email address (optionally 'Name <address>')")
        domain = address.rpartition("@")[2]
        configuration_set = _required(variables, "SES_CONFIGURATION_SET")
        statements.append({
            "Sid": "EmailFromOwnIdentity",
            "Effect": "Allow",
            "Action": ["ses:SendEmail"],
            "Resource": [arn("ses", f"identity/{address}"), arn("ses", f"identity/{domain}"),
                         arn("ses", f"configuration-set/{configuration_set}")],
            "Condition": {"StringEquals": {"ses:FromAddress": address}},
        })
    if "end-user-messaging-social" in _chain(variables, "OTP_WHATSAPP_PROVIDER"):
        number_id = _required(variables, "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID")
        number = number_id.removeprefix("phone-number-id-")
        statements.append({
            "Sid": "WhatsAppFromOwnNumber",
            "Effect": "Allow",
            "Action": ["social-messaging:SendWhatsAppMessage"],
            "Resource": [arn("social-messaging", f"phone-number-id/{number}")],
        })
    return statements


def with_channels(variables: Mapping[str, str], merged: dict) -> dict:
    """`make package`: the statements added to the function role's policy."""
    statements = policy_statements(variables)
    if statements:
        policy = merged["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"] += statements
    return merged


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from scripts.provision import stage_variables

    json.dump(policy_statements(stage_variables(sys.argv[1]), wildcard_arn), sys.stdout, indent=2)
    print()
