"""The generic providers: webhook (Standard Webhooks signing, checked by the `standardwebhooks`
reference library and by the README's receivers) and lambda (botocore's Stubber answering
Invoke's documented shape)."""

from __future__ import annotations

import base64
import importlib
import io
import json
import subprocess
import threading
import time
from http.server import HTTPServer

import boto3
import pytest
import requests
import responses
from botocore.response import StreamingBody
from botocore.stub import Stubber
from standardwebhooks import Webhook

from chalicelib.config import ConfigError
from chalicelib.channels.messages import measure
from chalicelib.channels.phone import parse_phone_number
from chalicelib.channels.providers import Delivery, ProviderContext, ProviderError, load_provider
from tests.conftest import ROOT

SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
URL = "https://hooks.example.com/sms"
PHONE = parse_phone_number("+14155552671", "US")
CODE = "042917"
DELIVERY = Delivery(PHONE, "sms", measure(f"Your Verify code is {CODE}."), "en", CODE, "VEabc")


def webhook(url: str = URL, secret: str = SECRET):
    return load_provider(ProviderContext("webhook", {"url": url, "secret": secret}, None, requests.Session, None))


@responses.activate
def test_webhook_posts_the_payload_signed_the_standard_webhooks_way():
    responses.add(responses.POST, URL, json={"message_id": "gw-1"}, status=200)
    assert webhook().deliver(DELIVERY) == "gw-1"
    request = responses.calls[0].request
    # The reference implementation (PyPI standardwebhooks) verifies id, timestamp and signature.
    body = Webhook(SECRET).verify(request.body, dict(request.headers))
    assert body == {"type": "sms", "to": "+14155552671", "locale": "en", "text": DELIVERY.message.text,
                    "code": CODE, "verification_id": "VEabc"}
    assert request.headers["content-type"] == "application/json"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 5


@responses.activate
def test_a_tampered_body_fails_the_reference_verification():
    responses.add(responses.POST, URL, json={}, status=200)
    webhook().deliver(DELIVERY)
    request = responses.calls[0].request
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(request.body.replace(CODE.encode(), b"000000"), dict(request.headers))


@responses.activate
def test_each_send_has_its_own_webhook_id_and_a_2xx_without_id_answers_it():
    responses.add(responses.POST, URL, status=204)
    first, second = webhook().deliver(DELIVERY), webhook().deliver(DELIVERY)
    assert first != second and first == responses.calls[0].request.headers["webhook-id"]


@pytest.mark.parametrize("status,body,permanent", [
    (422, {"permanent": True}, True),
    (422, {"permanent": "true"}, False),
    (422, {}, False),
    (400, {"permanent": True}, False),
    (500, {"permanent": True}, False),
    (302, None, False),
    (401, None, False),
])
@responses.activate
def test_only_422_with_permanent_true_is_permanent(status, body, permanent):
    responses.add(responses.POST, URL, json=body, status=status)
    with pytest.raises(ProviderError) as info:
        webhook().deliver(DELIVERY)
    assert info.value.permanent is permanent


@responses.activate
def test_a_receiver_echoing_the_payload_never_puts_the_code_in_the_error():
    responses.add(responses.POST, URL, body=f"bad request: code={CODE}", status=500)
    with pytest.raises(ProviderError) as info:
        webhook().deliver(DELIVERY)
    assert CODE not in str(info.value) and SECRET not in str(info.value)


