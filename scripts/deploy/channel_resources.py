"""What the WhatsApp and email channels need in AWS (docs/channels.md), from a stage's variables:
pure functions returning CloudFormation fragments and IAM statements, merged by
scripts/deploy/package_template.py (`make package`), and the calls scripts/deploy/provision.py's `before` step
makes before `chalice deploy` (`make deploy`), which subscribes the handlers to the topics by name.

Email (OTP_EMAIL_PROVIDER names ``ses``): the SES v2 configuration set SES_CONFIGURATION_SET,
the SNS topic OTP_EMAIL_EVENTS_TOPIC with a policy that lets SES publish to it, and the set's
event destination (Bounce, Complaint, Reject, Rendering Failure) on that topic.
WhatsApp (OTP_WHATSAPP_PROVIDER names ``end-user-messaging-social``): the SNS topic
OTP_WHATSAPP_EVENTS_TOPIC with a policy that lets End User Messaging Social publish to it, and,
with `make deploy`, that topic as the event destination of the origination number's WhatsApp
Business Account (CloudFormation has no resource for it: `make package` prints the command).

The function's permissions (added to the API role's policy by `make package`; for `make deploy`,
add what `python -m scripts.deploy.channel_resources STAGE` prints to .chalice/policy-STAGE.json: the
`before` step refuses a stage whose policy file does not grant them):

    ses:SendEmail                     on the From address's identities (the address as written
                                      and lower-cased, and its domain: SES authorises against the
                                      verified one) and the configuration set, with
                                      ses:FromAddress = SES_FROM's address (ignoring case)
    social-messaging:SendWhatsAppMessage  on the origination phone number only

Actions, resources and condition keys, from the Service Authorization Reference:
"Amazon Simple Email Service v2" (docs.aws.amazon.com/service-authorization/latest/reference/
list_sesv2.html): SendEmail on identity* (arn:${Partition}:ses:${Region}:${Account}:identity/
${IdentityName}) and configuration-set (...:configuration-set/${ConfigurationSetName}), condition
key ses:FromAddress ("the From address of a message"). "AWS End User Messaging Social"
(list_socialmessaging.html): SendWhatsAppMessage on phone-number-id* (arn:${Partition}:
social-messaging:${Region}:${Account}:phone-number-id/${OriginationPhoneNumberId}), whose id is
the originationPhoneNumberId without its "phone-number-id-" prefix: botocore's model
(socialmessaging 2024-01-01, LinkedWhatsAppPhoneNumberArn) allows only [0-9a-zA-Z] after
"phone-number-id/", and the service's events name the number that way ("Message and event
format", docs.aws.amazon.com/social-messaging/latest/userguide/managing-event-destination-dlrs.html).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Callable, Mapping

ROOT = Path(__file__).resolve().parents[2]
Arn = Callable[[str, str], Any]  # (service, resource) -> an ARN in the stack, or with wildcards

# The SES events that move a send (docs/channels.md): botocore's sesv2 EventType names, and
# CloudFormation's for the same (AWS::SES::ConfigurationSetEventDestination MatchingEventTypes:
# "send, reject, bounce, complaint, delivery, open, click, renderingFailure, ...").
EMAIL_EVENTS = ("BOUNCE", "COMPLAINT", "REJECT", "RENDERING_FAILURE")
EMAIL_EVENTS_CFN = ("bounce", "complaint", "reject", "renderingFailure")
DESTINATION = "phone-verify-events"  # the event destination's name in the configuration set
SES_PRINCIPAL, SOCIAL_PRINCIPAL = "ses.amazonaws.com", "social-messaging.amazonaws.com"
# The Chalice handlers of the channels' events (chalicelib/delivery/channel_routes.py), by topic variable.
HANDLERS = {"email_events": "OTP_EMAIL_EVENTS_TOPIC", "whatsapp_events": "OTP_WHATSAPP_EVENTS_TOPIC"}
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)  # CreateConfigurationSet's rule
_NUMBER_ID = re.compile(r"phone-number-id-[0-9a-zA-Z]+", re.ASCII)


@dataclass(frozen=True)
class Email:
    address: str  # SES_FROM's address as written (the identity the user verified)
    configuration_set: str
    topic: str

    @property
    def identities(self) -> list[str]:
        """The SES identities SendEmail may be authorised against: the address, and its domain."""
        domain = self.address.rpartition("@")[2].lower()
        return list(dict.fromkeys([self.address, self.address.lower(), domain]))


@dataclass(frozen=True)
class WhatsApp:
    number_id: str  # phone-number-id-...
    topic: str

    @property
    def number(self) -> str:
        """The id in the number's ARN."""
        return self.number_id.removeprefix("phone-number-id-")


