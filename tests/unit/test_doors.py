"""Two doors: the public routes are safe for a stranger's browser to call; the server routes
sit behind IAM. (API Gateway enforces IAM; chalice.test.Client cannot, so the authorizers are
checked on the route table here and on the packaged template in tests/integration.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.unit.helpers import NUMBER, error_code

SERVER_ROUTES = {"GET /v1/verifications/{verification_id}", "DELETE /v1/verifications/{verification_id}",
                 "POST /v1/totp/factors", "GET /v1/totp/factors", "DELETE /v1/totp/factors/{factor_id}",
                 "POST /v1/totp/factors/{factor_id}/verify", "POST /v1/totp/challenges",
                 "POST /v1/totp/factors/{factor_id}/enable"}
PUBLIC_API_ROUTES = {"POST /v1/verifications", "POST /v1/verifications/check", "POST /request-auth",
                     "POST /validate-auth",
                     # the page's passkeys (chalicelib/passkeys/routes.py), the public door as start and check
                     "POST /v1/passkeys/registrations", "POST /v1/passkeys/registrations/verify",
                     "POST /v1/passkeys/challenges", "POST /v1/passkeys/challenges/approve"}


def _authorizers(**env: str) -> dict[str, str | None]:
    import os

    probe = (
        "import json, app; print(json.dumps({f'{m} {p}': (e.authorizer and e.authorizer.name) "
        "for p, methods in app.app.routes.items() for m, e in methods.items()}))"
    )
    environ = {k: v for k, v in os.environ.items() if k != "OTP_PUBLIC_API"} | env
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=environ, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_server_routes_are_behind_iam_and_nothing_else_is():
    routes = _authorizers()
    assert {route for route, name in routes.items() if name == "sigv4"} == SERVER_ROUTES
    assert all(routes[route] is None for route in PUBLIC_API_ROUTES)
    # /v2: HTTP Basic with an API key, checked by the function (IAM would refuse Twilio's SDKs).
    v2 = [route for route in routes if " /v2/" in route]
    catch_all = [route for route in v2 if route.endswith(" /v2/{proxy+}")]  # Twilio's 404 for any other path
    # 38 routes on 21 paths, each path taking the 7 methods (the others: Twilio's 405, no key read)
    assert len(v2) == 21 * 7 + len(catch_all) and len(catch_all) == 7
    assert all(routes[route] is None for route in v2)


def test_a_private_api_puts_start_check_and_the_forms_behind_iam_too():
    routes = _authorizers(OTP_PUBLIC_API="false")
    assert {route for route, name in routes.items() if name == "sigv4"} == SERVER_ROUTES | PUBLIC_API_ROUTES
    # What stays open: the page, its files, the contract, the inbox (local only), and preflights.
    assert routes["GET /"] is None and routes["GET /openapi.json"] is None


def post_raw(client, path: str, headers: dict, body: bytes | str = b'{"to": "+14155552671"}'):
    response = client.http.post(path, headers=headers, body=body)
    return response.status_code, json.loads(response.body or b"null"), response.headers


@pytest.mark.parametrize("content_type", [
    None,  # fetch(url, {mode: "no-cors", body: new Blob([json])}) sends no Content-Type
    "text/plain",
    "text/plain;application/json",  # CORS-safelisted (its essence is text/plain); Chalice took it
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "*/*",
])
@pytest.mark.parametrize("path", ["/v1/verifications", "/v1/verifications/check"])
def test_v1_posts_take_only_application_json(client, outbox, path, content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    status, body, _ = post_raw(client, path, headers)
    assert status == 415 and error_code(body) == "unsupported_media_type"
    assert len(outbox) == 0


def test_application_json_with_a_charset_is_json(client, outbox):
    status, _, _ = post_raw(client, "/v1/verifications", {"content-type": "Application/JSON; charset=utf-8"})
    assert status == 201 and len(outbox) == 1


def test_no_origin_is_allowed_by_default(client, outbox):
    # Preflight from a page elsewhere: refused, and so the browser never sends the POST.
    response = client.http.request("OPTIONS", "/v1/verifications", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"}, body=b"")
    assert response.status_code == 403 and "Access-Control-Allow-Origin" not in response.headers
    # A POST that claims another origin anyway is refused before anything is sent.
    status, body, headers = post_raw(client, "/v1/verifications", {
        "content-type": "application/json", "Origin": "https://app.example.com"})
    assert status == 403 and error_code(body) == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in headers and len(outbox) == 0


def test_allowed_origins_get_a_preflight_and_can_read_answers(configured, outbox):
    client = configured(OTP_ALLOWED_ORIGINS="https://app.example.com,https://www.example.com")
    response = client.http.request("OPTIONS", "/v1/verifications/check", headers={
        "Origin": "https://www.example.com", "Access-Control-Request-Method": "POST"}, body=b"")
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://www.example.com"
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert "content-type" in response.headers["Access-Control-Allow-Headers"]
    status, _, headers = post_raw(client, "/v1/verifications", {
        "content-type": "application/json", "Origin": "https://app.example.com"})
    assert status == 201 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert headers["Vary"] == "Origin"
    # Error answers are readable too (the page shows them), and name only the caller's origin.
    status, _, headers = post_raw(client, "/v1/verifications/check", {
        "content-type": "application/json", "Origin": "https://app.example.com"}, b'{"to": "x"}')
    assert status == 400 and headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    # A look-alike origin is not in the list.
    status, _, headers = post_raw(client, "/v1/verifications", {
        "content-type": "application/json", "Origin": "https://app.example.com.evil.example"})
    assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_the_server_routes_answer_no_cors(configured, outbox):
    client = configured(OTP_ALLOWED_ORIGINS="https://app.example.com")
    status, body, _ = post_raw(client, "/v1/verifications", {"content-type": "application/json"})
    response = client.http.get(f"/v1/verifications/{body['id']}", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers


def test_the_own_page_may_call_the_api(client, outbox):
    # The page at / is served by this API: its fetch carries Origin = the API's own origin.
    status, _, _ = post_raw(client, "/v1/verifications", {
        "content-type": "application/json", "Origin": "https://localhost", "Host": "localhost",
        "Sec-Fetch-Site": "same-origin"}, json.dumps({"to": NUMBER}))
    assert status == 201
