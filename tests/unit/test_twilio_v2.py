"""Twilio Verify's v2 API (issue 20) through the Chalice test client: Twilio's wire format
(form-encoded PascalCase in, snake_case JSON out), its error shape and codes, Services, and
HTTP Basic with API keys. The official SDKs drive a live server in
tests/integration/test_twilio_sdks.py; these tests pin each rule on its own.

Twilio's shapes are from its OpenAPI document twilio_verify_v2
(github.com/twilio/twilio-oai, spec/json/twilio_verify_v2.json) and its error pages
(https://www.twilio.com/docs/api/errors/<code>)."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

import pytest

from chalicelib import wiring
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, OTHER_NUMBER, start

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def key(aws):
    """A key made as an operator makes one: scripts/keys/api_keys.py create."""
    from scripts.keys.api_keys import create

    return create("test", "tests")


def basic(sid: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{sid}:{secret}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": FORM}


def call(client, key, method: str, path: str, form: dict | None = None, headers: dict | None = None):
    headers = headers if headers is not None else basic(key["api_key_sid"], key["api_key_secret"])
    response = client.http.request(method, path, headers=headers, body=urlencode(form or {}).encode())
    return response.status_code, json.loads(response.body or b"null"), response.headers


def twilio_error(body: dict) -> int:
    """Twilio's error shape: code and status integers (twilio-go decodes code into an int),
    never ``type`` and ``title`` together (the SDKs would switch exception class)."""
    assert set(body) == {"code", "message", "more_info", "status"}, body
    assert isinstance(body["code"], int) and isinstance(body["status"], int) and body["message"]
    return body["code"]


def new_service(client, key, **form):
    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme", **form})
    assert status == 201, body
    return body


def sms_code(outbox, length: int) -> str:
    return last_code(outbox, length)


# -- the door ---------------------------------------------------------------------------------


def test_without_basic_auth_every_v2_route_is_401(client, key):
    import app as app_module

    service = new_service(client, key)
    fill = {"sid": service["sid"], "identity": "alice-0001", "verification_sid": "VE" + "0" * 48,
            "factor_sid": "YF" + "0" * 48, "challenge_sid": "YC" + "0" * 32,
            "rate_limit_sid": "RK" + "0" * 32, "bucket_sid": "BL" + "0" * 32}
    routes = [(method, path) for path, methods in app_module.app.routes.items() if path.startswith("/v2/")
              and path != "/v2/{proxy+}" for method, entry in methods.items()
              if not entry.view_name.startswith("method_not_allowed")]  # 404 and 405s: test_v2_unserved.py
    assert len(routes) == 38  # with the TOTP Entities and Challenges routes, the RateLimits and Buckets, Passkeys
    for method, path in routes:
        concrete = path.format(**fill)
        status, body, headers = call(client, key, method, concrete, {"To": NUMBER}, headers={"content-type": FORM})
        assert status == 401 and twilio_error(body) == 20003, (method, path)
        assert "WWW-Authenticate" not in headers  # no challenge a browser answers and caches


@pytest.mark.parametrize("credentials", ["wrong-secret", "wrong-sid", "account-sid", "not-basic"])
def test_wrong_credentials_get_one_answer_that_names_no_part(client, key, credentials):
    sid, secret = key["api_key_sid"], key["api_key_secret"]
    headers = {"wrong-secret": basic(sid, secret[:-1] + ("A" if secret[-1] != "A" else "B")),
               "wrong-sid": basic("SK" + "0" * 32, secret),
               "account-sid": basic(key["account_sid"], secret),
               "not-basic": {"authorization": f"Bearer {secret}", "content-type": FORM}}[credentials]
    status, body, _ = call(client, key, "GET", "/v2/Services", headers=headers)
    assert (status, body) == (401, {"code": 20003, "message": "Authenticate", "status": 401,
                                    "more_info": "https://www.twilio.com/docs/errors/20003"})


def test_the_key_script_prints_one_json_object_with_an_alphanumeric_secret(key):
    assert set(key) == {"account_sid", "api_key_sid", "api_key_secret"}
    assert re.fullmatch(r"AC[0-9a-f]{32}", key["account_sid"]) and re.fullmatch(r"SK[0-9a-f]{32}", key["api_key_sid"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", key["api_key_secret"])


def test_the_table_keeps_a_keyed_hash_of_the_secret_never_the_secret(client, key):
    import boto3

    from tests.conftest import TABLE

    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": "v2#keys"}})["Item"]
    assert key["api_key_secret"] not in json.dumps(item)
    stored = item["k_" + key["api_key_sid"]]["M"]["mac"]["S"]
    assert stored == wiring.get_service()._hasher.api_key_mac(key["api_key_sid"], key["api_key_secret"])


def test_a_revoked_key_is_refused_within_the_cache_bound(client, key, monkeypatch):
    from chalicelib.twilio_v2 import credentials
    from scripts.keys.api_keys import main

    assert call(client, key, "GET", "/v2/Services")[0] == 200
    assert main(["revoke", "--stage", "test", "--sid", key["api_key_sid"]]) == 0
    authenticator = wiring.get_twilio().authenticator
    now = authenticator._monotonic()
    monkeypatch.setattr(authenticator, "_monotonic", lambda: now + credentials.CACHE_SECONDS)
    status, body, _ = call(client, key, "GET", "/v2/Services")
    assert status == 401 and twilio_error(body) == 20003


def test_a_flood_of_bad_credentials_neither_locks_out_a_good_key_nor_reads_the_table(client, key, monkeypatch):
    from chalicelib.twilio_v2.credentials import FAILURES_PER_MINUTE

    authenticator = wiring.get_twilio().authenticator
    clock = [6000.0]  # a minute's start; each request 1.1 s later (past the miss-refresh bound)
    monkeypatch.setattr(authenticator, "_monotonic", lambda: clock[0])
    assert call(client, key, "GET", "/v2/Services")[0] == 200  # the keys are read and cached
    reads = []
    wiring.get_service()._store._client.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: reads.append(params["Key"]["pk"]["S"]))
    flood = FAILURES_PER_MINUTE + 20
    for i in range(flood):  # unknown SIDs: each could be a key created moments ago
        clock[0] += 1.1
        assert call(client, key, "GET", "/v2/Services", headers=basic("SK" + f"{i:032x}", "x" * 40))[0] == 401
    # One read per unknown SID up to the source's budget (plus the cache's own expiry), then none.
    assert FAILURES_PER_MINUTE <= reads.count("v2#keys") <= FAILURES_PER_MINUTE + 1 < flood
    assert call(client, key, "GET", "/v2/Services")[0] == 200  # the good key, from the same source


# -- Services -----------------------------------------------------------------------------------


def test_a_service_carries_its_brand_and_code_length_into_the_sms(client, key, outbox):
    service = new_service(client, key, FriendlyName="Acme Bank", CodeLength="8")
    assert re.fullmatch(r"VA[0-9a-f]{32}", service["sid"]) and service["code_length"] == 8
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", service["date_created"])
    status, body, _ = call(client, key, "POST", f"/v2/Services/{service['sid']}/Verifications",
                           {"To": NUMBER, "Channel": "sms"})
    assert status == 201 and body["status"] == "pending" and body["valid"] is False
    assert body["service_sid"] == service["sid"] and body["account_sid"] == key["account_sid"]
    assert body["send_code_attempts"][0]["channel"] == "sms"
    assert "Acme Bank" in outbox[0]["body"] and re.search(r"\b\d{8}\b", outbox[0]["body"])


def test_services_are_listed_with_twilio_paging(client, key):
    for i in range(3):
        new_service(client, key, FriendlyName=f"App {i}")
    status, body, _ = call(client, key, "GET", "/v2/Services?PageSize=2")
    assert status == 200 and len(body["services"]) == 2 and body["meta"]["key"] == "services"
    assert body["meta"]["next_page_url"].startswith("http") and "Page=1" in body["meta"]["next_page_url"]
    status, rest, _ = call(client, key, "GET", "/v2/Services?PageSize=2&Page=1")
    names = [s["friendly_name"] for s in body["services"] + rest["services"]]
    assert names[0] == "Verify" and sorted(names[1:]) == ["App 0", "App 1", "App 2"]  # the stage's own first
    assert rest["meta"]["next_page_url"] is None


def test_a_service_is_updated_and_deleted(client, key):
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}", {"FriendlyName": "Renamed", "CodeLength": "5"})
    assert status == 200 and (body["friendly_name"], body["code_length"]) == ("Renamed", 5)
    assert call(client, key, "DELETE", f"/v2/Services/{sid}")[0] == 204
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}")
    assert status == 404 and twilio_error(body) == 20404
    assert twilio_error(call(client, key, "DELETE", "/v2/Services/VA" + "1" * 32)[1]) == 20404


@pytest.mark.parametrize("form,parameter", [
    ({}, "FriendlyName"), ({"FriendlyName": "A", "CodeLength": "11"}, "CodeLength"),
    ({"FriendlyName": "A", "CodeLength": "six"}, "CodeLength"), ({"FriendlyName": "x" * 33}, "FriendlyName"),
    ({"FriendlyName": "A", "SkipSmsToLandlines": "true"}, "SkipSmsToLandlines"), ({"FriendlyName": "A", "Nope": "1"}, "Nope"),
])
def test_invalid_service_parameters_are_60200_naming_the_parameter(client, key, form, parameter):
    status, body, _ = call(client, key, "POST", "/v2/Services", form)
    assert status == 400 and twilio_error(body) == 60200 and f"`{parameter}`" in body["message"]


def test_a_retried_create_recognises_its_own_write(aws):
    from chalicelib.twilio_v2.services import ServiceSettings, ServiceStore
    from tests.conftest import TABLE
    import boto3

    store = ServiceStore(boto3.client("dynamodb"), TABLE)
    service = ServiceSettings("VA" + "a" * 32, "Acme", 6, 1, 1)
    store.create(service)
    store.create(service)  # botocore's retry after a lost answer: the conditions fail on our own writes
    assert store.index() == {service.sid: 1} and store.get(service.sid) == service
    # A delete retried after a lost answer: tests/unit/test_twilio_v2_services.py (a second,
    # separate delete of a deleted Service is unknown, as on Twilio).
    assert store.delete(service.sid) and not store.delete(service.sid)
    assert store.index() == {} and store.get(service.sid) is None


# -- Verifications and checks ----------------------------------------------------------------


def _verify(client, key, sid: str, to: str = NUMBER, **form):
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": "sms", **form})
    assert status == 201, body
    return body


def test_the_flow_twilio_documents(client, key, outbox):
    sid = new_service(client, key, CodeLength="8")["sid"]
    verification = _verify(client, key, sid)
    code = sms_code(outbox, 8)
    wrong = f"{(int(code) + 1) % 10**8:08d}"
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": wrong})
    assert status == 200 and (body["status"], body["valid"]) == ("pending", False)
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"VerificationSid": verification["sid"], "Code": code})
    assert status == 200 and (body["status"], body["valid"]) == ("approved", True)
    assert body["sid"] == verification["sid"] and "receipt" in body
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/Verifications/{verification['sid']}")
    assert status == 404 and twilio_error(body) == 20404  # approved: gone, as at Twilio


def test_cancel_then_fetch_is_20404(client, key):
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    path = f"/v2/Services/{sid}/Verifications/{verification['sid']}"
    assert call(client, key, "GET", path)[1]["status"] == "pending"
    status, body, _ = call(client, key, "POST", path, {"Status": "canceled"})
    assert status == 200 and body["status"] == "canceled"
    assert twilio_error(call(client, key, "GET", path)[1]) == 20404
    assert twilio_error(call(client, key, "POST", path, {"Status": "canceled"})[1]) == 20404
    assert twilio_error(call(client, key, "POST", path, {"Status": "approved"})[1]) == 20404  # canceled: gone
    assert twilio_error(call(client, key, "POST", path, {"Status": "expired"})[1]) == 60200


def test_the_backend_approves_a_verification_it_confirmed_another_way(client, key, outbox):
    sid = new_service(client, key)["sid"]
    verification = _verify(client, key, sid)
    path = f"/v2/Services/{sid}/Verifications/{verification['sid']}"
    status, body, _ = call(client, key, "POST", path, {"Status": "approved"})
    assert status == 200 and (body["status"], body["valid"]) == ("approved", True)
    assert twilio_error(call(client, key, "GET", path)[1]) == 20404  # approved: gone
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": NUMBER, "Code": sms_code(outbox, 6)})
    assert status == 404 and twilio_error(body) == 20404  # the code is used up with it


def test_a_retried_approval_recognises_its_own_write(client, key):
    """botocore's retry after a lost answer (tests/faults.py) finds its own approval: 200; a
    second request to approve the approved verification is another's: 20404 (gone)."""
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    path = f"/v2/Services/{sid}/Verifications/{_verify(client, key, sid)['sid']}"
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("approve", "lost")
    status, body, _ = call(client, key, "POST", path, {"Status": "approved"})
    assert (status, body["status"]) == (200, "approved") and faults.seen.count("approve") == 2
    assert twilio_error(call(client, key, "POST", path, {"Status": "approved"})[1]) == 20404


