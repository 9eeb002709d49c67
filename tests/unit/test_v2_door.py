"""The v2 door against a browser and against echoes (issue 28 items 2 and 3).

Item 2: /v2 is for backends. Its 401 carries no challenge a browser answers and caches, and a
request that carries a browser's cross-site signals (Sec-Fetch-Site other than none or
same-origin, an Origin other than the API's own) is refused with 403 20403 before any key is
looked at. Server SDKs send neither header (twilio-node's fetch sends Sec-Fetch-Mode only),
so they pass. The browser itself is in tests/browser/test_v2_cross_site.py.

Item 3: no answer repeats a credential: an unknown /v2 path answers Twilio's 404 20404, an
unknown v1 path the gateway's fixed 404, and neither puts the request's Authorization (or its
security token) into a body, a header or a log line. API Gateway's own answers (their
templates) are in tests/unit/test_gateway_responses.py.
"""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.unit.test_twilio_v2 import FORM, basic, call, key, twilio_error  # noqa: F401  (key: fixture)

HOST = "verify.example.com"


def _services(client, key) -> list[str]:
    status, body, _ = call(client, key, "GET", "/v2/Services")
    assert status == 200, body
    return [s["sid"] for s in body["services"]]


def _create(client, key, **headers: str):
    """POST /v2/Services with the key and the given browser headers, as the Host HOST."""
    return call(client, key, "POST", "/v2/Services", {"FriendlyName": "Evil"},
                headers={**basic(key["api_key_sid"], key["api_key_secret"]), "host": HOST, **headers})


# -- item 2: no cross-site writes ----------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example"},
    {"origin": "null"},  # a sandboxed frame, a data: URL, a redirect across origins: foreign
    {"origin": f"http://{HOST}.evil.example"},
    {"origin": f"http://{HOST}:8443"},  # another port is another origin
    {"sec-fetch-site": "cross-site"},
    {"sec-fetch-site": "same-site"},  # another port or subdomain of the same site: not ours
    {"sec-fetch-site": "same-site", "origin": "http://127.0.0.1:9999"},  # Chromium's form post
    {"sec-fetch-site": "cross-site", "origin": f"http://{HOST}"},  # either signal refuses
    {"sec-fetch-site": "same-origin", "origin": "https://evil.example"},
], ids=repr)
def test_a_cross_site_browser_request_is_refused_before_anything(client, key, headers):
    before = _services(client, key)
    status, body, response_headers = _create(client, key, **headers)
    assert status == 403 and twilio_error(body) == 20403, body
    assert "backends" in body["message"] and "cross-site browser requests are refused" in body["message"]
    assert "WWW-Authenticate" not in response_headers
    assert _services(client, key) == before  # no Service was created


@pytest.mark.parametrize("headers", [
    {},  # twilio-python (requests) and twilio-go send neither header
    {"sec-fetch-mode": "cors"},  # twilio-node: Node's fetch (undici) adds Sec-Fetch-Mode only
    {"sec-fetch-site": "none"},  # the operator typed the URL: a navigation no page started
    {"sec-fetch-site": "same-origin"},
    {"sec-fetch-site": "SAME-ORIGIN"},
    {"origin": f"http://{HOST}"},  # the API's own origin: scheme and Host of the request
    {"origin": f"HTTP://{HOST.upper()}", "sec-fetch-site": "same-origin"},
], ids=repr)
def test_servers_and_the_apis_own_origin_pass(client, key, headers):
    status, body, _ = _create(client, key, **headers)
    assert status == 201, body


def test_the_own_origin_is_the_scheme_the_client_used(client, key):
    """Behind API Gateway the client's scheme is X-Forwarded-Proto: https."""
    status, _, _ = _create(client, key, **{"x-forwarded-proto": "https", "origin": f"https://{HOST}"})
    assert status == 201
    status, body, _ = _create(client, key, **{"x-forwarded-proto": "https", "origin": f"http://{HOST}"})
    assert status == 403 and twilio_error(body) == 20403


