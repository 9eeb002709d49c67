"""Supabase Auth's Send SMS Hook at POST /v1/hooks/supabase/send-sms (issue 32).

Requests are made as supabase/auth makes them: internal/hooks/hookshttp/hookshttp.go (headers
webhook-id / webhook-timestamp / webhook-signature, one signature per secret joined with ", ",
a new id on each retry) over internal/hooks/v0hooks/v0hooks.go's SendSMSInput (metadata, user,
sms {otp, sms_type, phone}), signed by the `standardwebhooks` package as its Go twin signs;
answers read as hookshttp.go and internal/hooks/hookserrors/hookserrors.go read them."""

from __future__ import annotations

import base64
import datetime
import json
import uuid

import pytest
from standardwebhooks import Webhook

from tests.unit.helpers import NUMBER
from tests.unit.test_twilio_v2 import call, key, new_service  # noqa: F401 (key: a fixture)

SECRET = "v1,whsec_" + base64.b64encode(b"supabase-hook-secret-0123456789ab").decode()
OTHER_SECRET = "v1,whsec_" + base64.b64encode(b"another-secret-of-32-bytes-012345").decode()
PATH = "/v1/hooks/supabase/send-sms"


def documented_body(phone: str = NUMBER[1:], otp: str = "561166", ip: str = "203.0.113.9") -> dict:
    """Supabase's documented input (supabase.com/docs/guides/auth/auth-hooks/send-sms-hook),
    the user trimmed; phone as Supabase stores it, E.164 digits without the ``+``."""
    return {
        "metadata": {"uuid": str(uuid.uuid4()), "time": "2026-12-04T04:40:00Z", "name": "send-sms",
                     "ip_address": ip},
        "user": {"id": "6481a5c1-3d37-4a56-9f6a-bee08c554965", "aud": "authenticated",
                 "role": "authenticated", "email": "", "phone": phone,
                 "app_metadata": {"provider": "phone", "providers": ["phone"]},
                 "user_metadata": {}, "identities": [], "is_anonymous": False},
        "sms": {"otp": otp, "sms_type": "", "phone": phone},
    }


