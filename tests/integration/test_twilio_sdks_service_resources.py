"""Issue 33's Safe List, Messaging Configurations and Templates through twilio-python and
twilio-node, unchanged, against the served API (scripts/local/serve.py) and dynalite: each
resource's operations, and the Safe List's effect: a safe-listed number in a suspended prefix is
sent while its neighbour is refused (Twilio's 60410)."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.twilio_v2.messaging import messaging_service_sid
from tests.integration.conftest import unique_number
from tests.integration.test_twilio_sdks import _node, key, sdk  # noqa: F401 (fixtures)

# A prefix's breaker trips on its fourth unconverted send here (the default is the eleventh).
ENV = {"OTP_BREAKER_MIN_SENDS": "3",
       "OTP_TEMPLATES": json.dumps({"Acme login": {"en": "{code} is your {brand} login code"}})}
CONSOLE = messaging_service_sid(("console",))  # the test stage's SMS_PROVIDER, as a Messaging Service


@pytest.fixture(scope="module")
def server(serve):
    return serve(**ENV)


def _range(seed: int) -> list[str]:
    """Numbers of one prefix (unique_number's, the last 3 digits apart)."""
    base = unique_number(seed)[:-3]
    return [f"{base}{n:03d}" for n in range(8)]


def test_twilio_python_drives_the_safe_list_and_its_effect(server, key):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    numbers = _range(351)
    safe, neighbour = numbers[6], numbers[7]
    added = client.verify.v2.safelist.create(phone_number=safe)
    assert added.sid.startswith("GN") and len(added.sid) == 34 and added.phone_number == safe
    assert client.verify.v2.safelist(safe).fetch().sid == added.sid
    with pytest.raises(TwilioRestException) as twice:
        client.verify.v2.safelist.create(phone_number=safe)
    assert (twice.value.status, twice.value.code) == (400, 60411)

    verify = client.verify.v2.services(client.verify.v2.services.create(friendly_name="Safe").sid).verifications
    for to in numbers[:3]:  # three unconverted sends: the fourth trips the prefix's breaker
        assert verify.create(to=to, channel="sms").status == "pending"
    for to in (numbers[3], neighbour):
        with pytest.raises(TwilioRestException) as refused:
            verify.create(to=to, channel="sms")
        assert (refused.value.status, refused.value.code) == (403, 60410)
    assert verify.create(to=safe, channel="sms").status == "pending"
    assert server.last_code(safe)  # sent

    assert client.verify.v2.safelist(safe).delete() is True
    with pytest.raises(TwilioRestException) as gone:
        client.verify.v2.safelist(safe).fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_twilio_python_drives_messaging_configurations(server, key):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    service = client.verify.v2.services.create(friendly_name="Senders")
    configurations = client.verify.v2.services(service.sid).messaging_configurations
    made = configurations.create(country="US", messaging_service_sid=CONSOLE)
    assert (made.country, made.messaging_service_sid, made.service_sid) == ("US", CONSOLE, service.sid)
    configurations.create(country="all", messaging_service_sid=CONSOLE)
    assert [c.country for c in configurations.list()] == ["US", "all"]
    assert configurations("US").fetch().messaging_service_sid == CONSOLE
    assert configurations("US").update(messaging_service_sid=CONSOLE).messaging_service_sid == CONSOLE
    with pytest.raises(TwilioRestException) as twice:
        configurations.create(country="US", messaging_service_sid=CONSOLE)
    assert (twice.value.status, twice.value.code) == (400, 60213)
    with pytest.raises(TwilioRestException) as unknown:
        configurations.create(country="IN", messaging_service_sid="MG" + "0" * 32)
    assert (unknown.value.status, unknown.value.code) == (400, 60200)
    to = unique_number(371)
    assert client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms").status == "pending"
    assert server.last_code(to)  # sent by the configured chain
    assert configurations("US").delete() is True
    with pytest.raises(TwilioRestException) as gone:
        configurations("US").fetch()
    assert (gone.value.status, gone.value.code) == (404, 20404)


def test_twilio_python_lists_templates_and_a_start_with_template_sid_sends_its_text(server, key):  # noqa: F811
    client = sdk(server, key)
    templates = client.verify.v2.templates.list()
    assert [t.friendly_name for t in templates] == ["Verify default", "Acme login"]
    login = templates[1]
    assert login.sid.startswith("HJ") and login.channels == ["sms"]
    assert login.translations["en"]["text"] == "{code} is your {brand} login code"
    assert [t.sid for t in client.verify.v2.templates.list(friendly_name="Acme login")] == [login.sid]
    service = client.verify.v2.services.create(friendly_name="Acme", default_template_sid=login.sid)
    assert service.default_template_sid == login.sid
    to = unique_number(381)
    client.verify.v2.services(service.sid).verifications.create(to=to, channel="sms", template_sid=login.sid)
    assert re.fullmatch(r"│ [0-9]{6} is your Acme login code +│", server.last_sms(to))  # the console's frame


def test_twilio_node_drives_the_safe_list_messaging_configurations_and_templates(server, key):  # noqa: F811
    numbers = _range(361)
    seen = _node("twilio_node_service_resources.js", server, key, NUMBERS=",".join(numbers), MG=CONSOLE,
                 TO=unique_number(372), TEMPLATE_TO=unique_number(382))
    assert seen["messaging"] == {
        "created": ["US", CONSOLE], "listed": ["US", "all"], "fetched": CONSOLE, "updated": CONSOLE,
        "duplicate": 60213, "bad_sid": 60200, "started": "pending", "deleted": True, "gone": 20404,
    }
    assert seen["templates"] == {"names": ["Verify default", "Acme login"], "sid": True, "filtered": 1,
                                 "started": "pending"}
    assert re.fullmatch(r"│ [0-9]{6} is your Acme login code +│", server.last_sms(unique_number(382)))
    assert seen["safe_list"] == {
        "added": ["GN", 34, numbers[6]], "fetched": True, "twice": 60411, "starts": ["pending"] * 3,
        "refused": [60410, 60410], "safe": "pending", "removed": True, "gone": 20404,
    }
