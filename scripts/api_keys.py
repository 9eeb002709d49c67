"""API keys for Twilio Verify's v2 API (HTTP Basic: the key's SID and secret).

    python scripts/api_keys.py create --stage dev [--name NAME]  # one JSON object on stdout
    python scripts/api_keys.py list   --stage dev                # one JSON object per key
    python scripts/api_keys.py revoke --stage dev --sid SK...    # refused within 30 s everywhere

The stage's table and server secret come from its entry in .chalice/config.json, overridden
by the environment (AWS_ENDPOINT_URL_DYNAMODB respected): the table keeps only a keyed hash of
each secret under the server secret, so `create` shows the secret once and never again.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.provision import stage_variables  # noqa: E402


def _context(stage: str) -> tuple[Any, Any, Any]:
    """The stage's Config, its CodeHasher and its key store."""
    import boto3

    from chalicelib.codes import CodeHasher
    from chalicelib.config import Config
    from chalicelib.parameters import load_server_secrets
    from chalicelib.twilio_v2.credentials import ApiKeyStore

    config = Config.from_env({**stage_variables(stage), **os.environ, "OTP_STAGE": stage})
    if (config.secret is None and config.secret_parameter is None and config.identity_secret is None
            and config.identity_secret_parameter is None):
        raise SystemExit(f"the {stage!r} stage has no server secret: set OTP_SECRET (the server's) first")
    # API keys' MACs are under the identity key (the code key when the stage has none).
    code_key, identity_key = load_server_secrets(config, lambda: boto3.client("ssm"))
    store = ApiKeyStore(boto3.client("dynamodb"), config.table_name)
    return config, CodeHasher(code_key, identity_key), store


def create(stage: str, name: str) -> dict[str, str]:
    from chalicelib.twilio_v2.credentials import ApiKey, new_secret
    from chalicelib.twilio_v2.wire import new_sid

    _, hasher, store = _context(stage)
    sid, secret = new_sid("SK"), new_secret()
    store.create(ApiKey(sid, name, hasher.api_key_mac(sid, secret), int(time.time())))
    return {"account_sid": hasher.derived_sid("AC", "account"), "api_key_sid": sid, "api_key_secret": secret}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="API keys for the v2 (Twilio Verify) API")
    parser.add_argument("command", choices=["create", "list", "revoke"])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--sid")
    args = parser.parse_args(argv)
    if args.command == "create":
        print(json.dumps(create(args.stage, args.name)))
        return 0
    _, _, store = _context(args.stage)
    if args.command == "list":
        for key in sorted(store.load().values(), key=lambda k: k.created_at):
            print(json.dumps({"api_key_sid": key.sid, "name": key.name, "created_at": key.created_at,
                              "revoked_at": key.revoked_at}))
        return 0
    if not args.sid:
        parser.error("revoke needs --sid")
    if not store.revoke(args.sid, int(time.time())):
        print(f"no such key: {args.sid}", file=sys.stderr)
        return 1
    print(json.dumps({"api_key_sid": args.sid, "revoked": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