def test_the_pages_allowed_origins_do_not_open_v2(configured):
    """OTP_ALLOWED_ORIGINS lets a page call v1's start and check; a page never writes to /v2."""
    from scripts.keys.api_keys import create

    client = configured(OTP_ALLOWED_ORIGINS="https://app.example.com")
    key = create("test", "tests")
    status, body, headers = _create(client, key, origin="https://app.example.com")
    assert status == 403 and twilio_error(body) == 20403
    assert "Access-Control-Allow-Origin" not in headers


def test_the_refusal_comes_before_the_key_is_read(client, key, monkeypatch):
    """Wrong keys, no keys: the same 403, and no key look-up or failure counted (a page
    cannot spend a backend's failure allowance from its visitors' browsers)."""
    from chalicelib import wiring

    api = wiring.get_twilio()
    monkeypatch.setattr(api.authenticator, "authenticate",
                        lambda *a: pytest.fail("authenticated a cross-site request"))
    for headers in ({}, basic("SK" + "0" * 32, "wrong"), basic(key["api_key_sid"], key["api_key_secret"])):
        status, body, _ = call(client, key, "GET", "/v2/Services",
                               headers={**headers, "content-type": FORM, "origin": "https://evil.example"})
        assert status == 403 and twilio_error(body) == 20403


def test_every_v2_route_refuses_a_cross_site_request(client, key):
    """The rule is in the routes' one entry (routes.py ``answers``): every route has it."""
    import app as app_module

    status, body, _ = call(client, key, "POST", "/v2/Services", {"FriendlyName": "Acme"})
    fill = {"sid": body["sid"], "identity": "alice-0001", "verification_sid": "VE" + "0" * 48,
            "factor_sid": "YF" + "0" * 48, "challenge_sid": "YC" + "0" * 32,
            "rate_limit_sid": "RK" + "0" * 32, "bucket_sid": "BL" + "0" * 32,
            "webhook_sid": "YW" + "0" * 32, "phone_number": "+14155552671", "country": "US"}
    routes = [(m, p) for p, methods in app_module.app.routes.items() if p.startswith("/v2/") and "+}" not in p
              for m, e in methods.items() if not e.view_name.startswith("method_not_allowed")]
    assert routes
    for method, path in routes:
        status, body, _ = call(client, key, method, path.format(**fill), {"To": "+14155552671"},
                               headers={**basic(key["api_key_sid"], key["api_key_secret"]),
                                        "sec-fetch-site": "cross-site"})
        assert status == 403 and twilio_error(body) == 20403, (method, path)


def test_the_401_carries_no_challenge_a_browser_would_cache(client, key):
    for headers in ({"content-type": FORM}, basic("SK" + "0" * 32, "wrong")):
        status, body, response_headers = call(client, key, "GET", "/v2/Services", headers=headers)
        assert status == 401 and twilio_error(body) == 20003
        assert not {h.lower() for h in response_headers} & {"www-authenticate"}, response_headers


# -- item 3: no credential echoed; unknown /v2 paths answer Twilio's 404 ---------------------

SECRET = "s3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr"  # a secret's shape (credentials.py: 40 alphanumerics)
SK = "SK" + "ab" * 16
BASIC = "Basic " + base64.b64encode(f"{SK}:{SECRET}".encode()).decode()
SIGV4 = ("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/eu-west-1/execute-api/aws4_request, "
         "SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=" + "5d" * 32)
BEARER = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLEsessionTOKENthatMustNotLeak0123456789"
# What must appear nowhere: each credential, its parts, and the base64 of the Basic pair.
NEEDLES = [SECRET, BASIC.split()[1], "AKIAIOSFODNN7EXAMPLE", "5d" * 32, BEARER.split()[1], TOKEN]
CREDENTIALS = [
    {"authorization": BASIC},
    {"authorization": SIGV4, "x-amz-date": "20250101T000000Z", "x-amz-security-token": TOKEN},
    {"authorization": BEARER},
    {"x-amz-security-token": TOKEN},
]
UNKNOWN_V2 = [("GET", "/v2/Nope"), ("POST", "/v2/Services/VA" + "0" * 32 + "/Nope"),
              ("GET", "/v2/Services/VA" + "0" * 32 + "/Verifications/VE" + "0" * 48 + "/Deeper/Still"),
              ("DELETE", "/v2/Attempts/Summary/x"), ("PUT", "/v2/Services/x/y/z/w/v")]