def test_five_wrong_checks_then_60202(client, key, outbox):
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid)
    wrong = f"{(int(sms_code(outbox, 6)) + 1) % 10**6:06d}"
    for _ in range(5):
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": wrong})
        assert status == 200 and body["valid"] is False
    status, body, headers = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": NUMBER, "Code": wrong})
    assert status == 429 and twilio_error(body) == 60202 and int(headers["Retry-After"]) > 0


def test_no_pending_verification_is_20404(client, key):
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck", {"To": OTHER_NUMBER, "Code": "123456"})
    assert status == 404 and twilio_error(body) == 20404


def test_two_services_are_apart(client, key, outbox):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    one = _verify(client, key, first)
    code = sms_code(outbox, 6)
    two = _verify(client, key, second)  # the same number: its own verification, not a resend
    assert two["sid"] != one["sid"] and two["send_code_attempts"][0]["attempt_sid"] != one["send_code_attempts"][0]["attempt_sid"]
    assert twilio_error(call(client, key, "GET", f"/v2/Services/{second}/Verifications/{one['sid']}")[1]) == 20404
    assert twilio_error(call(client, key, "POST", f"/v2/Services/{second}/Verifications/{one['sid']}",
                             {"Status": "canceled"})[1]) == 20404
    status, body, _ = call(client, key, "POST", f"/v2/Services/{first}/VerificationCheck", {"To": NUMBER, "Code": code})
    assert body["status"] == "approved"  # the second Service's send did not replace the first's code
    assert call(client, key, "GET", f"/v2/Services/{second}/Verifications/{two['sid']}")[1]["status"] == "pending"


