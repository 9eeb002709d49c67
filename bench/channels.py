"""`make bench`, the channels (docs/channels.md): a WhatsApp start against its floor, and what
a verification costs on each channel.

WhatsApp start: through the Lambda handler with the Meta provider, against a local fake of
Meta's Cloud API (127.0.0.1, answering the documented success body), versus its floor: the
same DynamoDB calls replayed by hand (bench/floor.py) followed by the same raw POST with
requests. Both cross HTTP on one machine, interleaved round by round.

Prices: written down on the date below, not fetched (they change; Meta's quarterly).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench import floor
from bench.harness import Dynalite, build_app, call, median_ms, numbers
from chalicelib import wiring

WARMUP = 10
PHONE_NUMBER_ID = "106540352242922"
# Meta, Cloud API "Send messages": the documented success answer.
META_SUCCESS = json.dumps({
    "messaging_product": "whatsapp", "contacts": [{"input": "+14155552671", "wa_id": "14155552671"}],
    "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3N0EyQUJDMjFEQzZCQUMzODMA",
                  "message_status": "accepted"}],
}).encode()

# Per message, USD, written down on 2026-11-30 (not fetched: check before relying on them).
CHANNEL_PRICES = {
    "date": "2026-11-30",
    # Meta's per-message authentication rates (developers.facebook.com/docs/whatsapp/pricing,
    # "Rate cards"; per delivered template since July 2025): United States, Brazil, India.
    "whatsapp_meta_authentication_usd": {"US": 0.0135, "BR": 0.0315, "IN": 0.0014},
    # AWS End User Messaging Social's own fee per message, on top of Meta's
    # (aws.amazon.com/end-user-messaging/pricing).
    "whatsapp_aws_social_fee_usd": 0.005,
    # Amazon SES outbound email: $0.10 per 1,000 (aws.amazon.com/ses/pricing).
    "email_ses_usd": 0.10 / 1000,
    # AWS End User Messaging SMS to the US: base price plus the carriers' fee (10DLC; the
    # carrier fee differs by carrier: uncertain to a tenth of a cent), from
    # aws.amazon.com/end-user-messaging/pricing.
    "sms_us_usd": 0.00581 + 0.00302,
}


class FakeCloudApi:
    """POST /{version}/{phone-number-id}/messages answers Meta's success body (keep-alive)."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(META_SUCCESS)))
                self.end_headers()
                self.wfile.write(META_SUCCESS)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def whatsapp_start(db: Dynalite, runs: int) -> dict[str, Any]:
    import requests

    from chalicelib.channel_messages import cloud_api_message
    from chalicelib.messages import MessageComposer

    fake = FakeCloudApi()
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
    return {
        "app_ms": median_ms(timings["app"]),
        "floor_ms": median_ms(timings["floor"]),
        "raw_post_ms": median_ms(timings["post"]),
        "ratio": round(statistics.median(timings["app"]) / statistics.median(timings["floor"]), 3),
        "goal_ratio": 1.3,
        "dynamodb_calls": [c["operation"] for wave in recorded for c in wave],
    }


def cost_per_channel(cost: dict[str, Any]) -> dict[str, Any]:
    """Per 1,000 verifications (one send each): the service's own cost (section 6, the same
    for every channel: the send is one provider call) plus each channel's message price."""
    p = CHANNEL_PRICES
    own = cost["total_usd"]
    social = p["whatsapp_aws_social_fee_usd"]
    lines = {"sms (US)": 1000 * p["sms_us_usd"], "email (SES)": 1000 * p["email_ses_usd"]}
    for country, rate in p["whatsapp_meta_authentication_usd"].items():
        lines[f"whatsapp ({country}, EUM Social)"] = 1000 * (rate + social)
    return {"service_usd": own, "channels_usd": {k: round(own + v, 4) for k, v in lines.items()},
            "prices": p}