def signed(body: dict | bytes, at: float, secrets: tuple[str, ...] = (SECRET,), msg_id: str | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    msg_id = msg_id or str(uuid.uuid4())
    when = datetime.datetime.fromtimestamp(at, tz=datetime.timezone.utc)
    signatures = [Webhook(s.removeprefix("v1,")).sign(msg_id, when, raw.decode()) for s in secrets]
    return raw, {"content-type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(int(at)),
                 "webhook-signature": ", ".join(signatures)}


@pytest.fixture
def hook(configured, clock):
    def make(**env):
        return configured(**{"OTP_HOOK_SUPABASE_SECRET": SECRET, **env})
    return make


def post(client, raw: bytes, headers: dict):
    response = client.http.request("POST", PATH, headers=headers, body=raw)
    return response.status_code, json.loads(response.body or b"null"), response.headers


def test_the_documented_request_sends_one_sms_with_supabases_code(hook, clock, outbox):
    client = hook()
    status, body, headers = post(client, *signed(documented_body(), clock()))
    assert (status, body) == (200, {}) and headers["Content-Type"] == "application/json"
    assert len(outbox) == 1 and outbox[0]["to"] == NUMBER
    assert outbox[0]["body"].startswith("Your Verify verification code is 561166")  # this service's template


def test_two_secrets_joined_as_supabase_joins_them_pass_on_either(hook, clock, outbox):
    client = hook(OTP_HOOK_SUPABASE_SECRET=f"{OTHER_SECRET}|{SECRET}")
    status, body, _ = post(client, *signed(documented_body(), clock(), (SECRET, OTHER_SECRET)))
    assert (status, body) == (200, {}) and len(outbox) == 1


def test_a_replayed_webhook_id_sends_nothing_twice(hook, clock, outbox):
    client = hook()
    raw, headers = signed(documented_body(), clock())
    assert post(client, raw, headers)[0] == 200
    clock.advance(2)
    status, body, _ = post(client, raw, headers)
    assert status == 401 and body["error"]["http_code"] == 401 and body["error"]["message"]
    assert len(outbox) == 1


@pytest.mark.parametrize("case", ["stale", "future", "wrong-secret", "no-signature", "tampered"])
def test_a_request_not_signed_now_by_the_hooks_secret_is_401_and_sends_nothing(hook, clock, outbox, case):
    client = hook()
    at = clock() - 301 if case == "stale" else clock() + 301 if case == "future" else clock()
    raw, headers = signed(documented_body(), at, (OTHER_SECRET,) if case == "wrong-secret" else (SECRET,))
    if case == "no-signature":
        del headers["webhook-signature"]
    if case == "tampered":
        raw = raw.replace(b"561166", b"999999")
    status, body, _ = post(client, raw, headers)
    assert status == 401 and set(body) == {"error"} and set(body["error"]) == {"http_code", "message"}
    assert not outbox


def test_a_body_over_the_limit_is_400_and_sends_nothing(hook, clock, outbox):
    client = hook()
    body = documented_body()
    body["user"]["user_metadata"] = {"x": "a" * 70_000}
    status, answer, _ = post(client, *signed(body, clock()))
    assert status == 400 and answer["error"]["http_code"] == 400
    assert not outbox


@pytest.mark.parametrize("sms", [{"otp": "12"}, {"otp": 561166}, {"otp": "56 11"}, {}, "x"])
def test_a_body_not_in_supabases_format_is_400(hook, clock, outbox, sms):
    client = hook()
    body = documented_body()
    body["sms"] = {**sms, "phone": NUMBER[1:]} if isinstance(sms, dict) else sms
    status, answer, _ = post(client, *signed(body, clock()))
    assert status == 400 and answer["error"]["http_code"] == 400, answer
    assert not outbox


def test_the_number_is_read_as_international_never_through_the_default_region(hook, clock, outbox):
    """447400123456 is a UK number (OTP_DEFAULT_REGION US would read 4474... as nothing)."""
    client = hook()
    status, body, _ = post(client, *signed(documented_body(phone="447400123456"), clock()))
    assert (status, body) == (200, {}) and outbox[0]["to"] == "+447400123456"


def test_a_number_the_service_does_not_allow_is_supabases_error_and_sends_nothing(hook, clock, outbox, key):  # noqa: F811
    client = hook()
    sid = new_service(client, key, AllowedCountries="GB")["sid"]
    client = hook(OTP_HOOK_SUPABASE_SERVICE=sid)
    status, body, _ = post(client, *signed(documented_body(), clock()))
    # 200 with the error object: Supabase answers the user with its http_code and message.
    assert status == 200 and body["error"]["http_code"] == 403 and body["error"]["message"], body
    assert not outbox


def test_a_hook_with_no_secret_is_no_route(configured, clock, outbox):
    client = configured()
    status, _, _ = post(client, *signed(documented_body(), clock()))
    assert status == 404 and not outbox


def test_a_second_hook_for_a_pending_number_is_a_resend_and_the_sixth_is_refused(hook, clock, outbox):
    client = hook()
    for n in range(5):
        clock.advance(1)
        assert post(client, *signed(documented_body(otp=f"10000{n}"), clock()))[:2] == (200, {})
    clock.advance(1)
    status, body, headers = post(client, *signed(documented_body(otp="100005"), clock()))
    assert status == 200 and body["error"]["http_code"] == 429 and "retry-after" not in headers
    assert len(outbox) == 5


def test_the_named_services_codes_are_checked_by_its_verification_check(hook, clock, outbox, key):  # noqa: F811
    client = hook()
    sid = new_service(client, key)["sid"]
    client = hook(OTP_HOOK_SUPABASE_SERVICE=sid)
    assert post(client, *signed(documented_body(otp="7731"), clock()))[:2] == (200, {})
    status, body, _ = call(client, key, "POST", f"/v2/Services/{sid}/VerificationCheck",
                           {"To": NUMBER, "Code": "7731"})
    assert body["status"] == "approved", body


# -- pumping through the hook -------------------------------------------------------------------

def test_an_attacker_pumping_a_range_through_supabase_is_stopped_by_the_prefix_limit(hook, clock, outbox):
    """Each number of one range, from many addresses: the prefix's 20 sends an hour hold."""
    client = hook()
    answers = []
    for n in range(30):
        body = documented_body(phone=f"1415555{2600 + n}", ip=f"198.51.100.{n}")
        answers.append(post(client, *signed(body, clock()))[1])
    assert answers[:20] == [{}] * 20
    assert all(a["error"]["http_code"] == 403 for a in answers[20:]), answers[20:]
    assert len(outbox) == 20


def test_the_end_users_address_counts_on_the_per_ip_limit(hook, clock, outbox):
    client = hook()
    bodies = [documented_body(phone=f"1415{200 + n}2671", ip="203.0.113.9") for n in range(21)]
    answers = [post(client, *signed(body, clock()))[1] for body in bodies]
    assert answers[:20] == [{}] * 20 and answers[20]["error"]["http_code"] == 429
    assert len(outbox) == 20


def test_unconverted_hook_sends_never_suspend_a_range_for_its_real_users(hook, clock, outbox, key):  # noqa: F811
    """Supabase never reports a conversion: its sends are kept out of the breaker's sample, so
    15 of them (over OTP_BREAKER_MIN_SENDS=10, none approved) leave the range open to a v2
    start; they still count on the prefix's limit."""
    client = hook()
    for n in range(15):
        assert post(client, *signed(documented_body(phone=f"1415555{2600 + n}", ip=f"198.51.100.{n}"),
                                    clock()))[1] == {}
    default = call(client, key, "GET", "/v2/Services")[1]["services"][0]["sid"]
    status, body, _ = call(client, key, "POST", f"/v2/Services/{default}/Verifications",
                           {"To": "+14155552699", "Channel": "sms"})
    assert status == 201, body
    for n in range(4):  # 15 + 1 + 4 = the prefix's 20
        post(client, *signed(documented_body(phone=f"1415555{2700 + n}", ip=f"198.51.100.{n}"), clock()))
    status, body, _ = post(client, *signed(documented_body(phone="14155552800", ip="198.51.100.99"), clock()))
    assert body["error"]["http_code"] == 403 and len(outbox) == 20


# -- configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize("env, named", [
    ({"OTP_HOOK_SUPABASE_SECRET": "whsec_notbase64!!!!!!"}, "OTP_HOOK_SUPABASE_SECRET"),
    ({"OTP_HOOK_LOGTO_SECRET": "short"}, "OTP_HOOK_LOGTO_SECRET"),
    ({"OTP_HOOK_ZITADEL_SERVICE": "VA123"}, "OTP_HOOK_ZITADEL_SERVICE"),
    ({"OTP_STAGE": "dev", "OTP_SECRET_PARAMETER": "/x", "SMS_PROVIDER": "sns",
      "OTP_HOOK_SUPABASE_SECRET": SECRET}, "OTP_HOOK_SUPABASE_SECRET_PARAMETER"),
    ({"OTP_CUSTOM_CODE_ENABLED": "yes"}, "OTP_CUSTOM_CODE_ENABLED"),
])
def test_a_bad_hook_setting_fails_at_start_naming_the_variable(env, named):
    from chalicelib.config import Config, ConfigError
    from tests.unit.test_config import BASE

    with pytest.raises(ConfigError, match=named):
        deployed = env.get("OTP_STAGE") == "dev"  # no plain OTP_SECRET there
        Config.from_env({**{k: v for k, v in BASE.items() if not (deployed and k == "OTP_SECRET")}, **env})


