"""`make bench`'s cost line per channel (bench/channels.py): the arithmetic reads the price
table, and no price is in the table without a source URL, a date and what it covers."""

from __future__ import annotations

import dataclasses

import pytest

from bench import channels
from bench.channels import CHANNEL_LINES, PRICES, Price, check_prices, cost_per_channel

SERVICE = {"total_usd": 0.0283}  # section 6's measured cost per 1,000, as in docs/benchmarks.md


def test_every_price_has_a_source_a_date_and_what_it_covers():
    check_prices(PRICES)
    for key, price in PRICES.items():
        assert price.url.startswith("https://"), key
        assert price.covers and price.unit, key
    # every line names prices that exist
    assert {key for line in CHANNEL_LINES.values() for key in line.ours + line.twilio} <= set(PRICES)


@pytest.mark.parametrize("change", [{"url": ""}, {"url": "aws.amazon.com/ses/pricing"}, {"date": ""},
                                    {"date": "2026-13-01"}, {"date": "Nov 2026"}, {"covers": ""},
                                    {"unverified": "not checked"}])
def test_a_price_without_a_source_or_a_date_is_refused(change):
    prices = dict(PRICES, ses_a_la_carte=dataclasses.replace(PRICES["ses_a_la_carte"], **change))
    with pytest.raises(ValueError, match="ses_a_la_carte"):
        check_prices(prices)
    with pytest.raises(ValueError):  # the bench prints no line from such a table
        cost_per_channel(SERVICE, prices)


def test_each_line_is_the_service_plus_its_prices_per_send():
    lines = cost_per_channel(SERVICE)["channels"]
    # WhatsApp to +1 through End User Messaging Social: Meta's fee plus AWS's, per message.
    us = lines["whatsapp (US, EUM Social)"]
    assert us["message_usd"] == pytest.approx(1000 * (0.0034 + 0.005))
    assert us["usd"] == pytest.approx(0.0283 + 8.40)
    # Twilio Verify: $0.05 per verification plus its WhatsApp fee per send.
    assert us["twilio_verify_usd"] == pytest.approx(1000 * (0.05 + 0.0034))
    # India: AWS's lower fee for authentication messages there.
    assert lines["whatsapp (IN, EUM Social)"]["message_usd"] == pytest.approx(1000 * (0.0014 + 0.002))
    assert lines["email (SES a la carte)"]["usd"] == pytest.approx(0.0283 + 0.10)
    assert lines["email (SES Essentials)"]["usd"] == pytest.approx(0.0283 + 0.16)
    assert lines["whatsapp (BR, EUM Social)"]["twilio_verify_usd"] is None  # no stored source


def test_the_arithmetic_reads_the_table_and_the_sends():
    cheaper = dataclasses.replace(PRICES["meta_authentication_US"], usd=0.01)
    prices = dict(PRICES, meta_authentication_US=cheaper)
    us = cost_per_channel(SERVICE, prices)["channels"]["whatsapp (US, EUM Social)"]
    assert us["usd"] == pytest.approx(0.0283 + 1000 * (0.01 + 0.005))
    twice = cost_per_channel(SERVICE, sends=2)["channels"]
    assert twice["whatsapp (US, EUM Social)"]["message_usd"] == pytest.approx(2 * 1000 * (0.0034 + 0.005))
    # Twilio's fee is per verification, its channel fee per send.
    assert twice["sms (US, EUM SMS 10DLC)"]["twilio_verify_usd"] == pytest.approx(1000 * (0.05 + 2 * 0.0083))


def test_unverified_prices_are_flagged_on_their_lines():
    result = cost_per_channel(SERVICE)
    lines = result["channels"]
    assert any(flag.startswith("unverified: ") for flag in lines["sms (US, EUM SMS 10DLC)"]["unverified"])
    assert lines["whatsapp (US, EUM Social)"]["unverified"] == []
    # Twilio's email channel fee is in no stored source: the comparison says so, our price stands
    assert lines["email (SES a la carte)"]["unverified"] == []
    assert lines["email (SES a la carte)"]["twilio_note"] == channels.TWILIO_EMAIL_UNVERIFIED
    # results.json carries every price with its source
    assert result["prices"]["meta_authentication_BR"]["url"] == channels.META_RATE_CARD
    assert result["channels_usd"] == {name: line["usd"] for name, line in lines.items()}


def test_the_service_line_uses_the_same_twilio_fee():
    from bench import run

    assert run.PRICES["twilio_verify_per_verification_usd"] == PRICES["twilio_verify"].usd
    assert isinstance(PRICES["twilio_verify"], Price)