def test_the_default_service_is_the_stage_and_shares_v1s_verifications(client, key, outbox):
    listed = call(client, key, "GET", "/v2/Services")[1]["services"][0]
    assert (listed["friendly_name"], listed["code_length"]) == ("Verify", 6)
    status, v1, _ = start(client)
    assert status == 201
    status, body, _ = call(client, key, "GET", f"/v2/Services/{listed['sid']}/Verifications/{v1['id']}")
    assert status == 200 and body["status"] == "pending"
    assert twilio_error(call(client, key, "DELETE", f"/v2/Services/{listed['sid']}")[1]) == 60200


@pytest.mark.parametrize("form,code,parameter", [
    ({"To": NUMBER}, 60200, "Channel"), ({"Channel": "sms"}, 60200, "To"),  # a channel the stage has not turned on: 60223 (test_twilio_v2_codes.py)
    ({"To": "+1415", "Channel": "sms"}, 60200, "To"), ({"To": NUMBER, "Channel": "sms", "CustomCode": "1234"}, 60204, "CustomCode"),
    ({"To": NUMBER, "Channel": "sms", "DeviceIp": "not-an-ip"}, 60200, "DeviceIp"),
    ({"To": NUMBER, "Channel": "sms", "Locale": "!!"}, 60200, "Locale"),
])
def test_what_this_service_does_not_do_is_60200_naming_the_parameter(client, key, form, code, parameter):
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", form)
    assert status == 400 and twilio_error(body) == code and f"`{parameter}`" in body["message"]


