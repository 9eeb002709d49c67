"""Credentials for Twilio Verify's v2 API (HTTP Basic): API keys (the key's SID and secret)
and the account's auth token (the account SID and the token, as ``Client(sid, token)`` sends).

    python scripts/keys/api_keys.py create --stage dev [--name NAME] [--services VA...,VA...]
    python scripts/keys/api_keys.py list   --stage dev                # one JSON object per key
    python scripts/keys/api_keys.py revoke --stage dev --sid SK...    # refused within 30 s everywhere

    python scripts/keys/api_keys.py auth-token create  --stage dev    # the primary, shown once
    python scripts/keys/api_keys.py auth-token rotate  --stage dev    # a secondary: both work
    python scripts/keys/api_keys.py auth-token promote --stage dev    # the secondary is the primary
    python scripts/keys/api_keys.py auth-token revoke  --stage dev [--secondary]

The stage's table and server secret come from its entry in .chalice/config.json, overridden
by the environment (AWS_ENDPOINT_URL_DYNAMODB respected); its kind (local, test, dev, prod) is
its own OTP_STAGE there, so a stage of any name (`staging`, `eu-prod`) works. No region, no
credentials, no secret parameter or no table: one line saying which, exit 1. The table keeps
only a keyed hash of each key's secret under the identity key, so `create` shows the secret
once and never again.
The auth token is derived from the identity key and its generation (the table keeps which
generations are live): `create` and `rotate` show it once; no command shows it again.
A key with --services acts on those Services only (403 20403 elsewhere); without, on all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.deploy.provision import stage_kind, stage_variables  # noqa: E402


def _context(stage: str) -> tuple[Any, Any, Any]:
    """The stage's Config, its CodeHasher and its key store."""
    import boto3

    from chalicelib.codes import CodeHasher
    from chalicelib.wiring import load_config
    from chalicelib.settings.parameters import load_server_secrets
    from chalicelib.twilio_v2.credentials import ApiKeyStore
    from scripts.deploy.aws_access import require_credentials
    from scripts.deploy.provision import region

    # The stage's kind is its own OTP_STAGE (the one its function runs with), not its name.
    config = load_config({**stage_variables(stage), **os.environ, "OTP_STAGE": stage_kind(stage)})
    if (config.secret is None and config.secret_parameter is None and config.identity_secret is None
            and config.identity_secret_parameter is None):
        raise SystemExit(f"the {stage!r} stage has no server secret: set OTP_SECRET (the server's) first")
    # API keys' MACs are under the identity key (the code key when the stage has none).
    region_name = region()  # one line naming what is missing, before the first call
    require_credentials(boto3.session.Session(region_name=region_name))
    code_key, identity_key = load_server_secrets(config, lambda: boto3.client("ssm", region_name=region_name))
    store = ApiKeyStore(boto3.client("dynamodb", region_name=region_name), config.table_name)
    return config, CodeHasher(code_key, identity_key), store


def create(stage: str, name: str, services: list[str] | None = None) -> dict[str, Any]:
    from chalicelib.twilio_v2.credentials import ApiKey, new_secret
    from chalicelib.twilio_v2.wire import new_sid

    config, hasher, store = _context(stage)
    limited = _services(config, hasher, store, services) if services else None
    sid, secret = new_sid("SK"), new_secret()
    store.create(ApiKey(sid, name, hasher.api_key_mac(sid, secret), int(time.time()), services=limited))
    made: dict[str, Any] = {"account_sid": hasher.derived_sid("AC", "account"), "api_key_sid": sid,
                            "api_key_secret": secret}
    if limited is not None:
        made["services"] = sorted(limited)
    return made


