"""The identity platforms' documented configurations (docs/identity-platforms.md), run as the
platform runs them against the served app."""

from __future__ import annotations

from tests.conftest import ROOT
from tests.integration.test_twilio_sdks import _node, key, server  # noqa: F401 (fixtures)
from tests.integration.conftest import unique_number


def test_the_auth0_action_sends_auth0s_code_which_the_service_then_approves(server, key):  # noqa: F811
    example = (ROOT / "docs" / "examples" / "auth0-send-phone-message.js").read_text()
    assert example.strip() in (ROOT / "docs" / "identity-platforms.md").read_text()  # the doc shows this file
    seen = _node("auth0_action.js", server, key, TO=unique_number(140))
    assert seen == {"custom_code_enabled": True, "sent": "904417", "check": "approved"}