def _required(variables: Mapping[str, str], name: str) -> str:
    value = (variables.get(name) or "").strip()
    if not value:
        raise SystemExit(f"{name} must be one of the stage's environment_variables: the deployment names it")
    return value


def channels(variables: Mapping[str, str]) -> tuple[Email | None, WhatsApp | None]:
    """What the stage's variables turn on that needs AWS resources; a SystemExit naming the
    variable that is missing or malformed."""
    from chalicelib.errors import ConfigError
    from chalicelib.settings.channels import Channels, channel_event_topics

    try:  # the service's own reading of the chains and of the topics' names
        chains = Channels.from_env(variables)
        channel_event_topics(variables)
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    email = whatsapp = None
    if "ses" in chains.email:
        address = parseaddr(_required(variables, "SES_FROM"))[1]
        if "@" not in address:
            raise SystemExit("SES_FROM must be an email address (optionally 'Name <address>')")
        configuration_set = _required(variables, "SES_CONFIGURATION_SET")
        if not _CONFIGURATION_SET.fullmatch(configuration_set):
            raise SystemExit("SES_CONFIGURATION_SET must be 1-64 letters, digits, _ and -")
        email = Email(address, configuration_set, _required(variables, "OTP_EMAIL_EVENTS_TOPIC"))
    if "end-user-messaging-social" in chains.whatsapp:
        number_id = _required(variables, "EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID")
        if not _NUMBER_ID.fullmatch(number_id):
            raise SystemExit("EUM_SOCIAL_ORIGINATION_PHONE_NUMBER_ID must be phone-number-id-...")
        whatsapp = WhatsApp(number_id, _required(variables, "OTP_WHATSAPP_EVENTS_TOPIC"))
    if email and whatsapp and email.topic == whatsapp.topic:
        raise SystemExit("OTP_EMAIL_EVENTS_TOPIC and OTP_WHATSAPP_EVENTS_TOPIC must be two topics: "
                         "each handler reads its own service's events")
    return email, whatsapp


def handlers(variables: Mapping[str, str]) -> list[str]:
    """The SNS-triggered functions the stage's app defines: End User Messaging's delivery events
    (app.delivery_status, OTP_DELIVERY_EVENTS_TOPIC) and the channels' (HANDLERS)."""
    topics = {"delivery_status": "OTP_DELIVERY_EVENTS_TOPIC", **HANDLERS}
    return [handler for handler, variable in topics.items() if (variables.get(variable) or "").strip()]


# -- the function's permissions ----------------------------------------------------------------


def stack_arn(service: str, resource: str) -> dict[str, str]:
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"}


def wildcard_arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:*:*:{resource}"


def policy_statements(variables: Mapping[str, str], arn: Arn = stack_arn) -> list[dict[str, Any]]:
    return _statements(*channels(variables), arn)


def _statements(email: Email | None, whatsapp: WhatsApp | None, arn: Arn) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    if email:
        statements.append({
            "Sid": "EmailFromOwnIdentity",
            "Effect": "Allow",
            "Action": ["ses:SendEmail"],
            # The address as written and lower-cased (unverified: how SES matches the case of the
            # identity it authorises against; both name this one mailbox), and its domain.
            "Resource": [arn("ses", f"identity/{identity}") for identity in email.identities] +
                        [arn("ses", f"configuration-set/{email.configuration_set}")],
            # unverified: whether SES compares ses:FromAddress with the From address's case as
            # written (the reference does not say); ignoring case still names this one address.
            "Condition": {"StringEqualsIgnoreCase": {"ses:FromAddress": email.address}},
        })
    if whatsapp:
        statements.append({
            "Sid": "WhatsAppFromOwnNumber",
            "Effect": "Allow",
            "Action": ["social-messaging:SendWhatsAppMessage"],
            "Resource": [arn("social-messaging", f"phone-number-id/{whatsapp.number}")],
        })
    return statements


# -- the topics' policies --------------------------------------------------------------------------


def topic_policy(topic_arn: Any, principal: str, account: Any) -> dict[str, Any]:
    """Lets one AWS service publish to the topic, for this account only (aws:SourceAccount: the
    confused-deputy guard). The service principals: End User Messaging Social's "Message and event
    destinations" (docs.aws.amazon.com/social-messaging/latest/userguide/managing-event-destinations-
    add.html, "IAM policies for Amazon SNS topics"); SES's (docs.aws.amazon.com/ses/latest/dg/
    receiving-email-permissions.html: Principal ses.amazonaws.com, conditioned on AWS:SourceAccount,
    for the SNS topic of a receipt rule). unverified: the statements both pages show word for word
    for an event destination's topic (their text is not in the sources at hand: only their
    headings and these shapes). The topic is not KMS-encrypted: that would need a key policy too."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "PublishFromOwnAccount",
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }]}


# -- `make package`: CloudFormation ----------------------------------------------------------------


def _cfn_name(handler: str) -> str:
    """chalice package's resource name of a function (chalice/utils.py to_cfn_resource_name)."""
    return "".join(part.capitalize() for part in handler.split("_"))


