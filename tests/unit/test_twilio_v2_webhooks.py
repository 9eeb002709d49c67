"""Twilio's Service Webhooks (YW) on /v2 (issue 33): create, list, fetch, update and delete in
Twilio's shapes (Twilio's OpenAPI document twilio_verify_v2's ``verify.v2.service.webhook``,
tests/data/twilio-oai; https://www.twilio.com/docs/verify/api/webhooks), EventTypes as the SDKs
send an array (the name repeated), and the errors: 60306 for an EventType that is not one
(https://www.twilio.com/docs/api/errors/60306 names "Invalid EventTypes"), 60200 otherwise."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import json
import pytest

from tests.unit.test_twilio_v2 import basic, call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

YW = re.compile(r"YW[0-9a-f]{32}")
HOOK = "https://backend.example.com/twilio/verify?tenant=7"


@pytest.fixture
def client(configured):
    from scripts.keys.api_keys import auth_token

    made = configured(OTP_TWILIO_WEBHOOKS="true")
    auth_token("test", "create")
    return made


def post(client, key, path: str, pairs: list[tuple[str, str]]):  # noqa: F811
    """A form with repeated names, as twilio-python and twilio-node send an array."""
    headers = basic(key["api_key_sid"], key["api_key_secret"])
    response = client.http.request("POST", path, headers=headers, body=urlencode(pairs).encode())
    return response.status_code, json.loads(response.body or b"null")


def _webhook(client, key, sid: str, *types: str, **form: str) -> dict:  # noqa: F811
    pairs = [*{"FriendlyName": "backend", "WebhookUrl": HOOK, **form}.items()]
    pairs += [("EventTypes", t) for t in (types or ("factor.verified", "challenge.approved"))]
    status, body = post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)
    assert status == 201, body
    return body


def test_webhooks_in_twilios_shape_through_create_list_fetch_update_delete(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    made = _webhook(client, key, sid)
    assert YW.fullmatch(made["sid"]) and made["service_sid"] == sid and made["account_sid"].startswith("AC")
    assert set(made) == {
        "sid",
        "service_sid",
        "account_sid",
        "friendly_name",
        "event_types",
        "status",
        "version",
        "webhook_url",
        "webhook_method",
        "date_created",
        "date_updated",
        "url",
    }
    assert (made["status"], made["version"], made["webhook_method"]) == ("enabled", "v2", "POST")
    assert made["event_types"] == ["factor.verified", "challenge.approved"] and made["webhook_url"] == HOOK
    assert made["url"].endswith(f"/v2/Services/{sid}/Webhooks/{made['sid']}")
    yw = made["sid"]
    assert call(client, key, "GET", f"/v2/Services/{sid}/Webhooks/{yw}")[1] == made
    status, updated = post(
        client,
        key,
        f"/v2/Services/{sid}/Webhooks/{yw}",
        [("Status", "disabled"), ("Version", "v1"), ("EventTypes", "*")],
    )
    assert status == 200, updated
    assert (updated["status"], updated["version"], updated["event_types"]) == ("disabled", "v1", ["*"])
    assert updated["friendly_name"] == "backend" and updated["webhook_url"] == HOOK  # untouched
    second = _webhook(client, key, sid, "verification.*", FriendlyName="verifications")
    status, listed, _ = call(client, key, "GET", f"/v2/Services/{sid}/Webhooks?PageSize=1")
    assert status == 200 and listed["meta"]["key"] == "webhooks" and listed["meta"]["next_page_url"]
    assert [w["sid"] for w in listed["webhooks"]] == [yw]
    page = call(client, key, "GET", f"/v2/Services/{sid}/Webhooks?PageSize=1&Page=1")[1]
    assert [w["sid"] for w in page["webhooks"]] == [second["sid"]]
    status, _, _ = call(client, key, "DELETE", f"/v2/Services/{sid}/Webhooks/{yw}")
    assert status == 204
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/Webhooks/{yw}")
    assert status == 404 and twilio_error(body) == 20404
    assert call(client, key, "DELETE", f"/v2/Services/{sid}/Webhooks/{yw}")[0] == 404


@pytest.mark.parametrize(
    "pairs, code, named",
    [
        (
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "factor.updated")],
            60306,
            "EventTypes",
        ),
        (
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "verification.code")],
            60306,
            "EventTypes",
        ),
        ([("FriendlyName", "b"), ("WebhookUrl", HOOK)], 60200, "EventTypes"),
        ([("WebhookUrl", HOOK), ("EventTypes", "*")], 60200, "FriendlyName"),
        ([("FriendlyName", "b"), ("EventTypes", "*")], 60200, "WebhookUrl"),
        (
            [("FriendlyName", "b"), ("WebhookUrl", "ftp://backend.example.com/"), ("EventTypes", "*")],
            60200,
            "WebhookUrl",
        ),
        (
            [
                ("FriendlyName", "b"),
                ("WebhookUrl", "https://user:pw@backend.example.com/"),
                ("EventTypes", "*"),
            ],
            60200,
            "WebhookUrl",
        ),
        (
            [("FriendlyName", "b"), ("WebhookUrl", "http://backend.example.com/"), ("EventTypes", "*")],
            60200,
            "WebhookUrl",
        ),
        ([("FriendlyName", "b\u202e"), ("WebhookUrl", HOOK), ("EventTypes", "*")], 60200, "FriendlyName"),
        (
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*"), ("Status", "on")],
            60200,
            "Status",
        ),
        (
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*"), ("Version", "v3")],
            60200,
            "Version",
        ),
        (
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*"), ("WebhookMethod", "GET")],
            60200,
            "WebhookMethod",
        ),
        (
            [("FriendlyName", "b"), ("FriendlyName", "c"), ("WebhookUrl", HOOK), ("EventTypes", "*")],
            60200,
            "FriendlyName",
        ),
    ],
)
def test_bad_parameters_answer_twilios_errors_naming_them(client, key, pairs, code, named):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body = post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)
    assert status == 400 and twilio_error(body) == code and named in body["message"], body


def test_http_to_this_machine_is_taken_locally(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    pairs = [("FriendlyName", "b"), ("WebhookUrl", "http://127.0.0.1:8123/hook"), ("EventTypes", "*")]
    assert post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)[0] == 201


def test_a_deployed_stage_takes_https_only(client, key, monkeypatch):  # noqa: F811
    from chalicelib import wiring

    sid = new_service(client, key)["sid"]
    config = wiring.get_twilio()._config
    monkeypatch.setattr(wiring.get_twilio(), "_config", type(config).__new__(type(config)))
    object.__setattr__(wiring.get_twilio()._config, "__dict__", {**config.__dict__, "stage": "prod"})
    pairs = [("FriendlyName", "b"), ("WebhookUrl", "http://127.0.0.1:8123/hook"), ("EventTypes", "*")]
    status, body = post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)
    assert status == 400 and "WebhookUrl" in body["message"]
    https = pairs[:1] + [("WebhookUrl", HOOK)] + pairs[2:]
    assert post(client, key, f"/v2/Services/{sid}/Webhooks", https)[0] == 201
    for internal in (
        "https://127.0.0.1/h",
        "https://localhost:8443/h",
        "https://169.254.169.254/latest",
        "https://10.0.0.8/h",
        "https://192.168.1.1./h",
        "https://0.0.0.0/h",
    ):
        status, body = post(
            client, key, f"/v2/Services/{sid}/Webhooks", pairs[:1] + [("WebhookUrl", internal)] + pairs[2:]
        )
        assert status == 400 and "public host" in body["message"], internal


def test_at_most_five_per_service(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    for _ in range(5):
        _webhook(client, key, sid)
    status, body = post(
        client,
        key,
        f"/v2/Services/{sid}/Webhooks",
        [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*")],
    )
    assert status == 400 and twilio_error(body) == 60200 and "at most 5" in body["message"]


def test_another_services_webhook_is_20404_from_this_service(client, key):  # noqa: F811
    mine, other = new_service(client, key)["sid"], new_service(client, key)["sid"]
    theirs = _webhook(client, key, other)["sid"]
    for method, pairs in (("GET", None), ("POST", [("Status", "disabled")]), ("DELETE", None)):
        path = f"/v2/Services/{mine}/Webhooks/{theirs}"
        if pairs:
            status, body = post(client, key, path, pairs)
        else:
            status, body, _ = call(client, key, method, path)
        assert status == 404 and twilio_error(body) == 20404, (method, body)
    assert call(client, key, "GET", f"/v2/Services/{other}/Webhooks/{theirs}")[1]["status"] == "enabled"


def test_the_default_service_has_no_webhooks(client, key):  # noqa: F811
    from chalicelib import wiring

    default = wiring.get_twilio().default_sid
    status, body = post(
        client,
        key,
        f"/v2/Services/{default}/Webhooks",
        [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*")],
    )
    assert status == 400 and "default Service" in body["message"]


def test_off_without_otp_twilio_webhooks_and_without_an_auth_token(configured, key):  # noqa: F811
    from scripts.keys.api_keys import auth_token

    pairs = [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*")]
    client = configured(OTP_TWILIO_WEBHOOKS="false")
    sid = new_service(client, key)["sid"]
    status, body = post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)
    assert status == 400 and "OTP_TWILIO_WEBHOOKS" in body["message"]
    client = configured(OTP_TWILIO_WEBHOOKS="true")
    status, body = post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)
    assert status == 400 and "auth token" in body["message"]
    auth_token("test", "create")
    assert post(client, key, f"/v2/Services/{sid}/Webhooks", pairs)[0] == 201


def test_without_a_key_nothing_and_a_limited_key_only_its_services(client, key, monkeypatch):  # noqa: F811
    from scripts.keys.api_keys import create
    from tests.unit.test_v2_credentials import expire_cache

    sid, other = new_service(client, key)["sid"], new_service(client, key)["sid"]
    limited = create("test", "limited", services=[other])
    expire_cache(monkeypatch, 1.5)
    status, body, _ = call(client, key, "GET", f"/v2/Services/{sid}/Webhooks", headers={})
    assert status == 401 and twilio_error(body) == 20003
    status, body = post(
        client,
        limited,
        f"/v2/Services/{sid}/Webhooks",
        [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*")],
    )
    assert status == 403 and twilio_error(body) == 20403
    assert (
        post(
            client,
            limited,
            f"/v2/Services/{other}/Webhooks",
            [("FriendlyName", "b"), ("WebhookUrl", HOOK), ("EventTypes", "*")],
        )[0]
        == 201
    )


def test_the_webhook_is_kept_in_the_services_own_item(client, key):  # noqa: F811
    import boto3

    from tests.conftest import TABLE

    sid = new_service(client, key)["sid"]
    made = _webhook(client, key, sid)
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"v2#service#{sid}"}})["Item"]
    assert made["sid"] in item["settings"]["S"] and HOOK in item["settings"]["S"]


# -- OTP_TWILIO_WEBHOOKS: the stream's consumer without OTP_EVENTS_URL --------------------------


def test_otp_twilio_webhooks_alone_gives_the_stream_a_consumer():
    from chalicelib.config import ConfigError
    from chalicelib.settings.events import STREAM_PLACEHOLDER, Events, events_stream

    assert events_stream({}) is None and events_stream({"OTP_TWILIO_WEBHOOKS": "false"}) is None
    assert events_stream({"OTP_TWILIO_WEBHOOKS": "true"}) == STREAM_PLACEHOLDER
    events = Events.from_env({"OTP_TWILIO_WEBHOOKS": "true"}, "prod")
    assert events.consumer and events.twilio_webhooks and not events.enabled and events.urls == ()
    assert not Events.from_env({}, "prod").consumer
    with pytest.raises(ConfigError, match="OTP_TWILIO_WEBHOOKS"):
        Events.from_env({"OTP_TWILIO_WEBHOOKS": "yes"}, "prod")


def test_make_package_and_make_deploy_make_the_consumer_for_otp_twilio_webhooks(monkeypatch):
    from scripts.deploy import package_template, provision

    for module in (package_template, provision):
        original = module.stage_variables
        monkeypatch.setattr(
            module,
            "stage_variables",
            lambda stage, original=original: {**original(stage), "OTP_TWILIO_WEBHOOKS": "true"},
        )
    assert provision.events_on("prod")
    merged = package_template.resources("prod")["Resources"]
    assert {"EventsFailedQueue", "EventsFailedAlarm", "EventsFunctionLogGroup"} <= set(merged)
    consumer = merged["TableEventsRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    [reads] = [s for s in consumer if s.get("Sid") == "TwilioWebhooksServicesAndToken"]
    assert reads["Action"] == ["dynamodb:GetItem"]


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_create_is_one_webhook(client, key, kind):  # noqa: F811
    """botocore retries the Service's write after a lost answer (or a reset connection): the
    retry finds its own webhook there (docs/reliability.md)."""
    from chalicelib import wiring
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("service_item", kind)
    made = _webhook(client, key, sid)
    assert ("service_item", kind) in faults.hit
    listed = call(client, key, "GET", f"/v2/Services/{sid}/Webhooks")[1]["webhooks"]
    assert [w["sid"] for w in listed] == [made["sid"]]
