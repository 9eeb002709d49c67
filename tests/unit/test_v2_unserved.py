"""Every operation of Twilio's twilio_verify_v2 document answers in Twilio's shape (issue 29):
a route here, or the catch-all's documented 20404 with its reason (Push; the Service resources
of issue 33); a method the document does not give a path is Twilio's 405
20004 with Allow, on a route's path as on the catch-all's. Through the test client routed as
API Gateway routes (scripts/local/gateway.py), with credentials and without."""

from __future__ import annotations

import json
import re

import pytest

from chalicelib.twilio_v2 import unserved
from tests.integration import twilio_oai
from tests.unit.test_twilio_v2 import FORM, basic, key  # noqa: F401  (key: fixture)
from tests.unit.test_v2_door import NEEDLES, local  # noqa: F401  (local: fixture)

VA = "VA" + "ab" * 16
FILL = {"ServiceSid": VA, "Sid": "XX" + "cd" * 16, "Identity": "alice-0001", "RateLimitSid": "RK" + "ef" * 16,
        "ChallengeSid": "YC" + "01" * 16, "Country": "US", "PhoneNumber": "+14155552671",
        "FormType": "form-push"}


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _routes() -> list[tuple[str, str]]:
    import app as app_module

    return [(method, path) for path, methods in app_module.app.routes.items() if "+}" not in path
            for method, entry in methods.items() if not entry.view_name.startswith("method_not_allowed")]


def _served(method: str, path: str) -> bool:
    """A route takes it: ``/v2/Attempts/{sid}`` takes the document's ``/v2/Attempts/Summary``."""
    segments = path.strip("/").split("/")
    return any(m == method and unserved._matches(route, segments) for m, route in _routes())


def test_every_operation_of_the_document_is_a_route_here_or_a_documented_answer():
    document = [(method, path) for method, path, _ in twilio_oai.operations(twilio_oai.load())]
    served = {(m, _template(p)) for m, p in document if _served(m, p)}
    refused = {(method, _template(path)) for path, (methods, _) in unserved.UNSERVED.items()
               for method in methods}
    assert len(document) == 57 and not served & refused
    assert {(m, _template(p)) for m, p in document} == served | refused
    assert len(served) == 39 and len(refused) == 18  # with the Rate Limits (issue 33), the Passkeys (issue 34)
    # the catch-all's table is the document's paths that no route takes, with their methods
    unserved_paths = {_template(p) for m, p in document if not _served(m, p)}
    assert {_template(p) for p in unserved.UNSERVED} == unserved_paths


def _why(path: str) -> str:
    return unserved.UNSERVED[path][1]


@pytest.mark.parametrize("method, path", sorted((m, p) for p, (methods, _) in unserved.UNSERVED.items()
                                               for m in methods))
def test_an_operation_not_offered_answers_twilios_404_with_its_reason(local, key, method, path):
    for headers in ({}, basic(key["api_key_sid"], key["api_key_secret"])):
        response = local.http.request(method, path.format(**FILL), headers={**headers, "content-type": FORM},
                                      body=b"FriendlyName=x")
        body = json.loads(response.body)
        assert response.status_code == 404 and body == {
            "code": 20404, "status": 404, "more_info": "https://www.twilio.com/docs/errors/20404",
            "message": f"The requested resource was not found: {_why(path)}"}, (method, path, body)


def test_the_reasons_name_what_is_missing_and_where_it_comes():
    assert "Push" in _why("/v2/Forms/{FormType}")
    assert "issue 33" in _why("/v2/Services/{ServiceSid}/Webhooks") and "issue 33" in _why("/v2/Templates")


