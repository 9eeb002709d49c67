"""`make run`: an embedded DynamoDB-compatible server (moto's), the table, and the API.

Everything listens on 127.0.0.1; Ctrl-C stops it all. The console provider prints each SMS,
code included, to this terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    }
    db = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(db_port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(db_port)
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "create_table.py"), "phone-verify-local"],
            env=env, check=True,
        )
        print(f"DynamoDB (moto server) on http://127.0.0.1:{db_port}")
        print(f"Open http://127.0.0.1:{api_port}/ ; codes are printed below. Ctrl-C stops.")
        api = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "serve.py"), "--stage", "local",
             "--port", str(api_port)],
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
