"""The seeds' front ends work unchanged: /request-auth, /validate-auth and the page at /."""

from __future__ import annotations

from urllib.parse import urlencode

from chalicelib.providers import ProviderError
from tests.conftest import last_code

FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_request_auth_by_query_without_plus(client, outbox):
    response = client.http.get("/request-auth?number=14155552671")
    assert response.status_code == 200 and response.body == b"Your code was sent"
    assert outbox[0]["to"] == "+14155552671"


def test_request_and_validate_by_form_post(client, outbox):
    response = client.http.post("/request-auth", headers=FORM, body=urlencode({"number": "+14155552671"}))
    assert response.status_code == 200
    body = urlencode({"number": "14155552671", "auth_code": last_code(outbox)})
    response = client.http.post("/validate-auth", headers=FORM, body=body)
    assert response.status_code == 200 and response.body == b"Success!"


def test_validate_auth_by_query(client, outbox):
    client.http.get("/request-auth?number=%2B14155552671")
    response = client.http.get(f"/validate-auth?number=14155552671&auth_code={last_code(outbox)}")
    assert response.status_code == 200 and response.body == b"Success!"


def test_wrong_or_malformed_code_is_forbidden(client, outbox):
    client.http.get("/request-auth?number=14155552671")
    for code in ("000000" if last_code(outbox) != "000000" else "000001", "１２３４５６", ""):
        response = client.http.get(f"/validate-auth?number=14155552671&auth_code={code}")
        assert response.status_code == 403 and response.body == b"Forbidden"
    response = client.http.get("/validate-auth?number=14155552671")
    assert response.status_code == 403


def test_invalid_phone_number(client):
    for query in ("number=123", "number=abc", ""):
        response = client.http.get(f"/request-auth?{query}")
        assert response.status_code == 400 and response.body == b"Invalid Phone Number"


def test_too_soon_is_429_with_retry_after(client, clock):
    client.http.get("/request-auth?number=14155552671")
    clock.advance(5)
    response = client.http.get("/request-auth?number=14155552671")
    assert response.status_code == 429 and response.headers["Retry-After"] == "25"


def test_send_failure_is_500_error_sending_code(client, service, monkeypatch):
    class Failing:
        name = "failing"

        def send_sms(self, to, body):
            raise ProviderError("failing", permanent=False, detail="HTTP 500")

    service._providers.replace("console", Failing())
    response = client.http.get("/request-auth?number=14155552671")
    assert response.status_code == 500 and response.body == b"Error sending code via SMS"


def test_index_page_has_both_forms_and_security_headers(client):
    response = client.http.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    html = response.body.decode()
    assert 'action="/request-auth"' in html and 'action="/validate-auth"' in html
    assert 'autocomplete="one-time-code"' in html
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