def test_a_resend_is_the_same_post_again_and_the_send_limits_answer_60203(configured, key, clock):
    client = configured(OTP_RESEND_INTERVAL_SECONDS="0", OTP_MAX_SENDS="2")
    sid = new_service(client, key)["sid"]
    first = _verify(client, key, sid)
    again = _verify(client, key, sid)
    assert again["sid"] == first["sid"] and len(again["send_code_attempts"]) == 2
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": NUMBER, "Channel": "sms"})
    assert status == 429 and twilio_error(body) == 60203


def test_a_country_not_allowed_is_60605(configured, key):
    client = configured(OTP_ALLOWED_COUNTRIES="GB")
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": NUMBER, "Channel": "sms"})
    assert status == 403 and twilio_error(body) == 60605


def test_device_ip_is_the_source_the_per_ip_limit_counts(configured, key):
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1")
    sid = new_service(client, key)["sid"]
    _verify(client, key, sid, DeviceIp="203.0.113.7")
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": OTHER_NUMBER, "Channel": "sms", "DeviceIp": "203.0.113.7"})
    assert status == 429 and twilio_error(body) == 20429
    _verify(client, key, sid, to=OTHER_NUMBER, DeviceIp="203.0.113.8")  # another user's device: its own count


def test_a_backend_is_not_held_to_one_users_ip_limits(configured, key, outbox):
    """All of a backend's users come from its one address: without DeviceIp the per-IP limits
    do not count it (the number's, prefix's and country's limits and the budget still do)."""
    client = configured(OTP_MAX_REQUESTS_PER_IP_PER_HOUR="1", OTP_MAX_CHECKS_PER_IP_PER_HOUR="1")
    sid = new_service(client, key)["sid"]
    for to in (NUMBER, OTHER_NUMBER):
        _verify(client, key, sid, to=to)
        status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                               {"To": to, "Code": sms_code(outbox, 6)})
        assert status == 200 and body["valid"] is True
    assert start(client, to="+14155552673")[0] == 201  # v1 from the same address: its own count
    assert start(client, to="+14155552674")[0] == 429


