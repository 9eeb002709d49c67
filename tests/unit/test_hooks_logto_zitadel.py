"""Logto's HTTP SMS connector at POST /v1/hooks/logto/sms and ZITADEL's HTTP SMS provider at
POST /v1/hooks/zitadel/sms (issue 32).

Logto's request as logto-io/logto sends it: packages/connectors/connector-http-sms/src/index.ts
(got.post with ``Authorization: <the connector's value>`` and ``json: {to, type, payload}``).
ZITADEL's as zitadel/zitadel signs it: internal/notification/channels/webhook/channel.go sets
``ZITADEL-Signature`` from pkg/actions/signing.go ``ComputeSignatureHeader`` (``t=<unix>,v1=<hex
HMAC-SHA256(signingKey, "<t>.<payload>")>``), written out here from that file, not from ours."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.unit.helpers import NUMBER
from tests.unit.test_twilio_v2 import key, new_service  # noqa: F401 (key: a fixture)

LOGTO_TOKEN = "Bearer logto-connector-token-0123456789"
ZITADEL_KEY = "zitadel-signing-key-0123456789abcdef"


def logto_body(to: str = NUMBER, code: str = "482913", kind: str = "SignIn") -> bytes:
    return json.dumps({"to": to, "type": kind, "payload": {"code": code}}).encode()


def zitadel_body(to: str = NUMBER, code: str = "771204") -> bytes:
    return json.dumps({
        "contextInfo": {"eventType": "user.human.phone.code.added",
                        "provider": {"id": "1", "description": "verify"}, "recipientPhoneNumber": to},
        "templateData": {"title": "Verify phone", "text": "Visit https://phish.example/ now: {{.Code}}"},
        "args": {"code": code}}).encode()


def zitadel_signature(at: int, body: bytes, signing_key: str = ZITADEL_KEY) -> str:
    """pkg/actions/signing.go: computeSignature writes "%d" of t.Unix(), ".", the payload."""
    mac = hmac.new(signing_key.encode(), f"{at}".encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


@pytest.fixture
def client(configured, clock):
    return configured(OTP_HOOK_LOGTO_SECRET=LOGTO_TOKEN, OTP_HOOK_ZITADEL_SECRET=ZITADEL_KEY)


def logto(client, body: bytes, token: str | None = LOGTO_TOKEN):
    headers = {"content-type": "application/json", **({"authorization": token} if token is not None else {})}
    response = client.http.request("POST", "/v1/hooks/logto/sms", headers=headers, body=body)
    return response.status_code, json.loads(response.body or b"null"), response.headers


def zitadel(client, body: bytes, signature: str | None):
    headers = {"content-type": "application/json", **({"zitadel-signature": signature} if signature else {})}
    response = client.http.request("POST", "/v1/hooks/zitadel/sms", headers=headers, body=body)
    return response.status_code, json.loads(response.body or b"null"), response.headers


# -- Logto -------------------------------------------------------------------------------------

def test_logtos_documented_request_sends_one_sms_with_its_code(client, outbox):
    status, body, _ = logto(client, logto_body())
    assert status == 200, body
    assert len(outbox) == 1 and outbox[0]["to"] == NUMBER
    assert outbox[0]["body"].startswith("Your Verify verification code is 482913")


@pytest.mark.parametrize("token", [None, "", "Bearer wrong", LOGTO_TOKEN + "x", LOGTO_TOKEN.lower()])
def test_a_wrong_or_missing_authorization_is_401_and_sends_nothing(client, outbox, token):
    status, body, _ = logto(client, logto_body(), token)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert not outbox


@pytest.mark.parametrize("body", [
    b"{}", b"[]", b"not json", logto_body(code="12"), logto_body(to="12"),
    json.dumps({"to": NUMBER, "type": "SignIn", "payload": {"code": 482913}}).encode(),
    logto_body()[:-1] + b', "x": "' + b"a" * 20_000 + b'"}',
], ids=["empty", "array", "text", "short-code", "bad-number", "numeric-code", "too-long"])
def test_a_body_not_in_logtos_format_is_400_and_sends_nothing(client, outbox, body):
    status, answer, _ = logto(client, body)
    assert status == 400 and answer["error"]["code"] == "invalid_request", answer
    assert not outbox


def test_a_replayed_logto_request_is_a_resend_and_stops_at_five(client, outbox):
    """Logto signs nothing: a captured request replays; the verification's 5 sends hold."""
    answers = [logto(client, logto_body())[:2] for _ in range(7)]
    assert [a[0] for a in answers] == [200] * 5 + [429] * 2
    assert len(outbox) == 5


