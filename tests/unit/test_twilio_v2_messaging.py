"""A Service's Messaging Configurations (issue 33): the resource in Twilio's shapes and errors,
and its effect: a configuration for one country changes the provider chain that country's starts
use, and no other country's, nor another Service's.

References: https://www.twilio.com/docs/verify/api/verify-messaging-configurations, the error
page 60213 (https://www.twilio.com/docs/api/errors/60213), Twilio's OpenAPI document
twilio_verify_v2's ``verify.v2.service.messaging_configuration`` (tests/data/twilio-oai)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib import wiring
from chalicelib.twilio_v2.messaging import messaging_service_sid
from tests.integration import twilio_oai
from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)

US, GB, IN = "+14155552671", "+447400123456", "+919812345678"
CONSOLE, SNS = messaging_service_sid(("console",)), messaging_service_sid(("sns",))


class Recording:
    """A provider that keeps what it was asked to send (in place of sns: no AWS call)."""

    name = "sns"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_sms(self, to, message):
        self.sent.append(to.e164)
        return f"rec-{len(self.sent)}"


@pytest.fixture
def client(configured):
    client = configured(OTP_ATTEMPTS="false", SMS_PROVIDER="console", SMS_ROUTES='{"IN": "sns"}')
    return client


@pytest.fixture
def sns():
    provider = Recording()
    wiring.get_service()._providers.replace("sns", provider)
    return provider


def _path(sid: str, country: str = "") -> str:
    return f"/v2/Services/{sid}/MessagingConfigurations" + (f"/{country}" if country else "")


def _start(client, key, sid: str, to: str):  # noqa: F811
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/Verifications", {"To": to, "Channel": "sms"})
    assert status == 201, body
    return body


def _by(outbox, sns, to: str) -> str:
    in_console = any(m["to"] == to for m in outbox)
    in_sns = to in sns.sent
    assert in_console != in_sns, (to, in_console, in_sns)
    return "console" if in_console else "sns"


def test_create_list_fetch_update_delete_in_twilios_shapes(client, key):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, made, _ = call(client, key, "POST", _path(sid), {"Country": "us", "MessagingServiceSid": SNS})
    assert status == 201, made
    schema = twilio_oai.load()["components"]["schemas"]["verify.v2.service.messaging_configuration"]
    assert set(made) == set(schema["properties"])
    assert (made["country"], made["messaging_service_sid"], made["service_sid"]) == ("US", SNS, sid)
    assert re.fullmatch(schema["properties"]["messaging_service_sid"]["pattern"].strip("^$"), SNS)
    assert made["url"].endswith(_path(sid, "US"))
    status, page, _ = call(client, key, "GET", _path(sid))
    assert status == 200 and [c["country"] for c in page["messaging_configurations"]] == ["US"]
    assert page["meta"]["key"] == "messaging_configurations"
    assert call(client, key, "GET", _path(sid, "US"))[1] == made
    status, updated, _ = call(client, key, "POST", _path(sid, "US"), {"MessagingServiceSid": CONSOLE})
    assert status == 200 and updated["messaging_service_sid"] == CONSOLE
    status, body, _ = call(client, key, "POST", _path(sid), {"Country": "US", "MessagingServiceSid": SNS})
    assert status == 400 and twilio_error(body) == 60213
    assert call(client, key, "DELETE", _path(sid, "US"))[0] == 204
    for method in ("GET", "DELETE"):
        status, body, _ = call(client, key, method, _path(sid, "US"))
        assert status == 404 and twilio_error(body) == 20404
    status, body, _ = call(client, key, "POST", _path(sid, "US"), {"MessagingServiceSid": SNS})
    assert status == 404 and twilio_error(body) == 20404


@pytest.mark.parametrize("form", [
    {"MessagingServiceSid": SNS}, {"Country": "US"}, {"Country": "USA", "MessagingServiceSid": SNS},
    {"Country": "ZZ", "MessagingServiceSid": SNS}, {"Country": "US", "MessagingServiceSid": "MG123"},
    {"Country": "US", "MessagingServiceSid": "MG" + "0" * 32},  # the right shape, no chain of this stage
    {"Country": "US", "MessagingServiceSid": SNS, "Extra": "1"},
])
def test_a_bad_form_is_60200(client, key, form):  # noqa: F811
    sid = new_service(client, key)["sid"]
    status, body, _ = call(client, key, "POST", _path(sid), form)
    assert status == 400 and twilio_error(body) == 60200, body


def test_another_services_configuration_is_not_found_and_the_default_service_has_none(client, key):  # noqa: F811
    mine, other = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    call(client, key, "POST", _path(mine), {"Country": "US", "MessagingServiceSid": SNS})
    status, body, _ = call(client, key, "GET", _path(other, "US"))
    assert status == 404 and twilio_error(body) == 20404
    default = wiring.get_twilio().default_sid
    status, body, _ = call(client, key, "POST", _path(default), {"Country": "US", "MessagingServiceSid": SNS})
    assert status == 400 and twilio_error(body) == 60200


def test_a_configuration_for_one_country_changes_that_countrys_provider_and_no_other(client, key, outbox, sns):  # noqa: F811
    sid, other = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    _start(client, key, sid, US)
    assert _by(outbox, sns, US) == "console"  # the stage's chain
    call(client, key, "POST", _path(sid), {"Country": "US", "MessagingServiceSid": SNS})
    us_again, gb = "+14155552672", GB
    _start(client, key, sid, us_again)
    _start(client, key, sid, gb)
    _start(client, key, other, "+14155552673")
    assert _by(outbox, sns, us_again) == "sns"  # the configured country
    assert _by(outbox, sns, gb) == "console"  # another country: the stage's
    assert _by(outbox, sns, "+14155552673") == "console"  # another Service: the stage's
    _start(client, key, sid, IN)
    assert _by(outbox, sns, IN) == "sns"  # the stage's SMS_ROUTES, untouched


def test_all_is_the_services_chain_for_every_country_without_its_own(client, key, outbox, sns):  # noqa: F811
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", _path(sid), {"Country": "all", "MessagingServiceSid": SNS})
    call(client, key, "POST", _path(sid), {"Country": "GB", "MessagingServiceSid": CONSOLE})
    _start(client, key, sid, US)
    _start(client, key, sid, GB)
    assert (_by(outbox, sns, US), _by(outbox, sns, GB)) == ("sns", "console")
    status, fetched, _ = call(client, key, "GET", _path(sid, "all"))
    assert status == 200 and fetched["country"] == "all"


def test_the_script_lists_the_stages_chains_as_messaging_services(monkeypatch, capsys):
    from scripts.deploy import messaging_services

    monkeypatch.setenv("SMS_PROVIDER", "console")
    monkeypatch.setenv("SMS_ROUTES", '{"IN": "sns", "JP": "xoxzo,sns"}')
    assert messaging_services.main(["--stage", "test"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["messaging_service_sid"], tuple(r["providers"]), r["configured_as"]) for r in rows} == {
        (CONSOLE, ("console",), "SMS_PROVIDER"), (SNS, ("sns",), "SMS_ROUTES[IN]"),
        (messaging_service_sid(("xoxzo", "sns")), ("xoxzo", "sns"), "SMS_ROUTES[JP]"),
        (messaging_service_sid(("xoxzo",)), ("xoxzo",), "provider")}


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_create_is_one_configuration_not_60213(client, key, kind):  # noqa: F811
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    faults = Faults()
    faults.attach(wiring.get_service()._store._client)
    faults.arm("service_item", kind)
    status, body, _ = call(client, key, "POST", _path(sid), {"Country": "US", "MessagingServiceSid": SNS})
    assert status == 201 and ("service_item", kind) in faults.hit, body
    assert [c["country"] for c in call(client, key, "GET", _path(sid))[1]["messaging_configurations"]] == ["US"]


def test_the_docs_example_sids_are_the_chains_sids():
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "twilio-verify.md").read_text()
    rows = [json.loads(line[2:]) for line in text.splitlines() if line.startswith('# {"messaging_service_sid"')]
    assert len(rows) == 2
    for row in rows:
        assert row["messaging_service_sid"] == messaging_service_sid(tuple(row["providers"]))


def test_a_configuration_whose_chain_the_stage_dropped_is_skipped_until_updated(configured, key, outbox):  # noqa: F811
    client = configured(OTP_ATTEMPTS="false", SMS_PROVIDER="console", SMS_ROUTES='{"IN": "sns"}')
    sid = new_service(client, key)["sid"]
    call(client, key, "POST", _path(sid), {"Country": "US", "MessagingServiceSid": SNS})
    client = configured(OTP_ATTEMPTS="false", SMS_PROVIDER="console", SMS_ROUTES='{"JP": "console"}')  # no sns
    _start(client, key, sid, US)
    assert any(m["to"] == US for m in outbox)  # the stage's chain
    assert call(client, key, "GET", _path(sid, "US"))[1]["messaging_service_sid"] == SNS  # still there
