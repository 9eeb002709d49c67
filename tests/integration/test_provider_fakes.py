"""Every HTTP adapter through the API over real HTTP, with <PREFIX>_BASE_URL pointed at a local
fake that answers the provider's documented bodies (sources beside each): a permanent answer is
422 and the second provider is never called; a transient one fails over, with the same code, to
the second provider (the webhook provider, whose receiver checks the signature), which answers 201.

SNS, End User Messaging and Lambda go through boto3: tests/unit cover them with moto and
botocore's Stubber."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import phonenumbers
import pytest

from tests.fake_providers import FakeProviders

SECRET = "whsec_" + base64.b64encode(b"integration-test-signing-key-32b").decode()


@dataclass
class Row:
    name: str
    region: str
    permanent: tuple[int, Any] | None
    transient: tuple[int, Any]
    second: str = "webhook"


ROWS = [
    # https://www.twilio.com/docs/errors/21211 and /21612 (the To/From combination: transient)
    Row("twilio", "US",
        (400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
               "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}),
        (400, {"code": 21612, "message": "The 'To' phone number is not currently reachable using the 'From' "
               "phone number via SMS.", "more_info": "https://www.twilio.com/docs/errors/21612", "status": 400})),
    # SignalWire "Error codes" (21217 invalid To; 21212 the From's format) in the shapes of its
    # specs/compatibility-api/_shared/errors.tsp
    Row("signalwire", "CA",
        (400, {"code": 21217, "message": "The To phone number provided does not appear to be valid",
               "more_info": "https://developer.signalwire.com/rest/compatibility-api/overview/error-codes",
               "status": 400}),
        (400, {"errors": [{"code": "21212", "message": "The From number provided has invalid format",
                           "more_info": "https://signalwire.com/docs/rest/compatibility-api/error-codes"}]})),
    # https://developer.vonage.com/en/api-errors/sms: 7 Number Barred; 3 naming `from`
    Row("vonage", "GB",
        (200, {"message-count": "1", "messages": [{"status": "7", "error-text": "Number barred."}]}),
        (200, {"message-count": "1", "messages": [{"status": "3", "error-text": "Invalid from param"}]})),
    # GatewayAPI's error body {"code", "incident_uuid", "message", "variables"}: 0x0215 MSISDN
    # blacklisted (permanent), 0x0210 authentication (transient)
    Row("gatewayapi", "DK",
        (403, {"code": "0x0215", "incident_uuid": "d8127429-fd71-4ba6-8b1e-eb8b6b3d3f6a",
               "message": "MSISDN is blacklisted", "variables": []}),
        (401, {"code": "0x0210", "incident_uuid": "a5ee3e76-6fcc-4a2b-97a2-5f1b4a0b1b1c",
               "message": "Unauthorized", "variables": []})),
    # Xoxzo validation errors are keyed by field (400); 500 is transient
    Row("xoxzo", "JP", (400, {"recipient": ["Invalid phone number"]}), (500, {"detail": "error"})),
    # Restcomm documents no destination error (chalicelib/channels/providers/restcomm.py); its 403 body
    # from AbstractEndpoint.buildErrorResponseBody is not valid JSON
    Row("restcomm", "FR", None, (403, '{"message":"Outbound SMS limit exceeded",\n"error":SMS_LIMIT_EXCEEDED}')),
    # https://www.plivo.com/docs/messaging/concepts/destination-number-validation; 401 auth
    Row("plivo", "DE",
        (400, {"api_id": "df5d4304-66af-11eb-91d8-0242ac110004", "error": "4915123456789 is not a valid phone number"}),
        (401, {"api_id": "a1", "error": "authentication failed"})),
    # MessageBird legacy REST errors: 10 invalid parameter naming the recipients; 2 access key
    Row("messagebird", "NL",
        (422, {"errors": [{"code": 10, "description": "no (correct) recipients found", "parameter": "recipients"}]}),
        (401, {"errors": [{"code": 2, "description": "Request not allowed (incorrect access_key)",
                           "parameter": "access_key"}]})),
    # https://developers.sinch.com/docs/sms/api-reference/status-codes/
    Row("sinch", "SE",
        (403, {"code": "illegal_number_type", "text": "Illegal number type"}),
        (400, {"code": "syntax_invalid_parameter_format", "text": "Invalid MSISDN in 'to'"})),
    # The webhook provider's own contract: 422 {"permanent": true}; anything else transient
    Row("webhook", "IT", (422, {"permanent": True}), (503, {"error": "gateway down"}), second="plivo"),
]
SUCCESS = {  # the second provider's documented success answers
    "webhook": (200, {"message_id": "hook-1"}),
    "plivo": (202, {"api_id": "a1", "message": "message(s) queued", "message_uuid": ["uuid-1"]}),
}


@pytest.fixture(scope="module")
def fake() -> FakeProviders:
    providers = FakeProviders(SECRET)
    server, url = providers.serve()
    providers.url = url  # type: ignore[attr-defined]
    yield providers
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def app(serve, fake):
    base = fake.url
    routes = {row.region: f"{row.name},{row.second}" for row in ROWS}
    return serve(
        SMS_ROUTES=json.dumps(routes), SMS_SENDER="Verify",
        TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="t", TWILIO_FROM="+15005550006", TWILIO_BASE_URL=f"{base}/twilio",
        SIGNALWIRE_SPACE="acme", SIGNALWIRE_PROJECT_ID="p-1", SIGNALWIRE_API_TOKEN="t", SIGNALWIRE_FROM="+15005550006",
        SIGNALWIRE_BASE_URL=f"{base}/signalwire",
        VONAGE_API_KEY="k", VONAGE_API_SECRET="s", VONAGE_BASE_URL=f"{base}/vonage",
        GATEWAYAPI_TOKEN="t", GATEWAYAPI_BASE_URL=f"{base}/gatewayapi",
        XOXZO_SID="x", XOXZO_AUTH_TOKEN="t", XOXZO_BASE_URL=f"{base}/xoxzo",
        RESTCOMM_ACCOUNT_SID="ACrc", RESTCOMM_AUTH_TOKEN="t", RESTCOMM_FROM="+15005550006",
        RESTCOMM_BASE_URL=f"{base}/restcomm",
        PLIVO_AUTH_ID="MA1", PLIVO_AUTH_TOKEN="t", PLIVO_SRC="+15005550006", PLIVO_BASE_URL=f"{base}/plivo",
        MESSAGEBIRD_ACCESS_KEY="k", MESSAGEBIRD_BASE_URL=f"{base}/messagebird",
        SINCH_SERVICE_PLAN_ID="plan", SINCH_API_TOKEN="t", SINCH_FROM="+15005550006", SINCH_BASE_URL=f"{base}/sinch",
        WEBHOOK_URL=f"{base}/webhook", WEBHOOK_SECRET=SECRET,
    )


def mobile(region: str, index: int) -> str:
    """The index-th valid mobile number after the region's example one."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    kinds = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)
    found, candidate = [], example.national_number
    for _ in range(10_000):
        candidate += 7
        number = phonenumbers.PhoneNumber(country_code=example.country_code, national_number=candidate)
        if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in kinds:
            found.append(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
            if len(found) > index:
                return found[index]
    raise AssertionError(f"no mobile numbers found near {region}'s example")


def code_in(body: bytes) -> str:
    match = re.search(r"\b[0-9]{6}\b", unquote_plus(body.decode()), re.ASCII)
    assert match, body
    return match.group(0)


@pytest.mark.parametrize("row", [r for r in ROWS if r.permanent], ids=lambda r: r.name)
def test_a_permanent_answer_is_422_and_the_second_provider_is_never_called(app, fake, row):
    fake.reset()
    fake.answer(row.name, *row.permanent)
    fake.answer(row.second, *SUCCESS[row.second])
    response = app.post("/v1/verifications", {"to": mobile(row.region, 0)})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "undeliverable_number"
    assert len(fake.calls_to(row.name)) == 1 and fake.calls_to(row.second) == []


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_a_transient_answer_fails_over_to_the_second_provider_with_the_same_code(app, fake, row):
    fake.reset()
    fake.answer(row.name, *row.transient)
    fake.answer(row.second, *SUCCESS[row.second])
    response = app.post("/v1/verifications", {"to": mobile(row.region, 1)})
    assert response.status_code == 201, response.text
    (first,), (second,) = fake.calls_to(row.name), fake.calls_to(row.second)
    assert code_in(first.body) == code_in(second.body)
    state = app.get(f"/v1/verifications/{response.json()['id']}").json()
    assert state["send_attempts"][-1]["provider"] == row.second
