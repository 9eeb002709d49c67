"""What a stranger on the public internet tried (issue 12), and what must hold afterwards.
Point 1 (test numbers) is in test_limits.py, point 6 (browsers) in test_doors.py and
test_seed_routes.py, point 9 (stage guards) in test_config.py; the concurrency of the number's
item is in tests/integration."""

from __future__ import annotations

import pytest

from chalicelib.channels.providers import ProviderError
from tests.conftest import last_code
from tests.unit.helpers import NUMBER, check, delete, error_code, get, start

HOUR = 3600


def wrong(outbox) -> str:
    return f"{(int(last_code(outbox)) + 1) % 10**6:06d}"


# -- 2. locking a number -------------------------------------------------------------------


def test_a_verification_locked_by_failed_checks_cannot_be_canceled(client, outbox):
    # The attack: 5 wrong checks, DELETE, 5 more, ... reset the guessing (and locked the
    # number until midnight through the daily counter).
    _, started, _ = start(client)
    for _ in range(5):
        check(client, wrong(outbox))
    status, body, _ = delete(client, f"/v1/verifications/{started['id']}")
    assert status == 409 and error_code(body) == "not_pending" and body["error"]["status"] == "max_attempts_reached"
    status, body, _ = start(client)
    assert status == 429 and error_code(body) == "max_attempts_reached"
    assert len(outbox) == 1  # no SMS to a locked number


def test_no_sms_goes_to_a_number_whose_checks_are_used_up(configured, outbox, clock):
    client = configured(OTP_MAX_CHECKS_PER_NUMBER_PER_WINDOW="7")
    clock.now = clock.now - clock.now % HOUR + 10
    start(client)
    for _ in range(5):
        check(client, wrong(outbox))
    clock.advance(600)  # the locked verification expires
    assert start(client)[0] == 201
    for _ in range(2):
        assert check(client, wrong(outbox))[0] == 403
    clock.advance(30)
    status, body, headers = start(client)  # a resend: its code could not be checked
    assert status == 429 and error_code(body) == "too_many_checks"
    clock.advance(600)  # that verification expires too
    status, body, headers = start(client)  # a new one: refused before any SMS
    assert status == 429 and error_code(body) == "too_many_checks"
    assert len(outbox) == 2
    assert 0 < int(headers["Retry-After"]) <= HOUR


def test_strangers_can_lock_a_number_for_one_window_at_most(client, outbox, clock):
    clock.now = clock.now - clock.now % HOUR + 10
    for _ in range(2):  # 2 verifications x 5 wrong checks = the window's 10 checks
        start(client)
        for _ in range(5):
            check(client, wrong(outbox))
        clock.advance(600)
    status, body, headers = start(client)
    assert status == 429 and error_code(body) == "too_many_checks"
    clock.advance(int(headers["Retry-After"]))
    assert clock.now % HOUR == 0  # the window's end, not the day's
    status, _, _ = start(client)
    assert status == 201
    assert check(client, last_code(outbox))[0] == 200  # the owner gets in


# -- 4. numbers that reach no fixed person --------------------------------------------------


SPECIAL = {
    "non_geographic": ["+881612345678", "+870773111632", "+8823421234"],  # satellite, networks
    "personal": ["+447012345678"],  # a UK follow-me number
    "voip": ["+445612345678"],  # a UK VoIP number
}


@pytest.mark.parametrize("kind,to", [(k, n) for k, numbers in SPECIAL.items() for n in numbers])
def test_special_numbers_get_no_code_by_default(client, outbox, kind, to):
    for channel in ("sms", "voice"):
        status, body, _ = start(client, to=to, channel=channel)
        assert status == 400 and error_code(body) == "unsupported_number_type", (kind, channel)
    assert len(outbox) == 0


@pytest.mark.parametrize("kind", list(SPECIAL))
def test_each_special_type_can_be_allowed_alone(configured, outbox, kind):
    client = configured(OTP_SMS_ALLOWED_SPECIAL_TYPES=kind)
    assert start(client, to=SPECIAL[kind][0])[0] == 201
    others = [numbers[0] for other, numbers in SPECIAL.items() if other != kind]
    assert all(start(client, to=n)[0] == 400 for n in others)


