"""One cold start, in a fresh interpreter: `python bench/cold.py app|floor|zip DIR`.

All modes first start moto in-process and create the table (not timed: moto's own import
and set-up are the same for all and are not part of a Lambda cold start). Then, timed:
- app:   import app.py and serve a request and a check through the Lambda handler;
- zip DIR: the same as on Lambda, from a deployment zip unpacked into DIR: DIR comes first on
         sys.path, as /var/task does (so boto3 and moto, imported before the timer, take the
         zip's urllib3 and requests), and nothing writes bytecode (/var/task is read-only):
         what the zip ships as source compiles on every run; the standard library and the
         site-packages standing in for the runtime's boto3 keep their cached bytecode, as the
         Lambda runtime's do. bench/run.py runs it on chalice's zip (no bytecode) and on
         `make package`'s (scripts/deploy/package_bytecode.py);
- floor: create a boto3 DynamoDB client and replay the DynamoDB calls the handler made
         (recorded by bench/run.py into the file named by BENCH_CALLS).
Prints {"ms": ...}.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TABLE = "phone-verify-bench"
ENV = {
    "OTP_STAGE": "test", "OTP_TABLE_NAME": TABLE, "OTP_SECRET": "bench-secret-0123456789abcdef0123456789",
    "SMS_PROVIDER": "console", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


def main(mode: str, package: str | None = None) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(ENV)
    if mode == "zip":  # before moto: boto3 and moto load the zip's urllib3 and requests, as on Lambda
        sys.dont_write_bytecode = True  # the unpacked zip stays as shipped, run after run
        sys.path.insert(0, str(package))
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    import boto3

    from scripts.deploy.create_table import ensure_table

    # A session of its own, so that neither mode finds the default session's caches warm.
    ensure_table(boto3.session.Session().client("dynamodb"), TABLE)
    sys.stderr = open(os.devnull, "w")  # the console provider prints the SMS

    started = time.perf_counter()
    if mode in ("app", "zip"):
        import app
        from bench.events import Context, api_event

        start = app.app(api_event("POST", "/v1/verifications", {"to": "+14155552671"}), Context())
        assert start["statusCode"] == 201, start
        from chalicelib.channels.providers.console import OUTBOX

        code = OUTBOX[0]["body"].split(" is ")[1][:6]
        check = app.app(api_event("POST", "/v1/verifications/check",
                                  {"to": "+14155552671", "code": code}), Context())
        assert check["statusCode"] == 200, check
    else:
        from bench.floor import fresh_number_pk, load, replay

        calls = load(Path(os.environ["BENCH_CALLS"]))
        client = boto3.client("dynamodb")
        number_pk = fresh_number_pk()
        replay(client, calls["request"], TABLE, number_pk)
        replay(client, calls["check"], TABLE, number_pk)
    elapsed = (time.perf_counter() - started) * 1000
    mock.stop()
    print(json.dumps({"ms": elapsed}))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:3])
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.__stderr__)
        raise SystemExit(1) from None
