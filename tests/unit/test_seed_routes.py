"""The seeds' front ends work unchanged: /request-auth, /validate-auth and the page at /."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from chalicelib.channels.providers import ProviderError
from tests.conftest import last_code

FORM = {"content-type": "application/x-www-form-urlencoded"}


def seed(client, path: str, headers: dict | None = None, **fields: str):
    return client.http.post(path, headers={**FORM, **(headers or {})}, body=urlencode(fields))


def test_request_auth_by_form_without_plus(client, outbox):
    response = seed(client, "/request-auth", number="14155552671")
    assert response.status_code == 200 and response.body == b"Your code was sent"
    assert outbox[0]["to"] == "+14155552671"


def test_a_national_number_is_read_in_the_posted_country(client, outbox):
    # The page's no-JS form posts `country` beside the number. Read without it, 4155552671
    # became +4155552671 (another country's number).
    response = seed(client, "/request-auth", number="(415) 555-2671", country="US")
    assert response.status_code == 200
    assert outbox[0]["to"] == "+14155552671"
    body = {"number": "4155552671", "country": "US", "auth_code": last_code(outbox)}
    assert seed(client, "/validate-auth", **body).body == b"Success!"


@pytest.mark.parametrize("path", ["/request-auth", "/validate-auth"])
def test_a_get_never_sends_or_checks(client, outbox, path):
    # <img src="https://api/request-auth?number=..."> on any page sent SMS from its visitors.
    response = client.http.get(f"{path}?number=14155552671&auth_code=123456")
    assert response.status_code == 405
    assert len(outbox) == 0


def test_validate_auth_never_takes_the_code_from_the_query_string(client, outbox):
    seed(client, "/request-auth", number="+14155552671")
    code = last_code(outbox)
    response = client.http.post(f"/validate-auth?auth_code={code}&number=14155552671", headers=FORM,
                                body=urlencode({"number": "14155552671"}))
    assert response.status_code == 403
    assert seed(client, "/validate-auth", number="14155552671", auth_code=code).status_code == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null"},  # a sandboxed iframe or a data: page
    {"Sec-Fetch-Site": "cross-site"},  # browsers that send Sec-Fetch-* but no Origin
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_page_on_another_origin_cannot_post_the_forms(client, outbox, headers):
    # What a browser sends for <form action="https://api/request-auth" method="post"> on
    # another site (Fetch Metadata: https://www.w3.org/TR/fetch-metadata/, Origin: RFC 6454).
    assert seed(client, "/request-auth", headers, number="+14155552671").status_code == 403
    assert len(outbox) == 0


def test_the_own_page_and_non_browser_clients_may_post_the_forms(client, outbox, clock):
    # Same origin: the page served by this API at / (Origin equals the API's host).
    own = {"Origin": "http://localhost", "Host": "localhost", "Sec-Fetch-Site": "same-origin"}
    assert seed(client, "/request-auth", own, number="+14155552671").status_code == 200
    clock.advance(60)
    assert seed(client, "/request-auth", number="+14155552672").status_code == 200  # curl, an app


def test_request_and_validate_by_form_post(client, outbox):
    response = client.http.post("/request-auth", headers=FORM, body=urlencode({"number": "+14155552671"}))
    assert response.status_code == 200
    body = urlencode({"number": "14155552671", "auth_code": last_code(outbox)})
    response = client.http.post("/validate-auth", headers=FORM, body=body)
    assert response.status_code == 200 and response.body == b"Success!"


def test_wrong_or_malformed_code_is_forbidden(client, outbox):
    seed(client, "/request-auth", number="14155552671")
    for code in ("000000" if last_code(outbox) != "000000" else "000001", "１２３４５６", ""):
        response = seed(client, "/validate-auth", number="14155552671", auth_code=code)
        assert response.status_code == 403 and response.body == b"Forbidden"
    assert seed(client, "/validate-auth", number="14155552671").status_code == 403


def test_invalid_phone_number(client):
    for fields in ({"number": "123"}, {"number": "abc"}, {}, {"number": "4155552671", "country": "USA"}):
        response = seed(client, "/request-auth", **fields)
        assert response.status_code == 400 and response.body == b"Invalid Phone Number"


def test_too_soon_is_429_with_retry_after(client, clock):
    seed(client, "/request-auth", number="14155552671")
    clock.advance(5)
    response = seed(client, "/request-auth", number="14155552671")
    assert response.status_code == 429 and response.headers["Retry-After"] == "25"


def test_send_failure_is_500_error_sending_code(client, service, monkeypatch):
    class Failing:
        name = "failing"

        def send_sms(self, to, body):
            raise ProviderError("failing", permanent=False, detail="HTTP 500")

    service._providers.replace("console", Failing())
    response = seed(client, "/request-auth", number="14155552671")
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