@pytest.mark.parametrize("method, path, allow", [
    ("GET", "/v2/Services/{ServiceSid}/AccessTokens", "POST"),  # the document's path, another method
    ("PUT", "/v2/Services/{ServiceSid}/RateLimits/{Sid}", "DELETE, GET, POST"),
    ("DELETE", "/v2/Templates", "GET"),
    ("GET", "/v2/Services/{ServiceSid}/Passkeys/VerifyFactor", "POST"),
    ("DELETE", "/v2/Services", "GET, POST"),  # a route's path, another method
    ("PUT", "/v2/Services/{ServiceSid}", "DELETE, GET, POST"),
    ("GET", "/v2/Services/{ServiceSid}/VerificationCheck", "POST"),
    ("PATCH", "/v2/Attempts", "GET"),
    ("POST", "/v2/Services/{ServiceSid}/Entities/{Identity}", "DELETE, GET"),
    ("DELETE", "/v2/Services/{ServiceSid}/Entities/{Identity}/Challenges/{ChallengeSid}", "GET, POST"),
])
def test_another_method_on_a_documented_path_is_twilios_405(local, key, method, path, allow):
    credentials = ({}, basic(key["api_key_sid"], key["api_key_secret"]),
                   {"authorization": "Basic " + NEEDLES[1]})
    for headers in credentials:
        response = local.http.request(method, path.format(**FILL), headers={**headers, "content-type": FORM},
                                      body=b"To=x")
        body = json.loads(response.body)
        assert response.status_code == 405 and response.headers["Allow"] == allow, (method, path, body)
        assert body == {"code": 20004, "status": 405, "more_info": "https://www.twilio.com/docs/errors/20004",
                        "message": f"Method not allowed: this resource takes {allow}"}, (method, path, body)
        assert not [n for n in NEEDLES if n in response.body.decode()]


def test_a_route_still_answers_its_own_methods(local, key):
    """The 405s do not shadow a route: its methods answer as before (here, 401 without a key)."""
    for method, path in (("GET", "/v2/Services"), ("DELETE", f"/v2/Services/{VA}"),
                         ("GET", f"/v2/Services/{VA}/Entities/alice-0001/Challenges/{FILL['ChallengeSid']}")):
        response = local.http.request(method, path, headers={"content-type": FORM}, body=b"")
        assert response.status_code == 401 and json.loads(response.body)["code"] == 20003, (method, path)


def test_a_path_outside_the_document_is_still_the_plain_404(local):
    for method, path in (("GET", "/v2/Nope"), ("POST", f"/v2/Services/{VA}/Passkeys"),
                         ("GET", f"/v2/Services/{VA}/RateLimits/{FILL['RateLimitSid']}/Buckets/x/y")):
        response = local.http.request(method, path, headers={}, body=b"")
        assert response.status_code == 404 and json.loads(response.body)["message"] == (
            "The requested resource was not found"), (method, path)


def test_the_docs_table_lists_every_operation_with_its_answer():
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "twilio-verify.md").read_text()
    table = text.split("### The 57 operations of Twilio's document", 1)[1].split("\n\n| Operation |", 1)[1]
    rows = [line.split(" | ") for line in table.split("\n\n", 1)[0].splitlines()[2:]]
    listed = {op.strip("| "): here.strip(" |") for ops, _, here in rows for op in ops.split(",")}
    document = twilio_oai.operations(twilio_oai.load())
    assert sorted(listed) == sorted(op for _, _, op in document)
    for method, path, op in document:
        assert listed[op] == "route" if _served(method, path) else listed[op].startswith("`20404`"), op


# -- every field the document names, in every answer (schemathesis's twilio_fields check) -----


def _missing(method: str, template: str, status: int, body: dict) -> list[str]:
    spec = twilio_oai.load()
    return twilio_oai.missing_fields(spec, twilio_oai.response_schema(spec, method, template, status), body)


def test_a_service_and_a_new_factor_carry_every_field_of_the_document(client, key):
    """Twilio's Service has ``passkeys`` (null while no Passkeys.* parameter is set) and a new Factor
    ``options`` (null for TOTP, as in the document's createTotp example): left out before."""
    from tests.unit.test_twilio_v2 import call, new_service
    from tests.unit.test_twilio_v2_totp import factor

    service = new_service(client, key)
    assert _missing("POST", "/v2/Services", 201, service) == [] and service["passkeys"] is None
    status, fetched, _ = call(client, key, "GET", f"/v2/Services/{service['sid']}")
    assert _missing("GET", "/v2/Services/{Sid}", status, fetched) == []
    status, listed, _ = call(client, key, "GET", "/v2/Services")
    assert _missing("GET", "/v2/Services", status, listed) == []
    created = factor(client, key, service["sid"])
    template = "/v2/Services/{ServiceSid}/Entities/{Identity}/Factors"
    assert _missing("POST", template, 201, created) == [] and created["options"] is None