def _leaks(text: str) -> list[str]:
    return [needle for needle in NEEDLES if needle in text]


@pytest.fixture
def local(client):
    """The test client routed as scripts/local/serve.py routes (scripts/local/gateway.py): greedy
    routes and the gateway's own fixed 404, as API Gateway with this API's gateway responses."""
    from scripts.local.gateway import routed_as_deployed

    routed_as_deployed(client)
    return client


@pytest.mark.parametrize("credential", CREDENTIALS, ids=["basic", "sigv4", "bearer", "security-token"])
@pytest.mark.parametrize("method, path", UNKNOWN_V2)
def test_an_unknown_v2_path_is_twilios_404_and_echoes_nothing(local, key, caplog, credential, method, path):
    caplog.set_level(logging.DEBUG)
    response = local.http.request(method, path, headers={**credential, "content-type": FORM}, body=b"To=x")
    body = json.loads(response.body)
    assert response.status_code == 404 and body == {
        "code": 20404, "message": "The requested resource was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404", "status": 404}, (method, path, body)
    assert not _leaks(response.body.decode() + json.dumps(dict(response.headers)) + caplog.text)


def test_an_unknown_v2_path_is_404_with_a_good_key_or_none(local, key):
    """Chosen: no authentication on a path that is no route (nothing there to protect; no key
    read for a scanner); Twilio says 401 without credentials, this says 404 either way."""
    for headers in ({}, basic(key["api_key_sid"], key["api_key_secret"])):
        response = local.http.request("GET", "/v2/Nope/Deeper", headers=headers, body=b"")
        assert response.status_code == 404 and json.loads(response.body)["code"] == 20404


@pytest.mark.parametrize("credential", CREDENTIALS, ids=["basic", "sigv4", "bearer", "security-token"])
@pytest.mark.parametrize("method, path", [
    ("DELETE", "/v2/Services"), ("PUT", "/v2/Services/VA" + "0" * 32), ("PATCH", "/v2/Attempts"),
    ("GET", "/v2/Services/VA" + "0" * 32 + "/VerificationCheck"),
    ("GET", "/v1/nope"), ("POST", "/v1/verifications/x/y/z"), ("GET", "/"), ("POST", "/nope"),
    ("PUT", "/v1/verifications"), ("PATCH", "/v1/verifications/VE" + "0" * 48), ("GET", "/v1/verifications/check"),
    ("POST", "/v1/totp/x/y/z/w"),
])
def test_wrong_paths_and_methods_echo_no_credential(local, key, caplog, credential, method, path):
    caplog.set_level(logging.DEBUG)
    response = local.http.request(method, path, headers={**credential, "content-type": "application/json"},
                                  body=b"{}")
    assert response.status_code >= 400 or path == "/", (method, path)
    text = response.body.decode(errors="replace") + json.dumps(dict(response.headers))
    assert not _leaks(text + caplog.text), (method, path, text)
    body = json.loads(response.body) if response.status_code >= 400 else {}
    if response.status_code >= 400 and path.startswith("/v2/"):
        twilio_error(body)
    elif response.status_code >= 400:
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body


def test_an_unknown_v1_path_is_the_gateways_fixed_404(local):
    response = local.http.request("GET", "/v1/nope/deeper", headers={"authorization": BASIC}, body=b"")
    assert response.status_code == 404
    assert json.loads(response.body) == {"error": {"code": "not_found", "message": _fixed("MISSING_AUTHENTICATION_TOKEN")}}


def _fixed(kind: str) -> str:
    from scripts.deploy.gateway_settings import GATEWAY_RESPONSES

    return GATEWAY_RESPONSES[kind][2]
