"""`make run`: an embedded DynamoDB-compatible server (moto's), the table, and the API.

Everything listens on 127.0.0.1; Ctrl-C stops it all. The console provider prints each SMS,
code included, to this terminal; the table's stream is polled for events (POSTed to
OTP_EVENTS_URL when set, else shown in the page's inbox panel: scripts/local/events.py).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def _local_keys(env: dict[str, str]) -> dict[str, str]:
    """The stage's KMS keys in moto's server, as `make deploy` makes them in AWS."""
    import boto3

    sys.path.insert(0, str(ROOT))
    from scripts.keys.kms import ensure_receipt_key, ensure_totp_key

    kms = boto3.client("kms", endpoint_url=env["AWS_ENDPOINT_URL_KMS"], region_name=env["AWS_DEFAULT_REGION"],
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    return {"OTP_RECEIPT_KEY_IDS": ensure_receipt_key(kms, "local"),
            "OTP_TOTP_KEY_ID": ensure_totp_key(kms, "local")}


def _terminate_as_interrupt(signum, frame):  # `kill`/CI stop: clean up like Ctrl-C
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    api_port = int(os.environ.get("PORT", "8000"))
    db_port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://127.0.0.1:{db_port}",
        "AWS_ENDPOINT_URL_KMS": f"http://127.0.0.1:{db_port}",  # the same moto server
        "OTP_PUBLIC_URL": os.environ.get("OTP_PUBLIC_URL", f"http://127.0.0.1:{api_port}"),
        # One secret for this run, shared by the server and the API key below (scripts/keys/api_keys.py
        # keeps a keyed hash under it); the table is new each run too.
        "OTP_SECRET": os.environ.get("OTP_SECRET") or secrets.token_urlsafe(32),
    }
    db = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(db_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(db_port)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "deploy" / "create_table.py"), "phone-verify-local"],
            env=env, check=True,
        )
        env.update(_local_keys(env))
        api_keys = str(ROOT / "scripts" / "keys" / "api_keys.py")
        key = subprocess.run([sys.executable, api_keys, "create", "--stage",
                              "local", "--name", "make run"], env=env, check=True, capture_output=True,
                             text=True).stdout
        token = subprocess.run([sys.executable, api_keys, "auth-token", "create",
                                "--stage", "local"], env=env, check=True, capture_output=True,
                               text=True).stdout
        print(f"DynamoDB (moto server) on http://127.0.0.1:{db_port}")
        print(f"Twilio Verify (v2) API on http://127.0.0.1:{api_port}, key for this run: {key.strip()}")
        print(f"Or Client(account_sid, auth_token), auth token for this run: {token.strip()}")
        print(f"Open http://127.0.0.1:{api_port}/ ; codes are printed below. Ctrl-C stops.")
        api = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "local" / "serve.py"), "--stage", "local",
             "--port", str(api_port), "--events"],
            env=env,
        )
        try:
            return api.wait()
        except KeyboardInterrupt:
            api.terminate()  # SIGINT may be ignored (a job started in the background by a script)
            api.wait(timeout=5)
            return 0
    finally:
        db.terminate()
        db.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
