"""`make bench`, the channels (docs/channels.md): a WhatsApp start against its floor, and what
a verification costs on each channel.

WhatsApp start: through the Lambda handler with the Meta provider, against a local fake of
Meta's Cloud API (127.0.0.1, answering the documented success body), versus its floor: the
same DynamoDB calls replayed by hand (bench/floor.py) followed by the same raw POST with
requests. Both cross HTTP on one machine, interleaved round by round.

Prices: each with its source, its date and what it covers (PRICES below); not fetched.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench import floor
from bench.harness import Dynalite, FakeProvider, build_app, call, numbers, send_against_floor
from chalicelib import wiring

WARMUP = 10
PHONE_NUMBER_ID = "106540352242922"
# Meta, Cloud API "Send messages": the documented success answer.
META_SUCCESS = json.dumps({
    "messaging_product": "whatsapp", "contacts": [{"input": "+14155552671", "wa_id": "14155552671"}],
    "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMzODMA",
                  "message_status": "accepted"}],
}).encode()

# -- prices -------------------------------------------------------------------------------
# Every figure with where it comes from. `date` is the date the figure was read (or the rate
# card's effective date, when the source gives one; for an unverified one, when it was
# written down); `via` names the stored copy it was read in when that is not the page itself
# (no live page is fetched here: these are third parties' transcriptions of the page, two of
# which agree where noted); `unverified` says what was searched when no stored source shows
# the figure (kept, so the line exists, but flagged).
# tests/unit/test_channel_prices.py fails on an entry without a URL and a date.


@dataclass(frozen=True)
class Price:
    usd: float  # per unit below
    unit: str  # what is charged: per message sent, per message delivered, per verification
    url: str
    date: str  # YYYY-MM-DD
    covers: str  # what the figure includes, and what it leaves out
    via: str = ""
    unverified: str = ""


META_RATE_CARD = "https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing"
_META_VIA = ("Meta's USD rate card effective 2026-01-01 as transcribed in the stored source of "
             "Intelli's WhatsApp pricing page; North America 0.0034 also in a stored research note "
             "of the 2026-10-01 card (checked 2026-10-03)")
EUM_PRICING = "https://aws.amazon.com/end-user-messaging/pricing/"
_EUM_VIA = ("a stored cost comparison (LIWA vs Twilio vs AWS, researched 2026-08-05) quoting the "
            "pricing page and its AWS_WhatsApp_Meta_Fee_7_2026 CSV")
TWILIO_VERIFY = "https://www.twilio.com/en-us/verify/pricing"
_TWILIO_VIA = "a stored research note quoting the pricing page (checked 2026-10-03)"

PRICES: dict[str, Price] = {
    # WhatsApp: Meta's fee, per delivered authentication template (the only category a code may
    # use), by the recipient's calling code. Lower volume tiers exist; not applied here.
    "meta_authentication_US": Price(
        0.0034, "per delivered authentication template", META_RATE_CARD, "2026-01-01",
        "market North America (+1), lowered on 2026-01-01; the 0.0135 written here before was "
        "the rate per conversation, before Meta charged per message (2025-07-01)", via=_META_VIA),
    "meta_authentication_BR": Price(
        0.0068, "per delivered authentication template", META_RATE_CARD, "2026-01-01",
        "market Brazil (+55); the same figure is on the July 2026 BRL/USD card in four stored "
        "Brazilian price tables", via=_META_VIA),
    "meta_authentication_IN": Price(
        0.0014, "per delivered authentication template", META_RATE_CARD, "2026-01-01",
        "market India (+91), a business based in India; a business based elsewhere that sends "
        "over 750K such messages to +91 in 30 days pays authentication-international, 0.0280",
        via=_META_VIA),
    # End User Messaging Social adds its own fee to Meta's (which it passes through from its
    # own CSV, converted from Meta's INR card at the 2026-07-01 rate: within hundredths of a
    # cent of Meta's USD card).
    "eum_social_message_fee": Price(
        0.005, "per outbound WhatsApp message", EUM_PRICING, "2026-08-05",
        "AWS's MessageFee, on top of Meta's MetaTemplateMessageFee; inbound messages $0.001",
        via=_EUM_VIA),
    "eum_social_message_fee_IN": Price(
        0.002, "per outbound WhatsApp message", EUM_PRICING, "2026-08-05",
        "AWS's MessageFee for utility and authentication messages to India", via=_EUM_VIA),
    # Email: Amazon SES v2 SendEmail, one recipient, no attachment.
    "ses_a_la_carte": Price(
        0.0001, "per outbound recipient", "https://aws.amazon.com/ses/pricing/", "2026-07-22",
        "$0.10 per 1,000; attachments $0.12/GB (a code email has none); the default for accounts "
        "that sent through SES since 2025-06-01",
        via="the AWS Price List API for AmazonSES us-east-1 (publication 2026-07-22) as read in "
            "api-evangelist/amazon-ses plans/amazon-ses-plans-pricing.yml"),
    "ses_essentials": Price(
        0.00016, "per outbound email (first 10M a month)", "https://aws.amazon.com/ses/pricing/",
        "2026-07-22", "the Essentials plan, default for new SES accounts since 2026-07-21 (no "
        "monthly fee)",
        via="the same Price List API read in api-evangelist/amazon-ses plans/amazon-ses-plans-pricing.yml"),
    # SMS: End User Messaging SMS to the US from a registered 10DLC number, one segment.
    "eum_sms_us_10dlc": Price(
        0.00581 + 0.00302, "per message part sent", EUM_PRICING, "2026-11-30",
        "AWS's 10DLC base price plus the carriers' fee (which differs by carrier); the price CSV "
        "linked from the page lists the US as '10DLC' and '10DLC carrier fee' rows",
        unverified="unverified: searched the pages, docs and code corpora for the US rows of "
                   "End-User-Messaging-SMS-Prices.csv and for AWS's US 10DLC price; only other "
                   "countries' rows (CO $0.05087, LB $0.34985) are in a stored source"),
    # Twilio Verify, for the comparison: its fee per successful verification plus the channel's.
    "twilio_verify": Price(
        0.05, "per successful verification", TWILIO_VERIFY, "2026-10-03",
        "charged only for an approved verification; each send's channel fee is added, and SMS and "
        "voice attempts are always charged", via=_TWILIO_VIA),
    "twilio_verify_sms_us": Price(
        0.0083, "per SMS sent", TWILIO_VERIFY, "2026-10-03",
        "US rate; carrier fees extra", via=_TWILIO_VIA),
    "twilio_verify_whatsapp_us": Price(
        0.0034, "per authentication template", TWILIO_VERIFY, "2026-10-03",
        "US; the page's summary card says 0.0034, its FAQ 0.0147: the lower is used, so the "
        "comparison does not flatter this service", via=_TWILIO_VIA),
}
# The channel's email fee on Twilio Verify (email goes through SendGrid) is in no stored source:
# its line compares with Twilio's fee per verification alone.
TWILIO_EMAIL_UNVERIFIED = ("unverified: searched the pages and docs corpora for Twilio Verify's "
                           "email channel fee; not found")
SENDS_PER_VERIFICATION = 1  # the bench measures no resend ratio: one send, delivered, each


@dataclass(frozen=True)
class Line:
    """A channel's cost line: the prices added per send, and Twilio Verify's for the channel
    (its fee per verification, then its channel fees per send; empty: no stored source)."""
    ours: tuple[str, ...]
    twilio: tuple[str, ...] = ()
    note: str = ""  # what the comparison leaves out


CHANNEL_LINES: dict[str, Line] = {
    "sms (US, EUM SMS 10DLC)": Line(("eum_sms_us_10dlc",), ("twilio_verify", "twilio_verify_sms_us")),
    "email (SES a la carte)": Line(("ses_a_la_carte",), ("twilio_verify",), TWILIO_EMAIL_UNVERIFIED),
    "email (SES Essentials)": Line(("ses_essentials",), ("twilio_verify",), TWILIO_EMAIL_UNVERIFIED),
    "whatsapp (US, EUM Social)": Line(("meta_authentication_US", "eum_social_message_fee"),
                                      ("twilio_verify", "twilio_verify_whatsapp_us")),
    "whatsapp (BR, EUM Social)": Line(("meta_authentication_BR", "eum_social_message_fee")),
    "whatsapp (IN, EUM Social)": Line(("meta_authentication_IN", "eum_social_message_fee_IN")),
}


def whatsapp_start(db: Dynalite, runs: int) -> dict[str, Any]:
    import requests

    from chalicelib.channels.channel_messages import cloud_api_message
    from chalicelib.channels.messages import MessageComposer

    fake = FakeProvider(META_SUCCESS)  # POST /{version}/{phone-number-id}/messages: Meta's success body
    table = db.table("bench-whatsapp")
    try:
        app = build_app(db.endpoint, table, OTP_WHATSAPP_PROVIDER="meta",
                        META_PHONE_NUMBER_ID=PHONE_NUMBER_ID, META_ACCESS_TOKEN="bench-token",
                        META_BASE_URL=fake.url)
        calls = floor.capture(wiring.get_service()._store._client)
        phones = numbers(50_000, runs + WARMUP + 1)
        first = call(app, "POST", "/v1/verifications", {"to": phones[0], "channel": "whatsapp"})
        assert first["statusCode"] == 201, first
        recorded = floor.waves(calls.take())
        client, session = db.client(), requests.Session()
        url = f"{fake.url}/v21.0/{PHONE_NUMBER_ID}/messages"
        template = MessageComposer("Verify", 600).whatsapp("123456", "en")
        message = cloud_api_message(phones[0], template, "r" * 66)  # as the app's: with a reference
        headers = {"Authorization": "Bearer bench-token"}
        timings: dict[str, list[float]] = {"app": [], "floor": [], "post": []}
        for i, phone in enumerate(phones[1:]):
            t0 = time.perf_counter()
            answer = call(app, "POST", "/v1/verifications", {"to": phone, "channel": "whatsapp"})
            t1 = time.perf_counter()
            assert answer["statusCode"] == 201, answer
            calls.take()
            floor.replay(client, recorded, table, floor.fresh_number_pk())
            t2 = time.perf_counter()
            session.post(url, json=message, headers=headers, timeout=5).raise_for_status()
            t3 = time.perf_counter()
            if i >= WARMUP:
                timings["app"].append(t1 - t0)
                timings["floor"].append(t3 - t1)
                timings["post"].append(t3 - t2)
    finally:
        fake.stop()
    return send_against_floor(timings, recorded)


def check_prices(prices: dict[str, Price]) -> None:
    """No figure without a named source: each price has an https URL, a YYYY-MM-DD date and
    what it covers, and an unverified one says so in those words."""
    bad = []
    for key, price in prices.items():
        try:
            datetime.date.fromisoformat(price.date)
            dated = re.fullmatch(r"\d{4}-\d{2}-\d{2}", price.date) is not None
        except ValueError:
            dated = False
        sourced = re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}/\S*", price.url) is not None
        flagged = not price.unverified or price.unverified.startswith("unverified: ")
        if not (sourced and dated and flagged and price.unit and price.covers and price.usd > 0):
            bad.append(key)
    if bad:
        raise ValueError(f"prices without a source, a date or what they cover: {', '.join(sorted(bad))}")


def cost_per_channel(cost: dict[str, Any], prices: dict[str, Price] | None = None,
                     sends: float = SENDS_PER_VERIFICATION) -> dict[str, Any]:
    """Per 1,000 verifications: the service's own cost (section 6, measured in the same run and
    the same for every channel: the send is one provider call) plus the channel's price per
    message times the sends per verification; next to Twilio Verify's fee for the same channel
    where a stored source gives it (None where not)."""
    p = PRICES if prices is None else prices
    check_prices(p)
    own = cost["total_usd"]
    lines: dict[str, dict[str, Any]] = {}
    for name, line in CHANNEL_LINES.items():
        message = 1000 * sends * sum(p[key].usd for key in line.ours)
        twilio = None
        if line.twilio:
            base, *per_send = line.twilio
            twilio = round(1000 * (p[base].usd + sends * sum(p[key].usd for key in per_send)), 4)
        unverified = [p[key].unverified for key in line.ours + line.twilio if p[key].unverified]
        lines[name] = {"usd": round(own + message, 4), "message_usd": round(message, 4),
                       "twilio_verify_usd": twilio, "twilio_note": line.note,
                       "prices": list(line.ours + line.twilio), "unverified": unverified}
    return {"service_usd": own, "sends_per_verification": sends,
            "assumes": "one send per verification, delivered; Meta's lowest volume tier",
            "channels_usd": {name: line["usd"] for name, line in lines.items()},
            "channels": lines, "prices": {key: asdict(price) for key, price in p.items()}}