def _services(config: Any, hasher: Any, store: Any, sids: list[str]) -> frozenset[str]:
    """The Services a key is limited to: each well formed and live (the default Service's SID
    is the stage's own), so a typo never makes a key that can do nothing."""
    from chalicelib.twilio_v2.credentials import SERVICE_SID
    from chalicelib.twilio_v2.services import ServiceStore

    wanted = frozenset(sid.strip() for sid in sids if sid.strip())
    malformed = sorted(sid for sid in wanted if not SERVICE_SID.fullmatch(sid))
    if malformed or not wanted:
        raise SystemExit(f"not a Service SID (VA + 32 hex): {', '.join(malformed) or '(none given)'}")
    default = hasher.derived_sid("VA", "default-service")
    live = ServiceStore(store._client, config.table_name).get_many(sorted(wanted - {default}))
    missing = sorted(wanted - {default} - set(live))
    if missing:
        raise SystemExit(f"no such Service on the {config.stage!r} stage: {', '.join(missing)}")
    return wanted


def auth_token(stage: str, action: str, secondary: bool = False) -> dict[str, Any]:
    """The account's auth token: create (the primary), rotate (a secondary), promote (the
    secondary becomes the primary) or revoke (every live token, or --secondary's only)."""
    from chalicelib.twilio_v2.credentials import TokenStateChanged

    _, hasher, store = _context(stage)
    account = hasher.derived_sid("AC", "account")
    try:
        if action in ("create", "rotate"):
            generation = store.create_token() if action == "create" else store.rotate_token()
            return {"account_sid": account, "auth_token": hasher.auth_token(generation),
                    "role": "primary" if action == "create" else "secondary"}
        if action == "promote":
            store.promote_token()
            return {"account_sid": account, "promoted": True}
        return {"account_sid": account, "revoked": store.revoke_token(secondary_only=secondary)}
    except TokenStateChanged as exc:
        raise SystemExit(str(exc)) from None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="API keys and the auth token of the v2 (Twilio Verify) API")
    parser.add_argument("command", choices=["create", "list", "revoke", "auth-token"])
    parser.add_argument("action", nargs="?", choices=["create", "rotate", "promote", "revoke"],
                        help="auth-token only")
    parser.add_argument("--stage", required=True)
    parser.add_argument("--name", default="")
    parser.add_argument("--sid")
    parser.add_argument("--services", help="create: the key acts on these Services only (VA..,VA..)")
    parser.add_argument("--secondary", action="store_true", help="auth-token revoke: the secondary only")
    args = parser.parse_args(argv)
    if (args.command == "auth-token") != (args.action is not None):
        parser.error("auth-token needs an action (create, rotate, promote, revoke); key commands take none")
    if args.command == "revoke" and not args.sid:
        parser.error("revoke needs --sid")
    from chalicelib.dynamodb import StoreUnavailable
    from chalicelib.errors import ConfigError, ServiceUnavailable
    from scripts.deploy.aws_access import one_line

    deploy = f"make deploy STAGE={args.stage} (or make secret STAGE={args.stage} on the CloudFormation path)"
    try:
        with one_line():  # AWS's refusals (expired credentials, access denied): one line each
            return _run(args)
    except ConfigError as exc:  # e.g. a deployed stage with no OTP_SECRET_PARAMETER
        hint = f": create it with {deploy}" if "ParameterNotFound" in str(exc) else ""
        print(f"the {args.stage!r} stage's configuration: {exc}{hint}", file=sys.stderr)
        return 1
    except (ServiceUnavailable, StoreUnavailable):  # SSM or DynamoDB did not answer, or no table
        print(f"could not read the {args.stage!r} stage's secret or table: check the AWS credentials and the "
              f"region, and that the stage is deployed ({deploy})", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.command == "auth-token":
        print(json.dumps(auth_token(args.stage, args.action, secondary=args.secondary)))
        return 0
    if args.command == "create":
        services = args.services.split(",") if args.services is not None else None
        print(json.dumps(create(args.stage, args.name, services)))
        return 0
    _, _, store = _context(args.stage)
    if args.command == "list":
        for key in sorted(store.load().keys.values(), key=lambda k: k.created_at):
            print(json.dumps({"api_key_sid": key.sid, "name": key.name, "created_at": key.created_at,
                              "revoked_at": key.revoked_at,
                              "services": sorted(key.services) if key.services is not None else "all"}))
        return 0
    if not store.revoke(args.sid, int(time.time())):
        print(f"no such key: {args.sid}", file=sys.stderr)
        return 1
    print(json.dumps({"api_key_sid": args.sid, "revoked": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
