"""Every answer, Chalice's own included, uses the contract's error shape; import stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_unsupported_media_type_uses_the_contract_shape(client):
    response = client.http.post("/v1/verifications", headers={"content-type": "text/xml"}, body="<to/>")
    assert response.status_code == 415
    assert json.loads(response.body)["error"]["code"] == "unsupported_media_type"


def test_method_not_allowed_uses_the_contract_shape(client):
    response = client.http.put("/v1/verifications", headers={"content-type": "application/json"}, body="{}")
    assert response.status_code == 405
    assert json.loads(response.body)["error"]["code"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_contract_500_without_a_trace(client, service, monkeypatch):
    def boom(*_a, **_k):
        raise KeyError("internal detail")

    monkeypatch.setattr(service, "start", boom)
    response = client.http.post("/v1/verifications", headers={"content-type": "application/json"},
                                body=json.dumps({"to": "+14155552671"}))
    assert response.status_code == 500
    body = json.loads(response.body)
    assert body["error"]["code"] == "internal_error"
    assert "internal detail" not in response.body.decode() and "Traceback" not in response.body.decode()


def test_store_outage_is_503_with_retry_after(client, service, monkeypatch):
    from chalicelib.dynamodb import StoreUnavailable

    def down(*_a, **_k):
        raise StoreUnavailable("DynamoDB update_item failed: ServiceUnavailable")

    monkeypatch.setattr(service._store, "create", down)
    response = client.http.post("/v1/verifications", headers={"content-type": "application/json"},
                                body=json.dumps({"to": "+14155552671"}))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert json.loads(response.body)["error"]["code"] == "service_unavailable"


def test_importing_the_app_does_no_aws_or_provider_work():
    """`chalice deploy` imports app.py on the deployer's machine; Lambda pays it on cold start."""
    probe = (
        "import sys, app; "
        "heavy = [m for m in ('boto3', 'botocore', 'phonenumbers', 'chalicelib.channels.providers.sns', "
        "'chalicelib.verify.service', 'chalicelib.verify.store') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def _routes_requiring_keys(env_value: str | None) -> dict:
    import os

    env = {k: v for k, v in os.environ.items() if k != "OTP_API_KEY_REQUIRED"}
    if env_value is not None:
        env["OTP_API_KEY_REQUIRED"] = env_value
    probe = (
        "import json, app; print(json.dumps({f'{m} {p}': e.api_key_required "
        "for p, methods in app.app.routes.items() for m, e in methods.items()}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_api_keys_are_required_per_stage_on_the_api_routes_only():
    assert not any(_routes_requiring_keys(None).values())
    required = _routes_requiring_keys("true")
    open_routes = {"GET /", "GET /static/{name}", "GET /openapi.json", "GET /dev/inbox", "GET /dev/inbox.json", "GET /dev/events.json",
                   "GET /.well-known/jwks.json",
                   # a browser's CORS preflight cannot carry a key
                   "OPTIONS /v1/verifications", "OPTIONS /v1/verifications/check",
                   *(f"OPTIONS /v1/passkeys/{p}" for p in ("registrations", "registrations/verify", "challenges",
                                                          "challenges/approve")),
                   # providers cannot send a key; their signature authenticates them
                   "POST /v1/callbacks/{provider}", "GET /v1/callbacks/{provider}",
                   # identity platforms send their own signature or token, never a key
                   "POST /v1/hooks/supabase/send-sms", "POST /v1/hooks/logto/sms", "POST /v1/hooks/zitadel/sms"}
    # The TOTP routes are behind IAM instead (tests/unit/test_totp.py); /v2 is behind HTTP Basic,
    # checked by the function: an API Gateway key would refuse Twilio's SDKs.
    assert not any(needs for route, needs in required.items() if " /v2/" in route)
    required = {route: needs for route, needs in required.items() if " /v1/totp" not in route and " /v2/" not in route}
    assert {route for route, needs_key in required.items() if not needs_key} == open_routes
    assert {route for route, needs_key in required.items() if needs_key} == {
        "POST /v1/verifications", "POST /v1/verifications/check", "GET /v1/verifications/{verification_id}",
        "DELETE /v1/verifications/{verification_id}", "POST /request-auth", "POST /validate-auth",
        *(f"POST /v1/passkeys/{p}" for p in ("registrations", "registrations/verify", "challenges",
                                             "challenges/approve"))}
