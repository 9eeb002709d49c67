"""Channel "auto": the stage's order for the number's country, and a resend after an
undelivered send moving to the next channel (chalicelib/verify/channel_choice.py)."""

from __future__ import annotations

import pytest

from chalicelib import wiring
from chalicelib.config import Config
from chalicelib.errors import ConfigError
from tests.unit.helpers import NUMBER, PhoneNumberType, error_code, example, start

BRAZIL = example("BR", PhoneNumberType.MOBILE)
AUTO = {"OTP_WHATSAPP_PROVIDER": "console", "OTP_CHANNEL_ORDER": '{"BR": "whatsapp,sms", "*": "sms"}'}


def mark(verification_id: str, index: int, status: str, error_code: str | None, permanent: bool) -> None:
    """A delivery receipt's write (what DeliveryTracker does for every provider's receipt)."""
    service = wiring.get_service()
    number_key = service._number_key_of(verification_id)
    assert service._store.record_delivery(number_key, verification_id, index, "console", status,
                                          error_code, permanent) is not None


@pytest.fixture
def auto(configured):
    return configured(**AUTO)


def test_auto_takes_the_first_channel_of_the_countrys_order(auto, outbox):
    status, body, _ = start(auto, to=BRAZIL, channel="auto")
    assert status == 201 and body["channel"] == "whatsapp" and body["provider"] == "console"
    status, body, _ = start(auto, channel="auto")  # a US number: the "*" order
    assert status == 201 and body["channel"] == "sms"
    assert [m["channel"] for m in outbox] == ["sms", "whatsapp"]


def test_a_resend_after_an_undelivered_whatsapp_moves_to_sms(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="auto")[1]
    # Meta's 131026 (not a WhatsApp user) is permanent for WhatsApp, not for the line's SMS.
    mark(first["id"], 0, "undelivered", "131026", True)
    clock.advance(31)
    status, body, _ = start(auto, to=BRAZIL, channel="auto")
    assert status == 200 and body["id"] == first["id"] and body["channel"] == "sms"
    assert [m["channel"] for m in outbox] == ["sms", "whatsapp"]


def test_a_resend_after_a_read_whatsapp_stays_on_whatsapp(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="auto")[1]
    mark(first["id"], 0, "read", None, False)
    clock.advance(31)
    assert start(auto, to=BRAZIL, channel="auto")[1]["channel"] == "whatsapp"


def test_a_resend_after_an_unread_whatsapp_moves_to_sms(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="auto")[1]
    mark(first["id"], 0, "delivered", None, False)  # on the phone, never opened
    clock.advance(31)
    status, body, _ = start(auto, to=BRAZIL, channel="auto")
    assert status == 200 and body["channel"] == "sms"
    assert [m["channel"] for m in outbox] == ["sms", "whatsapp"]


def test_a_resend_without_an_undelivered_sms_report_stays_on_sms(configured, outbox, clock):
    client = configured(**{**AUTO, "OTP_CHANNEL_ORDER": '{"*": "sms,whatsapp"}'})
    first = start(client, channel="auto")[1]
    mark(first["id"], 0, "delivered", None, False)
    clock.advance(31)
    assert start(client, channel="auto")[1]["channel"] == "sms"


def _live(channel: str, status: str, now: float = 1_000.0):
    from chalicelib.verify.models import SendAttempt, Verification

    return Verification(id="VE" + "0" * 48, to=BRAZIL, channel=channel, code_mac="m", created_at=int(now),
                        expires_at=int(now) + 600, sent_at_ms=int(now * 1000), send_count=1, attempts=0,
                        max_attempts=5, sends=(SendAttempt(channel, "console", int(now * 1000), status),))


@pytest.mark.parametrize("status, expected", [
    ("accepted", "sms"), ("sent", "sms"), ("delivered", "sms"), ("undelivered", "sms"), ("failed", "sms"),
    ("read", "whatsapp"),
])
def test_after_a_whatsapp_send_only_read_keeps_whatsapp(status, expected):
    from chalicelib.verify.channel_choice import auto_channel

    assert auto_channel(("whatsapp", "sms"), _live("whatsapp", status), 1_030.0) == expected


@pytest.mark.parametrize("status, expected", [
    ("accepted", "sms"), ("sent", "sms"), ("delivered", "sms"),
    ("undelivered", "whatsapp"), ("failed", "whatsapp"),
])
def test_after_an_sms_send_only_an_undelivered_report_moves_on(status, expected):
    from chalicelib.verify.channel_choice import auto_channel

    assert auto_channel(("sms", "whatsapp"), _live("sms", status), 1_030.0) == expected


def test_at_the_end_of_the_order_an_unread_whatsapp_stays_on_whatsapp():
    from chalicelib.verify.channel_choice import auto_channel

    assert auto_channel(("sms", "whatsapp"), _live("whatsapp", "delivered"), 1_030.0) == "whatsapp"
    assert auto_channel(("whatsapp",), _live("whatsapp", "sent"), 1_030.0) == "whatsapp"


def test_at_the_end_of_the_order_auto_stays_on_the_last_channel(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="auto")[1]
    mark(first["id"], 0, "undelivered", "131026", True)
    clock.advance(31)
    start(auto, to=BRAZIL, channel="auto")
    mark(first["id"], 1, "undelivered", "30003", False)
    clock.advance(31)
    status, body, _ = start(auto, to=BRAZIL, channel="auto")
    assert status == 200 and body["channel"] == "sms" and body["send_count"] == 3


def test_a_new_verification_starts_again_at_the_first_channel(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="auto")[1]
    mark(first["id"], 0, "undelivered", "131026", True)
    clock.advance(601)  # expired: the next start is a new verification
    status, body, _ = start(auto, to=BRAZIL, channel="auto")
    assert status == 201 and body["channel"] == "whatsapp"


def test_whatsapp_asked_again_after_its_permanent_failure_is_422(auto, outbox, clock):
    first = start(auto, to=BRAZIL, channel="whatsapp")[1]
    mark(first["id"], 0, "undelivered", "131026", True)
    clock.advance(31)
    status, body, _ = start(auto, to=BRAZIL, channel="whatsapp")
    assert status == 422 and error_code(body) == "undeliverable_number"
    assert start(auto, to=BRAZIL, channel="sms")[0] == 200  # the line still takes an SMS


def test_a_permanent_sms_failure_still_refuses_a_call(auto, outbox, clock):
    first = start(auto, channel="sms")[1]
    mark(first["id"], 0, "undelivered", "21614", True)
    clock.advance(31)
    assert start(auto, channel="voice")[0] == 422  # the same line: as before


def test_auto_with_the_default_order_is_sms(configured, outbox):
    client = configured()
    assert start(client, to=NUMBER, channel="auto")[1]["channel"] == "sms"


@pytest.mark.parametrize("order", ['{"BR": "whatsapp,sms"}', '{"*": "email"}', '{"br": "sms"}', '{"*": ""}',
                                  '{"*": "sms,sms"}', "[]", "{}", "sms"])
def test_bad_orders_are_refused(order):
    with pytest.raises(ConfigError, match="OTP_CHANNEL_ORDER"):
        Config.from_env({"OTP_TABLE_NAME": "t-test", "OTP_SECRET": "s" * 32, "OTP_STAGE": "test",
                         "OTP_CHANNEL_ORDER": order})  # whatsapp: no OTP_WHATSAPP_PROVIDER here
