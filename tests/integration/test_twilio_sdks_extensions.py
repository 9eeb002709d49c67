"""Issue 29's per-Service extensions (ResendWait, AllowedCountries, RiskCheckOptOutEnabled)
through twilio-python, unchanged, against the served API. The SDK's Service resource does not
know them (they are this service's, not Twilio's), so the Service is made with the SDK's own
``Client.request`` (twilio/base/client_base.py: the same credentials and HTTP client), and
everything after it by the SDK's resources."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import unique_number
from tests.integration.test_twilio_sdks import key, sdk, server  # noqa: F401 (fixtures)

GB = "+447400123456"  # phonenumbers' GB mobile example


def _service(client, server, **form: str) -> str:  # noqa: F811
    response = client.request("POST", f"{server.url}/v2/Services",
                              data={"FriendlyName": "Extensions", **form})
    assert response.status_code == 201, response.text
    body = json.loads(response.text)
    return body["sid"]


def test_twilio_python_a_services_countries_wait_and_risk_check(server, key):  # noqa: F811
    from twilio.base.exceptions import TwilioRestException

    client = sdk(server, key)
    sid = _service(client, server, AllowedCountries="US", ResendWait="60", RiskCheckOptOutEnabled="true")
    fetched = client.request("GET", f"{server.url}/v2/Services/{sid}")
    assert json.loads(fetched.text)["allowed_countries"] == ["US"]
    assert client.verify.v2.services(sid).fetch().friendly_name == "Extensions"  # the SDK reads it as ever
    verify = client.verify.v2.services(sid)
    with pytest.raises(TwilioRestException) as blocked:
        verify.verifications.create(to=GB, channel="sms")
    assert (blocked.value.status, blocked.value.code) == (403, 60605)
    to = unique_number(140)
    first = verify.verifications.create(to=to, channel="sms", risk_check="disable")
    assert first.status == "pending"
    with pytest.raises(TwilioRestException) as soon:  # within the Service's ResendWait
        verify.verifications.create(to=to, channel="sms")
    assert (soon.value.status, soon.value.code) == (429, 60212)

    other = client.verify.v2.services.create(friendly_name="Plain")  # another Service: none of it
    plain = client.verify.v2.services(other.sid)
    assert plain.verifications.create(to=GB, channel="sms").status == "pending"
    assert len(plain.verifications.create(to=GB, channel="sms").send_code_attempts) == 2
    with pytest.raises(TwilioRestException) as refused:
        plain.verifications.create(to=unique_number(141), channel="sms", risk_check="disable")
    assert (refused.value.status, refused.value.code) == (400, 60200)
    assert "RiskCheckOptOutEnabled" in refused.value.msg