# The stack's names: fixed (a topic's name could collide with another resource's, or the two
# topics' names with each other, once made into a logical id).
EMAIL_TOPIC, WHATSAPP_TOPIC = "EmailEventsTopic", "WhatsAppEventsTopic"


def _topic(resource: str, name: str, principal: str) -> dict[str, Any]:
    return {
        resource: {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": name}},
        f"{resource}Policy": {"Type": "AWS::SNS::TopicPolicy", "Properties": {
            "Topics": [{"Ref": resource}],
            "PolicyDocument": topic_policy({"Ref": resource}, principal, {"Ref": "AWS::AccountId"})}},
    }


def _subscribed(handler: str, topic_resource: str) -> dict[str, Any]:
    """Over chalice package's SNS event of the handler (named <Function>SnsSubscription, with the
    topic's ARN as Fn::Sub of its name): the same ARN through the stack's topic, so the
    subscription waits for it (the template merge replaces the Fn::Sub string)."""
    name = _cfn_name(handler)
    return {name: {"Properties": {"Events": {f"{name}SnsSubscription": {
        "Properties": {"Topic": {"Fn::Sub": f"${{{topic_resource}}}"}}}}}}}


def _resources(email: Email | None, whatsapp: WhatsApp | None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if email:
        resources.update(_topic(EMAIL_TOPIC, email.topic, SES_PRINCIPAL))
        resources["EmailConfigurationSet"] = {"Type": "AWS::SES::ConfigurationSet",
                                              "Properties": {"Name": email.configuration_set}}
        resources["EmailEventDestination"] = {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "DependsOn": [f"{EMAIL_TOPIC}Policy"],  # SES may publish as soon as it exists
            "Properties": {
                "ConfigurationSetName": {"Ref": "EmailConfigurationSet"},
                "EventDestination": {"Name": DESTINATION, "Enabled": True,
                                     "MatchingEventTypes": list(EMAIL_EVENTS_CFN),
                                     "SnsDestination": {"TopicARN": {"Ref": EMAIL_TOPIC}}}}}
        resources.update(_subscribed("email_events", EMAIL_TOPIC))
    if whatsapp:
        resources.update(_topic(WHATSAPP_TOPIC, whatsapp.topic, SOCIAL_PRINCIPAL))
        resources.update(_subscribed("whatsapp_events", WHATSAPP_TOPIC))
    return resources


def template_resources(variables: Mapping[str, str]) -> dict[str, Any]:
    """The stack's resources for the channels on: topics and their policies, SES's configuration
    set and event destination, and the handlers' subscriptions on those topics."""
    return _resources(*channels(variables))


def with_channels(variables: Mapping[str, str], merged: dict) -> dict:
    """`make package`: the statements added to the API role's policy, the resources, and for
    WhatsApp the output naming the topic and the command that sets it on the business account."""
    from scripts.deploy.snapstart import deep_merge

    email, whatsapp = channels(variables)
    statements = _statements(email, whatsapp, stack_arn)
    if statements:
        policy = merged["Resources"]["ApiHandlerRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"] += statements
    merged["Resources"] = deep_merge(_resources(email, whatsapp), merged["Resources"])
    if whatsapp:
        merged.setdefault("Outputs", {})["WhatsAppEventsTopicArn"] = {
            "Description": "Set it as the WhatsApp Business Account's event destination: "
                           + waba_command(whatsapp.number_id, "<this ARN>"),
            "Value": {"Ref": WHATSAPP_TOPIC}}
    return merged


def waba_command(number_id: str, topic_arn: str) -> str:
    """What sets the event destination by hand (the AWS CLI's names of the two calls below)."""
    return (f"WABA=$(aws socialmessaging get-linked-whatsapp-business-account-phone-number --id {number_id} "
            "--query linkedWhatsAppBusinessAccountId --output text); aws socialmessaging "
            "put-whatsapp-business-account-event-destinations --id $WABA "
            f"--event-destinations eventDestinationArn={topic_arn}")


# -- `make deploy`: boto3, before chalice deploy ---------------------------------------------------


def ensure_topic(sns: Any, name: str, principal: str) -> str:
    """The topic (CreateTopic answers the existing topic's ARN for a name already taken) and its
    policy (SetTopicAttributes puts the same document again): idempotent. Returns the ARN."""
    arn = str(sns.create_topic(Name=name)["TopicArn"])
    account = arn.split(":")[4]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy",
                             AttributeValue=json.dumps(topic_policy(arn, principal, account)))
    return arn


def _created(call: Callable[[], Any]) -> bool:
    """False when the call answered AlreadyExistsException (kept as it is)."""
    from botocore.exceptions import ClientError

    try:
        call()
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise
        return False


def ensure_email(sns: Any, sesv2: Any, email: Email) -> list[str]:
    topic = ensure_topic(sns, email.topic, SES_PRINCIPAL)
    name = email.configuration_set
    made = _created(lambda: sesv2.create_configuration_set(ConfigurationSetName=name))
    destination = {"Enabled": True, "MatchingEventTypes": list(EMAIL_EVENTS),
                   "SnsDestination": {"TopicArn": topic}}
    linked = _created(lambda: sesv2.create_configuration_set_event_destination(
        ConfigurationSetName=name, EventDestinationName=DESTINATION, EventDestination=destination))
    return [f"email: SES configuration set {name} {'created' if made else 'exists (kept)'}",
            f"email: its event destination {DESTINATION} "
            + (f"publishes {', '.join(EMAIL_EVENTS)} to {topic}" if linked else "exists (kept as it is)")]


def ensure_whatsapp(sns: Any, social: Any, whatsapp: WhatsApp) -> list[str]:
    """The topic, and the WhatsApp Business Account's one event destination (botocore's model:
    PutWhatsAppBusinessAccountEventDestinations takes at most one) set to it unless the account
    already sends its events elsewhere: that one is kept, and the line says how to switch."""
    topic = ensure_topic(sns, whatsapp.topic, SOCIAL_PRINCIPAL)
    number = social.get_linked_whatsapp_business_account_phone_number(id=whatsapp.number_id)
    waba = number["linkedWhatsAppBusinessAccountId"]
    current = [d["eventDestinationArn"] for d in
               social.get_linked_whatsapp_business_account(id=waba)["account"]["eventDestinations"]]
    if current == [topic]:
        return [f"whatsapp: {waba} already publishes its events to {topic}"]
    if current:
        return [f"whatsapp: {waba} publishes its events to {current[0]} (kept); to use {topic}: "
                + waba_command(whatsapp.number_id, topic)]
    social.put_whatsapp_business_account_event_destinations(
        id=waba, eventDestinations=[{"eventDestinationArn": topic}])
    return [f"whatsapp: {waba} publishes its events to {topic}"]


def ungranted(variables: Mapping[str, str], policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The channels' statements (with the policy file's wildcards) that ``policy`` does not grant:
    no Allow statement in it covers their actions and every resource (its own wildcards count:
    ``ses:*`` on ``*`` grants too) with no condition or the same one."""
    from fnmatch import fnmatchcase

    def listed(value: Any) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    def covers(patterns: Any, values: Any) -> bool:
        return all(any(fnmatchcase(v, p) for p in listed(patterns)) for v in listed(values))

    granted = [s for s in policy.get("Statement", []) if s.get("Effect") == "Allow" and "Resource" in s]
    return [needed for needed in policy_statements(variables, wildcard_arn)
            if not any(covers(s["Action"], needed["Action"]) and covers(s["Resource"], needed["Resource"])
                       and s.get("Condition") in (None, needed.get("Condition")) for s in granted)]


def ensure_channel_resources(variables: Mapping[str, str], sns: Any, sesv2: Any, social: Any,
                             role_policy_file: Path | None = None) -> list[str]:
    """`make deploy`, before chalice deploy subscribes the handlers to the topics by name. With
    ``role_policy_file`` (.chalice/policy-STAGE.json, the function's), first refuses a stage
    whose policy does not let the function send on the channels it turns on: every send would
    be refused (AccessDenied) after the deploy."""
    email, whatsapp = channels(variables)
    missing = ungranted(variables, json.loads(role_policy_file.read_text())) \
        if role_policy_file is not None and (email or whatsapp) else []
    if missing:
        raise SystemExit(f"{role_policy_file} does not grant the channels' sends; add these statements "
                         f"(python -m scripts.deploy.channel_resources STAGE prints them):\n"
                         + json.dumps(missing, indent=2))
    return (ensure_email(sns, sesv2, email) if email else []) + \
        (ensure_whatsapp(sns, social, whatsapp) if whatsapp else [])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from scripts.deploy.stage import stage_variables

    json.dump(policy_statements(stage_variables(sys.argv[1]), wildcard_arn), sys.stdout, indent=2)
    print()