def test_chalices_own_answers_on_v2_are_in_twilios_shape(client, key):
    auth = basic(key["api_key_sid"], key["api_key_secret"])
    xml = {**auth, "content-type": "application/xml"}
    response = client.http.request("POST", "/v2/Services", headers=xml, body=b"<x/>")
    assert response.status_code == 415 and twilio_error(json.loads(response.body)) == 60200
    # a wrong method is no longer Chalice's: Twilio's 405 20004 (tests/unit/test_v2_unserved.py)
    response = client.http.request("PUT", "/v2/Services", headers=auth)
    assert response.status_code == 405 and twilio_error(json.loads(response.body)) == 20004


def _all_errors(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_errors(sub)


def test_every_domain_error_has_a_twilio_code():
    """No refusal of the domain answers v2 with a 500: each has its code (wire.from_domain)."""
    from chalicelib import errors
    from chalicelib.twilio_v2 import wire

    for cls in _all_errors(errors.ServiceError):
        error = wire.from_domain(cls())
        assert error.code != 20500, cls
        assert (error.status >= 500) == (cls().status >= 500), cls


@pytest.mark.parametrize("name,code,status", [
    ("MaxAttemptsReached", 60202, 429), ("TooManySends", 60203, 429),  # Twilio's pages: not swapped
    ("CountryNotAllowed", 60605, 403), ("PrefixSuspended", 60410, 403), ("IpRateLimited", 20429, 429),
    ("VerificationNotFound", 20404, 404), ("InvalidPhoneNumber", 60200, 400), ("ServiceUnavailable", 20503, 503),
])
def test_the_codes_twilio_documents(name, code, status):
    from chalicelib import errors
    from chalicelib.twilio_v2 import wire

    error = wire.from_domain(getattr(errors, name)(retry_after=3))
    assert (error.code, error.status, error.retry_after) == (code, status, 3)


def test_a_kms_outage_is_20503():
    from chalicelib.totp.service import TotpUnavailable
    from chalicelib.twilio_v2 import wire

    assert (wire.from_domain(TotpUnavailable()).code, wire.from_domain(TotpUnavailable()).status) == (20503, 503)


def test_list_urls_are_on_the_url_the_client_called(aws, monkeypatch):
    """Deployed without OTP_PUBLIC_URL: the stage's path and the client's scheme, from API
    Gateway's event (requestContext.path has the stage; the event's path does not:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html)."""
    from chalice.app import Request

    monkeypatch.delenv("OTP_PUBLIC_URL", raising=False)
    wiring.reset()
    event = {"multiValueQueryStringParameters": None, "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com",
             "X-Forwarded-Proto": "https"}, "pathParameters": None, "body": None, "stageVariables": None,
             "path": "/v2/Services", "requestContext": {"httpMethod": "GET", "resourcePath": "/v2/Services",
                                                       "path": "/api/v2/Services"}}
    assert wiring.public_base(Request(event)) == "https://abc.execute-api.us-east-1.amazonaws.com/api"


def test_whatsapp_and_email_go_to_the_domains_channels_when_the_stage_has_them(configured, key, outbox):
    """The channels of docs/channels.md (console providers here), by Twilio's names."""
    client = configured(OTP_EMAIL_PROVIDER="console", OTP_WHATSAPP_PROVIDER="console")
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": "alice@example.com", "Channel": "email"})
    assert status == 201 and body["channel"] == "email" and body["to"] == "alice@example.com"
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": "alice@example.com", "Code": sms_code(outbox, 6)})
    assert status == 200 and body["status"] == "approved"
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications",
                           {"To": OTHER_NUMBER, "Channel": "whatsapp"})
    assert status == 201 and body["channel"] == "whatsapp"
