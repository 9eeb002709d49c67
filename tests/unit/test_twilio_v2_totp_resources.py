"""TOTP's v2 resources complete (issue 29), through the routes as Twilio's SDKs call them:
Entities exist from their creation and are listed and deleted (Twilio's Entity page,
https://www.twilio.com/docs/verify/api/entity); Challenges are listed (FactorSid, Status,
Order), fetched and updated with ``AuthPayload`` (https://www.twilio.com/docs/verify/api/challenge;
60323 for an expired one: https://www.twilio.com/docs/api/errors/60323); a Factor's update
takes each of its documented fields (https://www.twilio.com/docs/verify/api/factor)."""

from __future__ import annotations

from urllib.parse import urlparse

import pyotp
import pytest

from tests.unit.test_twilio_v2 import call, key, new_service, twilio_error  # noqa: F401  (key: a fixture)
from tests.unit.test_twilio_v2_totp import IDENTITY, _verified, factor, step_clock  # noqa: F401


def entities(sid: str) -> str:
    return f"/v2/Services/{sid}/Entities"


def wrong_code(totp: pyotp.TOTP, now: float) -> str:
    return f"{(int(totp.at(now)) + 1) % 10**6:06d}"


# -- Entities ---------------------------------------------------------------------------------


def test_an_entity_exists_from_its_creation(client, key):
    sid = new_service(client, key)["sid"]
    status, created, _ = call(client, key, "POST", entities(sid), {"Identity": IDENTITY})
    assert status == 201
    status, fetched, _ = call(client, key, "GET", f"{entities(sid)}/{IDENTITY}")
    assert status == 200, fetched  # 20404 before: nothing was stored until a factor
    assert (fetched["sid"], fetched["identity"], fetched["date_created"]) == (
        created["sid"], IDENTITY, created["date_created"])
    again = call(client, key, "POST", entities(sid), {"Identity": IDENTITY})  # a retry, or a second create
    assert again[0] == 201 and again[1]["date_created"] == created["date_created"]


def test_entities_are_listed_per_service_in_twilios_shape(client, key, clock):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    names = [f"user-{n:04d}-abcdef" for n in range(5)]
    for name in names:
        assert call(client, key, "POST", entities(first), {"Identity": name})[0] == 201
        clock.advance(1)
    assert call(client, key, "POST", entities(second), {"Identity": "someone-else"})[0] == 201
    factor(client, key, first, "enrolled-first")  # a factor's creation makes its entity too

    status, page, _ = call(client, key, "GET", entities(first) + "?PageSize=4")
    assert status == 200, page  # 405 before
    assert [e["identity"] for e in page["entities"]] == names[:4]
    assert page["meta"]["key"] == "entities" and page["meta"]["page_size"] == 4
    rest = urlparse(page["meta"]["next_page_url"])
    status, page, _ = call(client, key, "GET", f"{rest.path}?{rest.query}")
    assert [e["identity"] for e in page["entities"]] == [names[4], "enrolled-first"]
    assert page["meta"]["next_page_url"] is None
    listed = call(client, key, "GET", entities(second))[1]["entities"]
    assert [(e["identity"], e["service_sid"]) for e in listed] == [("someone-else", second)]


