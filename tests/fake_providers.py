"""A local stand-in for every HTTP provider at once, on 127.0.0.1, for tests that run the app
over real HTTP with each adapter's <PREFIX>_BASE_URL pointed here.

The first path segment names the provider (``/twilio/2010-04-01/...``); each provider answers
what a test scripted for it (the documented bodies live in the tests, with their sources), and
every request is recorded. ``/webhook`` checks the Standard Webhooks signature with the
reference library and answers 401 when it does not verify.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    provider: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeProviders:
    webhook_secret: str
    scripts: dict[str, tuple[int, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, provider: str, status: int, body: Any) -> None:
        """The next requests to ``provider`` get ``status`` and ``body`` (str: sent as is)."""
        self.scripts[provider] = (status, body)

    def calls_to(self, provider: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.provider == provider]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
        self.scripts.clear()

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                provider = self.path.strip("/").split("/")[0]
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    fake.calls.append(Call(provider, self.path, headers, body))
                status, answer = fake.scripts.get(provider, (500, {"error": "not scripted"}))
                if provider == "webhook" and not fake._signed(headers, body):
                    status, answer = 401, {"error": "bad signature"}
                raw = answer if isinstance(answer, str) else json.dumps(answer)
                self.send_response(status)
                self.send_header("content-type", "text/plain" if isinstance(answer, str) else "application/json")
                self.send_header("content-length", str(len(raw.encode())))
                self.end_headers()
                self.wfile.write(raw.encode())

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_port}"

    def _signed(self, headers: dict[str, str], body: bytes) -> bool:
        from standardwebhooks import Webhook

        try:
            Webhook(self.webhook_secret).verify(body, headers)
            return True
        except Exception:  # noqa: BLE001 - any failure is a refusal
            return False
