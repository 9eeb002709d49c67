"""The schemathesis run's own checks (tests/integration/twilio_oai_checks.py) and the test-time
transformation of Twilio's document (tests/integration/twilio_oai.py) catch what they are for:
a body that is not Twilio's error shape, a 403, a SID of another length or prefix."""

from __future__ import annotations

import json

import pytest
import requests

from tests.integration import twilio_oai

VE = "VE" + "ab" * 16


@pytest.fixture(scope="module")
def checks(tmp_path_factory):
    import os

    spec = twilio_oai.write(twilio_oai.load(), tmp_path_factory.mktemp("oai") / "spec.json")
    os.environ["TWILIO_OAI_SPEC"] = str(spec)
    from tests.integration import twilio_oai_checks

    yield twilio_oai_checks
    twilio_oai_checks._patterns.cache_clear()
    del os.environ["TWILIO_OAI_SPEC"]


def _response(status: int, body: object, content_type: str = "application/json"):
    from schemathesis.core.transport import Response

    request = requests.Request("GET", "http://127.0.0.1/v2/Services").prepare()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(status, {"Content-Type": [content_type]}, content, request, 0.01, True)


TWILIO_404 = {"code": 20404, "message": "The requested resource was not found", "status": 404,
              "more_info": "https://www.twilio.com/docs/errors/20404"}


@pytest.mark.parametrize("status, body, content_type", [
    (404, {"error": {"code": "not_found", "message": "No such resource"}}, "application/json"),  # v1's shape
    (404, {"message": "Missing Authentication Token"}, "application/json"),  # API Gateway's own
    (404, {**TWILIO_404, "status": 400}, "application/json"),  # status is not the HTTP status
    (404, {**TWILIO_404, "code": "20404"}, "application/json"),
    (404, {**TWILIO_404, "extra": 1}, "application/json"),
    (404, TWILIO_404, "text/html"),
    (500, b"<html>Internal Server Error</html>", "text/html"),
    (403, {**TWILIO_404, "code": 20403, "status": 403}, "application/json"),  # no 403 at all
])
def test_the_error_shape_check_refuses(checks, status, body, content_type):
    with pytest.raises(AssertionError):
        checks.twilio_error_shape(None, _response(status, body, content_type), None)


def test_the_error_shape_check_passes_twilios_errors_and_successes(checks):
    assert checks.twilio_error_shape(None, _response(404, TWILIO_404), None) is None
    assert checks.twilio_error_shape(None, _response(200, {"sid": VE}), None) is None


@pytest.mark.parametrize("body", [
    {"sid": VE + "ab" * 8},  # 48 hex digits
    {"verification_sid": "VA" + "ab" * 16},  # another resource's prefix
    {"attempts": [{"verification_sid": VE[:-1]}]},  # nested, one digit short
    {"factors": [{"sid": "YF" + "ab" * 24}]},
    {"send_code_attempts": [{"attempt_sid": "VL" + "ab" * 24}]},  # a *_sid the document gives no pattern
])
def test_the_sid_check_refuses_a_sid_off_the_documents_pattern(checks, body):
    with pytest.raises(AssertionError):
        checks.twilio_sids(None, _response(200, body), None)


def test_the_sid_check_passes_twilios_sids_and_relaxing_is_explicit(checks):
    body = {"sid": VE, "service_sid": "VA" + "cd" * 16,
            "send_code_attempts": [{"attempt_sid": "VL" + "ef" * 16}],
            "url": "https://x/v2/Services/VA/Verifications/" + VE + "ab" * 8}
    assert checks.twilio_sids(None, _response(200, body), None) is None
    relaxed = twilio_oai.relax_long_sids(twilio_oai.load(), ["VE"])
    assert twilio_oai.bad_sids({"sid": VE + "ab" * 8}, twilio_oai.sid_patterns(relaxed)) == []
    assert twilio_oai.bad_sids({"sid": "YF" + "ab" * 24}, twilio_oai.sid_patterns(relaxed)) != []


def test_the_fields_check_names_what_a_success_leaves_out():
    spec = twilio_oai.load()
    schema = twilio_oai.response_schema(spec, "GET", "/v2/Services", 200)
    body = {"services": [{"sid": "VA" + "ab" * 16}], "meta": {"page": 0}}
    missing = twilio_oai.missing_fields(spec, schema, body)
    assert "services[0].friendly_name" in missing and "services[0].passkeys" in missing
    assert "meta.next_page_url" in missing and "meta.page" not in missing