def test_deleting_an_entity_deletes_its_factors_and_challenges(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    pending = factor(client, key, sid, FriendlyName="unconfirmed")
    base = f"{entities(sid)}/{IDENTITY}"
    status, body, _ = call(client, key, "DELETE", base)
    assert status == 204, body  # 405 before
    assert twilio_error(call(client, key, "GET", base)[1]) == 20404
    for factor_sid in (created["sid"], pending["sid"]):
        assert twilio_error(call(client, key, "GET", f"{base}/Factors/{factor_sid}")[1]) == 20404
    assert call(client, key, "GET", f"{base}/Factors")[1]["factors"] == []
    status, body, _ = call(client, key, "POST", f"{base}/Challenges",  # its code approves nothing now
                           {"FactorSid": created["sid"], "AuthPayload": totp.at(step_clock.now)})
    assert status == 404 and twilio_error(body) == 20404
    assert call(client, key, "GET", entities(sid))[1]["entities"] == []
    assert twilio_error(call(client, key, "DELETE", base)[1]) == 20404  # the second delete, as Twilio


def test_another_service_deletes_no_entity_of_this_one(client, key, step_clock):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    created, totp = _verified(client, key, first, step_clock)
    assert twilio_error(call(client, key, "DELETE", f"{entities(second)}/{IDENTITY}")[1]) == 20404
    status, body, _ = call(client, key, "POST", f"{entities(first)}/{IDENTITY}/Challenges",
                           {"FactorSid": created["sid"], "AuthPayload": totp.at(step_clock.now)})
    assert status == 201 and body["status"] == "approved"
    assert [e["identity"] for e in call(client, key, "GET", entities(first))[1]["entities"]] == [IDENTITY]


@pytest.mark.parametrize("kind", ["lost", "reset"])
def test_a_retried_entity_delete_answers_as_its_first_attempt(client, key, step_clock, kind):
    """botocore retries the DeleteItem whose answer was lost (tests/faults.py): the retry finds
    the item gone and the entity still in the index (its own second step to come): 204."""
    from chalicelib import wiring
    from tests.faults import Faults

    sid = new_service(client, key)["sid"]
    _verified(client, key, sid, step_clock)
    faults = Faults()
    faults.attach(wiring.get_totp()._store._client)
    faults.arm("totp_write", kind)  # the DeleteItem on the entity's item (tests/faults.py names t# writes so)
    status, body, _ = call(client, key, "DELETE", f"{entities(sid)}/{IDENTITY}")
    assert ("totp_write", kind) in faults.hit and faults.seen.count("totp_write") == 2
    assert status == 204, body
    assert call(client, key, "GET", entities(sid))[1]["entities"] == []


# -- Challenges -------------------------------------------------------------------------------


def _challenge(client, key, sid: str, factor_sid: str, **form) -> dict:
    status, body, _ = call(client, key, "POST", f"{entities(sid)}/{IDENTITY}/Challenges",
                           {"FactorSid": factor_sid, **form})
    assert status == 201, body
    return body


def test_a_challenge_is_fetched_and_approved_by_its_update(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    challenge = _challenge(client, key, sid, created["sid"])  # no AuthPayload: pending
    assert challenge["status"] == "pending" and len(challenge["sid"]) == 34
    path = f"{entities(sid)}/{IDENTITY}/Challenges/{challenge['sid']}"
    status, fetched, _ = call(client, key, "GET", path)
    assert status == 200, fetched  # API Gateway's 403 before
    assert (fetched["sid"], fetched["status"], fetched["factor_sid"]) == (challenge["sid"], "pending", created["sid"])
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": wrong_code(totp, step_clock.now)})
    assert status == 200 and body["status"] == "pending"
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})
    assert status == 200 and body["status"] == "approved" and body["date_responded"]
    assert call(client, key, "GET", path)[1]["status"] == "approved"
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})
    assert status == 400 and twilio_error(body) == 60200  # responded already: nothing compared


def test_a_code_approves_one_challenge_once(client, key, step_clock):
    """The update is the existing challenge use case: a code used by one challenge is a
    replay for the next (counted as a wrong code), as on /v1/totp/challenges."""
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    one, two = (_challenge(client, key, sid, created["sid"]) for _ in range(2))
    base = f"{entities(sid)}/{IDENTITY}/Challenges"
    assert call(client, key, "POST", f"{base}/{one['sid']}", {"AuthPayload": totp.at(step_clock.now)})[1][
        "status"] == "approved"
    assert call(client, key, "POST", f"{base}/{two['sid']}", {"AuthPayload": totp.at(step_clock.now)})[1][
        "status"] == "pending"


def test_wrong_codes_in_updates_count_with_the_other_wrong_codes(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    wrong = wrong_code(totp, step_clock.now)
    for _ in range(3):  # counted on the factor, as the create's AuthPayload is
        assert _challenge(client, key, sid, created["sid"], AuthPayload=wrong)["status"] == "pending"
    challenge = _challenge(client, key, sid, created["sid"])
    path = f"{entities(sid)}/{IDENTITY}/Challenges/{challenge['sid']}"
    for _ in range(2):
        assert call(client, key, "POST", path, {"AuthPayload": wrong})[1]["status"] == "pending"
    status, body, headers = call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})
    assert status == 429 and twilio_error(body) == 60308 and int(headers["Retry-After"]) > 0


def test_an_expired_challenge_is_60323_and_counts_nothing(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    challenge = _challenge(client, key, sid, created["sid"])
    step_clock.advance(301)  # Twilio's default: five minutes
    path = f"{entities(sid)}/{IDENTITY}/Challenges/{challenge['sid']}"
    assert call(client, key, "GET", path)[1]["status"] == "expired"
    status, body, _ = call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})
    assert status == 403 and twilio_error(body) == 60323
    fresh = _challenge(client, key, sid, created["sid"], AuthPayload=totp.at(step_clock.now))
    assert fresh["status"] == "approved"  # the code was not used up by the refused update