def test_a_number_the_service_does_not_allow_is_403_from_logto(configured, clock, outbox, key):  # noqa: F811
    client = configured(OTP_HOOK_LOGTO_SECRET=LOGTO_TOKEN)
    sid = new_service(client, key, AllowedCountries="GB")["sid"]
    client = configured(OTP_HOOK_LOGTO_SECRET=LOGTO_TOKEN, OTP_HOOK_LOGTO_SERVICE=sid)
    status, body, _ = logto(client, logto_body())
    assert status == 403 and body["error"]["message"], body
    assert not outbox


def test_pumping_through_logto_is_held_by_the_prefix_limit(client, outbox):
    answers = [logto(client, logto_body(to=f"+1415555{2600 + n}"))[0] for n in range(25)]
    assert answers[:20] == [200] * 20 and set(answers[20:]) == {403}
    assert len(outbox) == 20


# -- ZITADEL -----------------------------------------------------------------------------------

def test_zitadels_signed_request_sends_one_sms_with_its_code_never_its_text(client, clock, outbox):
    body = zitadel_body()
    status, answer, _ = zitadel(client, body, zitadel_signature(int(clock()), body))
    assert status == 200, answer
    assert len(outbox) == 1 and outbox[0]["to"] == NUMBER
    assert "771204" in outbox[0]["body"] and "phish" not in outbox[0]["body"]


def test_a_second_signing_key_in_the_header_passes_as_zitadel_allows(client, clock, outbox):
    body, at = zitadel_body(), int(clock())
    other = zitadel_signature(at, body, "old-key-0123456789abcdef").split(",")[1]
    status, _, _ = zitadel(client, body, zitadel_signature(at, body) + "," + other)
    assert status == 200 and len(outbox) == 1


@pytest.mark.parametrize("case", ["replay", "replay-decorated", "stale", "future", "wrong-key", "tampered",
                                  "none", "garbled"])
def test_zitadel_refusals_are_401_and_send_nothing_twice(client, clock, outbox, case):
    body, at = zitadel_body(), int(clock())
    signature = zitadel_signature(at, body)
    if case.startswith("replay"):
        assert zitadel(client, body, signature)[0] == 200
        outbox.clear()
        if case == "replay-decorated":  # another header for the same signed request
            signature = f"v1={'0' * 64}," + signature
    if case in ("stale", "future"):
        at += -301 if case == "stale" else 301
        signature = zitadel_signature(at, body)
    if case == "wrong-key":
        signature = zitadel_signature(at, body, "not-the-key-0123456789abcdef")
    if case == "tampered":
        body = zitadel_body(code="000000")
    status, answer, _ = zitadel(client, body, {"none": None, "garbled": "v1"}.get(case, signature))
    assert status == 401 and answer["error"]["code"] == "unauthorized", answer
    assert not outbox


def test_a_zitadel_body_over_the_limit_is_400(client, clock, outbox):
    body = zitadel_body()[:-1] + b', "x": "' + b"a" * 20_000 + b'"}'
    status, answer, _ = zitadel(client, body, zitadel_signature(int(clock()), body))
    assert status == 400 and not outbox


def test_pumping_through_zitadel_is_held_by_the_prefix_limit(client, clock, outbox):
    statuses = []
    for n in range(25):
        body = zitadel_body(to=f"+1415555{2600 + n}")
        statuses.append(zitadel(client, body, zitadel_signature(int(clock()), body))[0])
    assert statuses[:20] == [200] * 20 and set(statuses[20:]) == {403}
    assert len(outbox) == 20


def test_the_end_users_ip_logto_passes_counts_on_the_per_ip_limit(client, outbox):
    bodies = [json.dumps({"to": f"+1415{200 + n}2671", "type": "SignIn", "payload": {"code": "482913"},
                          "ip": "203.0.113.9"}).encode() for n in range(21)]
    statuses = [logto(client, body)[0] for body in bodies]
    assert statuses[:20] == [200] * 20 and statuses[20] == 429
    assert len(outbox) == 20


def test_a_number_the_service_does_not_allow_is_403_from_zitadel(configured, clock, outbox, key):  # noqa: F811
    client = configured(OTP_HOOK_ZITADEL_SECRET=ZITADEL_KEY)
    sid = new_service(client, key, AllowedCountries="GB")["sid"]
    client = configured(OTP_HOOK_ZITADEL_SECRET=ZITADEL_KEY, OTP_HOOK_ZITADEL_SERVICE=sid)
    body = zitadel_body()
    status, answer, _ = zitadel(client, body, zitadel_signature(int(clock()), body))
    assert status == 403 and answer["error"]["message"], answer
    assert not outbox