# -- 5. ids that link nothing -------------------------------------------------------------


def test_ids_of_one_number_share_nothing_and_still_find_the_item(client, outbox, clock, service):
    ids = []
    for _ in range(3):
        _, body, _ = start(client)
        ids.append(body["id"])
        assert get(client, f"/v1/verifications/{body['id']}")[1]["status"] == "pending"
        delete(client, f"/v1/verifications/{body['id']}")
    number_key = service._hasher.number_key(NUMBER)
    for verification_id in ids:
        assert number_key not in verification_id
    masked = [verification_id[2:34] for verification_id in ids]
    assert len(set(masked)) == 3
    # Not even a shared byte position: each hex digit differs somewhere across the ids.
    assert sum(a == b for a, b in zip(masked[0], masked[1])) < 16


def test_an_id_with_a_changed_random_part_finds_nothing(client, outbox):
    _, body, _ = start(client)
    verification_id = body["id"]
    for at in (2, 20, 33):  # any hex digit of a 34-character SID
        digit = "0" if verification_id[at] != "0" else "1"
        forged = verification_id[:at] + digit + verification_id[at + 1:]
        status, answer, _ = get(client, f"/v1/verifications/{forged}")
        assert status == 404 and error_code(answer) == "verification_not_found"


# -- 7. an undo after an approval ---------------------------------------------------------


class ApprovesThenFails:
    """The provider delivers; the user approves with the new code while the provider's answer
    is still on its way; then the answer fails (a 5xx, or a read timeout)."""

    name = "console"
    supports_voice = True

    def __init__(self, service, maybe_delivered: bool) -> None:
        self.service = service
        self.maybe_delivered = maybe_delivered

    def send_sms(self, to, message):
        import re

        from chalicelib.verify.models import CheckRequest

        code = re.search(r"\b[0-9]{6}\b", message.text).group(0)
        self.service.check(CheckRequest(code, to.e164, None, None))
        raise ProviderError("console", permanent=False, detail="late failure",
                            maybe_delivered=self.maybe_delivered)


@pytest.mark.parametrize("maybe_delivered", [False, True])
def test_an_undo_never_brings_back_the_old_code_after_an_approval(client, outbox, clock, service, maybe_delivered):
    start(client)
    old_code = last_code(outbox)
    clock.advance(30)
    service._providers.replace("console", ApprovesThenFails(service, maybe_delivered))
    status, _, _ = start(client)  # the resend
    assert status == 502
    status, body, _ = check(client, old_code)
    assert status == 404 and error_code(body) == "verification_not_found"  # approved, not live again


def test_a_timeout_is_maybe_delivered_so_the_new_code_stays(client, outbox, clock, service):
    start(client)
    old_code = last_code(outbox)
    clock.advance(30)
    console = service._providers.get("console")

    class DeliversThenTimesOut:
        name, supports_voice = "console", True

        def send_sms(self, to, message):
            console.send_sms(to, message)  # the SMS goes out...
            raise ProviderError("console", permanent=False, detail="timeout", maybe_delivered=True)

    service._providers.replace("console", DeliversThenTimesOut())
    assert start(client)[0] == 502
    new_code = last_code(outbox)
    assert new_code != old_code or len(outbox) == 2
    service._providers.replace("console", console)
    assert check(client, new_code)[0] == 200  # ...and the code the user holds works


def test_a_read_timeout_is_maybe_delivered_and_a_connect_timeout_is_not():
    import requests
    import responses

    from chalicelib.channels.providers import ProviderContext
    from chalicelib.channels.providers.http import HttpProvider

    class Probe(HttpProvider):
        name = "twilio"

        def send_sms(self, to, message):
            return self._post("https://api.example.test/send").text

    probe = Probe(ProviderContext("twilio"))
    for error, maybe in ((requests.ReadTimeout(), True), (requests.ConnectTimeout(), False)):
        with responses.RequestsMock() as mocked:
            mocked.add(responses.POST, "https://api.example.test/send", body=error)
            with pytest.raises(ProviderError) as raised:
                probe.send_sms(None, None)
        assert raised.value.maybe_delivered is maybe and not raised.value.permanent
