"""The identity platforms' documented configurations (docs/identity-platforms.md), run as the
platform runs them against the served app."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT
from tests.integration.test_twilio_sdks import _node, key, server  # noqa: F401 (fixtures)
from tests.integration.conftest import unique_number


def test_the_auth0_action_sends_auth0s_code_which_the_service_then_approves(server, key):  # noqa: F811
    example = (ROOT / "docs" / "examples" / "auth0-send-phone-message.js").read_text()
    assert example.strip() in (ROOT / "docs" / "identity-platforms.md").read_text()  # the doc shows this file
    seen = _node("auth0_action.js", server, key, TO=unique_number(140))
    assert seen == {"custom_code_enabled": True, "sent": "904417", "check": "approved"}


# -- Ory Kratos: its HTTP courier, rendered and posted as Kratos does ----------------------------
# ory/kratos courier/http_channel.go builds the context (httpDataModel: recipient, subject, body,
# template_type, template_data, message_type) and request/builder.go renders the body's jsonnet
# with it as the top-level argument ``ctx`` (vm.TLACode), then, for
# application/x-www-form-urlencoded, reads the result as a map of strings and sends it as
# url.Values (keys sorted), with request/auth_strategy.go's basic auth (req.SetBasicAuth).
KRATOS_SOURCE = "ory/kratos courier/http_channel.go, request/builder.go"


def _doc_block(language: str, heading: str) -> str:
    from tests.docs_snippets import snippets

    found = [s.code for s in snippets([ROOT / "docs" / "identity-platforms.md"])
             if s.language == language and s.heading.startswith(heading)]
    assert len(found) == 1, found
    return found[0]


def kratos_context(to: str, template_type: str, data: dict) -> dict:
    """What Kratos hands the jsonnet for an SMS (courier/template/sms/*.go's models)."""
    return {"recipient": to, "subject": "", "body": "Your code is ...", "template_type": template_type,
            "template_data": {"to": to, "identity": {"id": "9f425a8d"}, "request_url": "https://kratos/",
                              "transient_payload": {}, "expires_in_minutes": 15, **data},
            "message_type": "sms"}


def kratos_render(ctx: dict) -> dict:
    import json

    import _jsonnet

    rendered = json.loads(_jsonnet.evaluate_snippet("sms.jsonnet", _doc_block("jsonnet", "Ory Kratos"),
                                                   tla_codes={"ctx": json.dumps(ctx)}))
    # builder.go unmarshals it into map[string]string: any other value fails Kratos's send.
    assert all(isinstance(v, str) for v in rendered.values()), rendered
    return rendered


def kratos_post(server, key: dict, service_sid: str, fields: dict):
    import urllib.parse

    import requests
    import yaml

    channel = yaml.safe_load(_doc_block("yaml", "Ory Kratos"))["courier"]["channels"][0]
    config = channel["request_config"]
    assert config["auth"]["type"] == "basic_auth" and config["method"] == "POST"
    path = urllib.parse.urlsplit(config["url"]).path.replace("/VA...", f"/{service_sid}")
    body = urllib.parse.urlencode(sorted(fields.items()))  # Go's url.Values.Encode: sorted keys
    return requests.post(server.url + path.removeprefix("/api"), data=body, headers=config["headers"],
                         auth=(key["api_key_sid"], key["api_key_secret"]), timeout=30)


def kratos_service(server, key: dict) -> str:
    """A Service as docs/identity-platforms.md sets it up for Kratos."""
    import requests

    auth = (key["api_key_sid"], key["api_key_secret"])
    made = requests.post(server.url + "/v2/Services", auth=auth, timeout=30, data={
        "FriendlyName": "Kratos", "CustomCodeEnabled": "true", "CustomCodeReported": "false"})
    assert made.status_code == 201, made.text
    return str(made.json()["sid"])


def test_kratos_courier_sends_kratos_code_through_the_service(server, key):  # noqa: F811
    sid, to = kratos_service(server, key), unique_number(150)
    fields = kratos_render(kratos_context(to, "login_code_valid", {"login_code": "318604"}))
    assert fields == {"To": to, "Channel": "sms", "CustomCode": "318604"}
    sent = kratos_post(server, key, sid, fields)
    assert sent.status_code == 201, sent.text  # Kratos takes any 2xx as sent
    assert sent.json()["status"] == "pending" and "318604" not in sent.text
    assert server.last_code(to) == "318604"


def test_kratos_verification_and_recovery_codes_reach_the_same_number_as_a_resend(server, key):  # noqa: F811
    sid, to = kratos_service(server, key), unique_number(151)
    first = kratos_post(server, key, sid, kratos_render(
        kratos_context(to, "verification_code_valid", {"verification_code": "552901"})))
    assert first.status_code == 201 and server.last_code(to) == "552901"
    again = kratos_post(server, key, sid, kratos_render(
        kratos_context(to, "recovery_code_valid", {"recovery_code": "700413"})))
    assert again.status_code == 201 and server.last_code(to) == "700413"
    assert again.json()["sid"] == first.json()["sid"]  # a resend of the pending verification


def test_kratos_message_without_a_code_is_cancelled_by_the_jsonnet(server, key):  # noqa: F811
    import pytest

    with pytest.raises(RuntimeError, match="cancel"):  # builder.go's ErrCancel test: "cancel" in the error
        kratos_render(kratos_context(unique_number(152), "verification_valid",
                                     {"verification_url": "https://kratos/verify?token=x"}))


# -- Better Auth: its phoneNumber plugin, run by Node --------------------------------------------

def _better_auth(server, key: dict, to: str) -> dict:
    """tests/integration/better_auth_phone.mjs, by Node, with better-auth and twilio-node from
    .deps/node_modules (`make test` installs both, pinned in tests/node/package.json) or from the
    environment's NODE_PATH first."""
    import json
    import os
    import shutil
    import subprocess

    import pytest

    paths = [p for p in os.environ.get("NODE_PATH", "").split(os.pathsep) if p] + [str(ROOT / ".deps" / "node_modules")]
    if shutil.which("node") is None or not any((Path(p) / "better-auth" / "package.json").exists() for p in paths):
        pytest.fail("better-auth is missing: run `make test` (it installs it into .deps/)")
    here = ROOT / "tests" / "integration"
    environ = {**os.environ, "API_URL": server.url, "SERVER_LOG": str(server.log_path), "TO": to,
               "TWILIO_ACCOUNT_SID": key["account_sid"], "API_KEY_SID": key["api_key_sid"],
               "API_KEY_SECRET": key["api_key_secret"], "NODE_PATH": os.pathsep.join(paths)}
    run = subprocess.run(["node", "--import", str(here / "node_path_imports.mjs"), str(here / "better_auth_phone.mjs")],
                         env=environ, capture_output=True, text=True, timeout=120, cwd=here)
    assert run.returncode == 0, run.stdout + run.stderr
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def test_better_auths_phone_number_plugin_signs_in_and_resets_through_the_service(server, key):  # noqa: F811
    example = (ROOT / "docs" / "examples" / "better-auth-phone-number.mjs").read_text()
    assert example.strip() in (ROOT / "docs" / "identity-platforms.md").read_text()  # the doc shows this file
    seen = _better_auth(server, key, unique_number(153))
    assert seen == {"wrong": "INVALID_OTP", "status": True, "verified": True, "token": True,
                    "again": "INVALID_OTP", "new_code_for_reset": True, "reset": True}, seen