def test_challenges_are_listed_with_twilios_filters(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    other, _ = _verified(client, key, sid, step_clock)
    first = _challenge(client, key, sid, created["sid"])
    step_clock.advance(1)
    approved = _challenge(client, key, sid, created["sid"], AuthPayload=totp.at(step_clock.now))
    step_clock.advance(1)
    theirs = _challenge(client, key, sid, other["sid"])
    base = f"{entities(sid)}/{IDENTITY}/Challenges"
    status, page, _ = call(client, key, "GET", base)
    assert status == 200, page  # 405 before
    assert [c["sid"] for c in page["challenges"]] == [first["sid"], approved["sid"], theirs["sid"]]
    assert page["meta"]["key"] == "challenges"
    query = f"?FactorSid={created['sid']}&Order=desc"
    assert [c["sid"] for c in call(client, key, "GET", base + query)[1]["challenges"]] == [
        approved["sid"], first["sid"]]
    assert [c["sid"] for c in call(client, key, "GET", base + "?Status=pending")[1]["challenges"]] == [
        first["sid"], theirs["sid"]]
    status, body, _ = call(client, key, "GET", base + "?Status=maybe")
    assert status == 400 and twilio_error(body) == 60200


def test_another_services_challenge_is_not_found(client, key, step_clock):
    first, second = new_service(client, key)["sid"], new_service(client, key, FriendlyName="Other")["sid"]
    created, totp = _verified(client, key, first, step_clock)
    challenge = _challenge(client, key, first, created["sid"])
    path = f"{entities(second)}/{IDENTITY}/Challenges/{challenge['sid']}"
    assert twilio_error(call(client, key, "GET", path)[1]) == 20404
    assert twilio_error(call(client, key, "POST", path, {"AuthPayload": totp.at(step_clock.now)})[1]) == 20404
    assert call(client, key, "GET", f"{entities(second)}/{IDENTITY}/Challenges")[1]["challenges"] == []
    mine = f"{entities(first)}/{IDENTITY}/Challenges/{challenge['sid']}"
    assert call(client, key, "POST", mine, {"AuthPayload": totp.at(step_clock.now)})[1]["status"] == "approved"


# -- a Factor's update ------------------------------------------------------------------------


def test_a_factors_update_takes_its_friendly_name_and_skew_alone(client, key, step_clock):
    sid = new_service(client, key)["sid"]
    created, totp = _verified(client, key, sid, step_clock)
    path = f"{entities(sid)}/{IDENTITY}/Factors/{created['sid']}"
    status, body, _ = call(client, key, "POST", path, {"FriendlyName": "Work phone"})
    assert status == 200, body  # 60200 (AuthPayload required) before
    assert body["friendly_name"] == "Work phone" and body["status"] == "verified"
    status, body, _ = call(client, key, "POST", path, {"Config.Skew": "0", "Config.TimeStep": "30"})
    assert status == 200 and body["config"]["skew"] == 0, body
    fetched = call(client, key, "GET", path)[1]
    assert (fetched["friendly_name"], fetched["config"]["skew"]) == ("Work phone", 0)
    late = _challenge(client, key, sid, created["sid"], AuthPayload=totp.at(step_clock.now - 30))
    assert late["status"] == "pending"  # the new skew applies


@pytest.mark.parametrize("form,parameter", [
    ({"Config.TimeStep": "60"}, "Config.TimeStep"), ({"Config.CodeLength": "8"}, "Config.CodeLength"),
    ({"Config.Alg": "sha256"}, "Config.Alg"), ({"Config.Skew": "3"}, "Config.Skew"),
    ({"Config.NotificationToken": "x" * 40}, "Config.NotificationToken"),
    ({"FriendlyName": "x" * 65}, "FriendlyName"),
])
def test_a_factor_field_that_cannot_change_is_60200_naming_it(client, key, step_clock, form, parameter):
    sid = new_service(client, key)["sid"]
    created, _ = _verified(client, key, sid, step_clock)
    path = f"{entities(sid)}/{IDENTITY}/Factors/{created['sid']}"
    status, body, _ = call(client, key, "POST", path, form)
    assert status == 400 and twilio_error(body) == 60200 and f"`{parameter}`" in body["message"], body
    assert call(client, key, "GET", path)[1]["friendly_name"] == created["friendly_name"]