@responses.activate
def test_a_webhook_timeout_is_transient():
    responses.add(responses.POST, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(ProviderError) as info:
        webhook().deliver(DELIVERY)
    assert info.value.permanent is False and info.value.detail == "timeout"


@pytest.mark.parametrize("secret", ["not-prefixed", "whsec_!!!", "whsec_" + base64.b64encode(b"short").decode()])
def test_a_bad_secret_names_the_variable(secret):
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        webhook(secret=secret).deliver(DELIVERY)


def test_a_plain_http_url_is_refused():
    with pytest.raises(ConfigError, match="WEBHOOK_URL"):
        webhook(url="http://hooks.example.com/sms").deliver(DELIVERY)


# -- the README's receivers ----------------------------------------------------------------


@pytest.fixture
def python_receiver(monkeypatch):
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET)
    module = importlib.reload(importlib.import_module("examples.webhook_receiver"))
    sent = []

    def gateway(to: str, text: str) -> str:
        sent.append((to, text))
        return f"gw-{len(sent)}"

    monkeypatch.setattr(module, "send_with_your_gateway", gateway)
    server = HTTPServer(("127.0.0.1", 0), module.Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/", sent
    server.shutdown()
    server.server_close()


def test_the_readme_python_receiver_accepts_our_signature(python_receiver):
    url, sent = python_receiver
    assert webhook(url=url).deliver(DELIVERY) == "gw-1"
    assert sent == [("+14155552671", DELIVERY.message.text)]


def test_the_readme_python_receiver_refuses_another_secret(python_receiver):
    url, sent = python_receiver
    other = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
    with pytest.raises(ProviderError) as info:
        webhook(url=url, secret=other).deliver(DELIVERY)
    assert info.value.detail == "HTTP 401" and info.value.permanent is False and sent == []


def test_the_docs_show_the_receivers_as_they_are_tested():
    page = (ROOT / "docs" / "providers.md").read_text()
    for name in ("webhook_receiver.py", "webhook_receiver.js"):
        assert (ROOT / "examples" / name).read_text().strip() in page, name


@responses.activate
def test_the_readme_node_receiver_checks_our_signature():
    responses.add(responses.POST, URL, status=204)
    webhook().deliver(DELIVERY)
    request = responses.calls[0].request
    script = (
        "const {verified} = require('./examples/webhook_receiver.js');"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const good = verified(input.headers, Buffer.from(input.body, 'base64'));"
        "const bad = verified(input.headers, Buffer.from(input.tampered, 'base64'));"
        "console.log(JSON.stringify({code: good && good.code, bad}));"
    )
    headers = {k.lower(): v for k, v in request.headers.items()}
    tampered = request.body.replace(CODE.encode(), b"000000")
    stdin = json.dumps({"headers": headers, "body": base64.b64encode(request.body).decode(),
                        "tampered": base64.b64encode(tampered).decode()})
    result = subprocess.run(["node", "-e", script], input=stdin, capture_output=True, text=True, cwd=ROOT,
                            env={"WEBHOOK_SECRET": SECRET, "PATH": "/usr/bin:/bin"}, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"code": CODE, "bad": None}


# -- lambda --------------------------------------------------------------------------------

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:send-sms"


def invoke_response(answer: object, function_error: str | None = None) -> dict:
    """Invoke's documented output (botocore/data/lambda/2015-03-31/service-2.json,
    InvocationResponse): StatusCode, FunctionError, ExecutedVersion, Payload (a stream)."""
    raw = json.dumps(answer).encode()
    response = {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": StreamingBody(io.BytesIO(raw), len(raw))}
    if function_error:
        response["FunctionError"] = function_error
    return response


def invoke(answer: object = None, function_error: str | None = None, error_code: str | None = None):
    client = boto3.client("lambda", region_name="us-east-1")
    provider = load_provider(ProviderContext("lambda", {"function": FUNCTION}, None, None, lambda s: client))
    with Stubber(client) as stub:
        if error_code:
            stub.add_client_error("invoke", service_error_code=error_code, http_status_code=404)
        else:
            stub.add_response("invoke", invoke_response(answer, function_error), {
                "FunctionName": FUNCTION, "InvocationType": "RequestResponse",
                "Payload": json.dumps({"type": "sms", "to": "+14155552671", "locale": "en",
                                       "text": DELIVERY.message.text, "code": CODE,
                                       "verification_id": "VEabc"}).encode(),
            })
        return provider.deliver(DELIVERY)


def test_lambda_invokes_synchronously_with_the_payload_and_returns_its_message_id():
    assert invoke({"message_id": "fn-7"}) == "fn-7"


@pytest.mark.parametrize("answer,permanent", [
    ({"error": {"permanent": True, "detail": "number not in service"}}, True),
    ({"error": {"permanent": False, "detail": "gateway down"}}, False),
    ({"error": {"permanent": "yes"}}, False),
    ({"error": "boom"}, False),
    (None, False),
    ({"message_id": ""}, False),
])
def test_lambda_answers_are_classified(answer, permanent):
    with pytest.raises(ProviderError) as info:
        invoke(answer)
    assert info.value.permanent is permanent


def test_a_crashed_function_is_transient_and_its_message_never_reaches_the_error():
    # A Python function's unhandled error payload: errorMessage may quote the event, code included.
    crash = {"errorMessage": f"KeyError: {{'code': '{CODE}'}}", "errorType": "KeyError", "stackTrace": []}
    with pytest.raises(ProviderError) as info:
        invoke(crash, function_error="Unhandled")
    assert info.value.permanent is False and CODE not in str(info.value)
    assert info.value.detail == "FunctionError=Unhandled errorType=KeyError"


def test_a_function_error_detail_has_the_code_masked():
    with pytest.raises(ProviderError) as info:
        invoke({"error": {"permanent": False, "detail": f"could not send {CODE}"}})
    assert CODE not in str(info.value)


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "AccessDeniedException", "TooManyRequestsException"])
def test_invoke_errors_are_transient(code):
    with pytest.raises(ProviderError) as info:
        invoke(error_code=code)
    assert info.value.permanent is False and info.value.detail == code
