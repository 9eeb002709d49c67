"""What every section of `make bench` shares: the servers (dynalite for DynamoDB, a moto server
for KMS, both on 127.0.0.1 in processes of their own, so the app's calls cross HTTP as
they do on Lambda), the app built for a given environment, and calls through its Lambda handler.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.events import Context, api_event  # noqa: E402

BENCH_ENV = {
    "OTP_STAGE": "test",
    "OTP_SECRET": "bench-secret-0123456789abcdef0123456789",
    "SMS_PROVIDER": "console",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    # Measure the full path, every limit on, with limits high enough not to refuse.
    "OTP_MAX_REQUESTS_PER_IP_PER_HOUR": "1000000",
    "OTP_MAX_CHECKS_PER_IP_PER_HOUR": "1000000",
    "OTP_MAX_SENDS_PER_HOUR": "999999",
    "OTP_BREAKER_MIN_CONVERSION_PERCENT": "0",
}
# Variables a section sets for its variant of the app; every other build runs without them.
OPTIONAL_ENV = ("OTP_RECEIPT_KEY_IDS", "OTP_RECEIPT_SIGNING", "OTP_TOTP_KEY_ID", "OTP_EVENTS_URL", "OTP_EVENTS_SECRET",
                "OTP_TWILIO_WEBHOOKS", "OTP_WHATSAPP_PROVIDER", "META_PHONE_NUMBER_ID", "META_ACCESS_TOKEN",
                "META_BASE_URL", "WEBHOOK_URL", "WEBHOOK_SECRET", "OTP_HOOK_SUPABASE_SECRET")
# The composition root's functions activate() swaps (chalicelib/wiring.py; reset() clears its caches).
_SWAPPED = ("get_config", "get_service", "get_receipts")
_ORIGINALS: dict[str, Any] = {}


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 3)


def send_against_floor(timings: dict[str, list[float]], recorded: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """A send's row against its floor (the same DynamoDB calls replayed, then the bare provider
    POST): ``timings`` holds ``app``, ``floor`` and ``post``; goal 1.3 (bench/channels.py's
    WhatsApp start, bench/hooks.py's Supabase hook)."""
    return {
        "app_ms": median_ms(timings["app"]),
        "floor_ms": median_ms(timings["floor"]),
        "raw_post_ms": median_ms(timings["post"]),
        "ratio": round(statistics.median(timings["app"]) / statistics.median(timings["floor"]), 3),
        "goal_ratio": 1.3,
        "dynamodb_calls": [c["operation"] for wave in recorded for c in wave],
    }


class _Server:
    def __init__(self, argv: list[str]) -> None:
        from scripts.local.run_local import free_port, wait_for_port

        self.port = free_port()
        self.proc = subprocess.Popen([*argv, str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Dynalite(_Server):
    def __init__(self) -> None:
        binary = ROOT / ".deps" / "node_modules" / ".bin" / "dynalite"
        if not binary.exists():
            raise SystemExit("dynalite is missing: run `make test` or `make bench` (they install it)")
        super().__init__([str(binary), "--port"])

    def client(self) -> Any:
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.endpoint)

    def table(self, name: str) -> str:
        from scripts.deploy.create_table import ensure_table

        ensure_table(self.client(), name)
        return name


class MotoServer(_Server):
    """KMS: moto's server (requirements-dev.txt: moto[server,kms]). Its KMS signs
    with real ECDSA P-256 keys (the `cryptography` package), as AWS KMS does."""

    def __init__(self) -> None:
        super().__init__([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p"])

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint)


def build_app(endpoint: str, table: str, **env: str) -> Any:
    """The app module, its per-container objects rebuilt for ``table`` and ``env``."""
    import app
    from chalicelib import wiring

    for name, original in _ORIGINALS.items():  # undo activate()
        setattr(wiring, name, original)
    for name in OPTIONAL_ENV:
        os.environ.pop(name, None)
    os.environ.update(BENCH_ENV, OTP_TABLE_NAME=table, AWS_ENDPOINT_URL_DYNAMODB=endpoint, **env)
    wiring.reset()  # the config too: it names the table
    wiring.get_service()
    return app


@dataclass(frozen=True)
class Variant:
    """One build of the app's per-container objects, to switch between in one process."""

    config: Any
    service: Any
    receipts: Any


def snapshot(app: Any) -> Variant:
    """The objects ``app``'s routes use now (built by chalicelib/wiring.py)."""
    from chalicelib import wiring

    return Variant(wiring.get_config(), wiring.get_service(), wiring.get_receipts())


def activate(app: Any, variant: Variant) -> None:
    """The handler's routes find ``variant``'s objects (they call these wiring functions)."""
    from chalicelib import wiring

    for name in _SWAPPED:
        _ORIGINALS.setdefault(name, getattr(wiring, name))
    wiring.get_config = lambda: variant.config
    wiring.get_service = lambda: variant.service
    wiring.get_receipts = lambda: variant.receipts


def numbers(start: int, count: int) -> list[str]:
    """Valid US numbers, each in its own prefix (so the prefix limit never binds)."""
    areas = ("415", "650", "212", "312", "617", "206")
    return [f"+1{areas[i // 8000 % len(areas)]}{200 + i % 800:03d}{i // 800 % 10}000"
            for i in range(start, start + count)]


def latest_code() -> str:
    from chalicelib.channels.providers.console import OUTBOX

    return OUTBOX[0]["body"].split(" is ")[1][:6]


def call(app: Any, method: str, path: str, body: dict) -> dict:
    return app.app(api_event(method, path, body), Context())


class FakeProvider:
    """A provider's API on 127.0.0.1: every POST answers 200 with ``body`` on a keep-alive
    connection; ``url`` is its address with ``path``."""

    def __init__(self, body: bytes, path: str = "") -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