def test_the_hooks_settings_are_read():
    from chalicelib.config import Config
    from tests.unit.test_config import BASE

    config = Config.from_env({**BASE, "OTP_CUSTOM_CODE_ENABLED": "true", "OTP_HOOK_SUPABASE_SECRET": SECRET,
                              "OTP_HOOK_LOGTO_SECRET_PARAMETER": "/phone-verify/test/logto",
                              "OTP_HOOK_ZITADEL_SERVICE": "VA" + "a" * 32})
    hooks = config.hooks
    assert hooks.custom_code_enabled and hooks.supabase.enabled and hooks.logto.enabled
    assert not hooks.zitadel.enabled and hooks.zitadel.service == "VA" + "a" * 32


def test_the_replay_guards_write_retried_after_a_lost_answer_is_its_own_first_delivery(aws):
    """botocore retries the guard's write after a lost answer: the token recognises the write
    that had landed, so Supabase's first delivery is not refused as its own replay."""
    import boto3

    from chalicelib.hooks.core import ReplayGuard
    from tests.conftest import TABLE
    from tests.faults import Faults

    faults = Faults()
    guard = ReplayGuard(faults.attach(boto3.client("dynamodb", region_name="us-east-1")), TABLE)
    faults.arm("UpdateItem", "lost")
    assert guard.first("supabase", "msg_1", 2_000_000_000) is True
    assert faults.hit == [("UpdateItem", "lost")]
    assert guard.first("supabase", "msg_1", 2_000_000_000) is False  # a real replay


def test_custom_codes_need_one_segment_with_a_ten_character_code():
    """The check runs where every entry point reads its configuration (wiring.load_config)."""
    from chalicelib.config import ConfigError
    from chalicelib.wiring import load_config
    from tests.unit.test_config import BASE

    tight = {**BASE, "OTP_BRAND_NAME": "A" * 20, "OTP_WEBOTP_DOMAIN": "verify.example-shop.com"}
    load_config(tight)  # a 6-digit code fits
    for custom in ({"OTP_CUSTOM_CODE_ENABLED": "true"}, {"OTP_HOOK_SUPABASE_SECRET": SECRET}):
        with pytest.raises(ConfigError, match="10-character custom code"):
            load_config({**tight, **custom})
