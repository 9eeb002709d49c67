"""Receiver for the webhook provider: check the Standard Webhooks signature, then send."""
import base64, hashlib, hmac, json, os, time
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = base64.b64decode(os.environ["WEBHOOK_SECRET"].removeprefix("whsec_"))


def verified(headers, body: bytes):
    msg_id, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
        return None  # missing or stale: maybe a replay
    mac = hmac.new(KEY, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    signatures = headers.get("webhook-signature", "").split()
    return json.loads(body) if any(hmac.compare_digest(expected, s) for s in signatures) else None


def send_with_your_gateway(to: str, text: str) -> str:
    raise NotImplementedError("send `text` to `to` with your SMS gateway; return its message id")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        message = verified(self.headers, body)  # {"type", "to", "locale", "text", "code", ...}
        if message is None:
            return self.send_error(401)
        answer = json.dumps({"message_id": send_with_your_gateway(message["to"], message["text"])})
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(answer.encode())


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", 8080), Receiver).serve_forever()
