"""Property tests: no input, however odd, makes a 500 or passes a malformed code."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.codes import parse_code
from chalicelib.errors import InvalidCodeFormat, InvalidPhoneNumber, InvalidRequest, UnsupportedNumberType
from chalicelib.channels.phone import parse_phone_number, require_reachable

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.sampled_from(["to", "country", "channel", "locale", "code", "id", "x"])
BODIES = st.dictionaries(FIELDS, JSON_VALUES | st.text(alphabet="+0123456789 ()-", max_size=20), max_size=5)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(raw=st.text(max_size=30) | st.from_regex(r"\A[0-9]{4,8}\Z"))
@settings(max_examples=500, deadline=None)
def test_only_ascii_digit_strings_of_the_length_pass(raw):
    accepted = re.fullmatch(r"[0-9]{6}", raw, re.ASCII) is not None
    try:
        assert parse_code(raw, 6) == raw and accepted
    except InvalidCodeFormat:
        assert not accepted


@given(value=JSON_VALUES)
@settings(max_examples=300, deadline=None)
def test_non_strings_are_never_codes(value):
    if isinstance(value, str):
        return
    with pytest.raises(InvalidCodeFormat):
        parse_code(value, 6)


@given(raw=st.text(max_size=40) | st.from_regex(r"\A\+?[0-9 ()-]{2,20}\Z"), region=st.sampled_from(["US", "GB", "IN"]))
@settings(max_examples=500, deadline=None)
def test_phone_parsing_either_gives_e164_or_a_domain_error(raw, region):
    try:
        phone = require_reachable(raw, region)
    except (InvalidPhoneNumber, UnsupportedNumberType):
        return
    assert re.fullmatch(r"\+[1-9][0-9]{6,14}", phone.e164, re.ASCII)
    assert parse_phone_number(phone.e164, "US").e164 == phone.e164


@given(body=BODIES)
@SETTINGS
def test_no_start_body_makes_a_500(client, body):
    response = client.http.post("/v1/verifications", headers={"content-type": "application/json"},
                                body=json.dumps(body))
    assert response.status_code < 500 or response.status_code == 502
    payload = json.loads(response.body)
    assert ("error" in payload) == (response.status_code >= 400)


@given(body=BODIES)
@SETTINGS
def test_no_check_body_makes_a_500(client, body):
    response = client.http.post("/v1/verifications/check", headers={"content-type": "application/json"},
                                body=json.dumps(body))
    assert response.status_code in (400, 403, 404, 429), response.body
    assert "error" in json.loads(response.body)


@given(raw=st.binary(max_size=200))
@SETTINGS
def test_no_raw_bytes_make_a_500(client, raw):
    for path in ("/v1/verifications", "/v1/verifications/check"):
        response = client.http.post(path, headers={"content-type": "application/json"}, body=raw)
        assert response.status_code < 500 or response.status_code == 502
