"""What `make deploy` asks SES v2 and End User Messaging Social for the channels, answered by
botocore's Stubber in the documented shapes: shared by tests/unit/test_channel_resources.py and
the recorded deploy cycle (tests/unit/deploy_cycle.py). moto 5.2.5 has no socialmessaging at
all, no sesv2 event destinations, and its sesv2 CreateConfigurationSet answers a name already
taken with SES v1's error code (ConfigurationSetAlreadyExists, moto/ses/models.py
create_configuration_set_v2), not v2's documented AlreadyExistsException: the whole sesv2
client is stubbed (a Stubber answers for a client, not for one operation)."""

from __future__ import annotations

import datetime
from typing import Any

from botocore.stub import Stubber

from scripts.deploy.channel_resources import DESTINATION, EMAIL_EVENTS

NUMBER_ID = "phone-number-id-976c72a700aac43eaf573ae050example"
WABA_ID = "waba-fb2594b8a7974770b128a409e2example"


def number_detail(region: str, account: str) -> dict[str, Any]:
    """GetLinkedWhatsAppBusinessAccountPhoneNumber's answer (docs.aws.amazon.com/social-messaging/
    latest/APIReference/API_GetLinkedWhatsAppBusinessAccountPhoneNumber.html; botocore's
    socialmessaging 2024-01-01 model, WhatsAppPhoneNumberDetail: every required member)."""
    number = NUMBER_ID.removeprefix("phone-number-id-")
    return {
        "phoneNumber": {
            "arn": f"arn:aws:social-messaging:{region}:{account}:phone-number-id/{number}",
            "phoneNumber": "+12065550100", "phoneNumberId": NUMBER_ID, "metaPhoneNumberId": "106540352242922",
            "displayPhoneNumberName": "Verify", "displayPhoneNumber": "+1 206-555-0100",
            "qualityRating": "GREEN",
        },
        "linkedWhatsAppBusinessAccountId": WABA_ID,
    }


def account_detail(region: str, account: str, destinations: list[str]) -> dict[str, Any]:
    """GetLinkedWhatsAppBusinessAccount's answer (API_GetLinkedWhatsAppBusinessAccount.html;
    LinkedWhatsAppBusinessAccount: eventDestinations holds at most one)."""
    return {"account": {
        "arn": f"arn:aws:social-messaging:{region}:{account}:waba/fb2594b8a7974770b128a409e2example",
        "id": WABA_ID, "wabaId": "102290129340398", "registrationStatus": "COMPLETE",
        "linkDate": datetime.datetime(2025, 1, 8, tzinfo=datetime.timezone.utc), "wabaName": "Verify",
        "eventDestinations": [{"eventDestinationArn": arn} for arn in destinations],
        "phoneNumbers": [number_detail(region, account)["phoneNumber"]],  # WhatsAppPhoneNumberSummary
    }}


def expect_email(stub: Stubber, configuration_set: str, topic_arn: str, exists: bool = False) -> None:
    """CreateConfigurationSet, then CreateConfigurationSetEventDestination: both answer an empty
    body (HTTP 200), or AlreadyExistsException (HTTP 400) for a name already taken
    (docs.aws.amazon.com/ses/latest/APIReference-V2/API_CreateConfigurationSet.html and
    API_CreateConfigurationSetEventDestination.html, "Errors")."""
    calls = [("create_configuration_set", {"ConfigurationSetName": configuration_set}),
             ("create_configuration_set_event_destination", {
                 "ConfigurationSetName": configuration_set, "EventDestinationName": DESTINATION,
                 "EventDestination": {"Enabled": True, "MatchingEventTypes": list(EMAIL_EVENTS),
                                      "SnsDestination": {"TopicArn": topic_arn}}})]
    for method, params in calls:
        if exists:
            stub.add_client_error(method, "AlreadyExistsException", "The resource already exists.", 400,
                                  expected_params=params)
        else:
            stub.add_response(method, {}, params)


def expect_whatsapp(stub: Stubber, region: str, account: str, topic_arn: str,
                    current: list[str] | None = None) -> None:
    """The number's account, its event destinations, and the put when it has none (an empty
    answer: API_PutWhatsAppBusinessAccountEventDestinations.html)."""
    stub.add_response("get_linked_whatsapp_business_account_phone_number", number_detail(region, account),
                      {"id": NUMBER_ID})
    stub.add_response("get_linked_whatsapp_business_account", account_detail(region, account, current or []),
                      {"id": WABA_ID})
    if not current:
        stub.add_response("put_whatsapp_business_account_event_destinations", {},
                          {"id": WABA_ID, "eventDestinations": [{"eventDestinationArn": topic_arn}]})
