"""The stage's SMS provider chains as Twilio Messaging Service SIDs (``MG``), the values a v2
Service's Messaging Configurations take (chalicelib/twilio_v2/messaging.py):

    python -m scripts.deploy.messaging_services --stage dev   # one JSON object per chain

Each line: the SID, the providers in order, and where the stage configures the chain
(``SMS_PROVIDER``, ``SMS_ROUTES[IN]``, or ``provider`` for one of their providers alone). The
SIDs are derived from the chains' provider names, so they need no AWS access, no secret and no
table, and stay the same while the chain does. From .chalice/config.json's variables for the
stage, overridden by the environment (as the function runs with them)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.deploy.stage import stage_kind, stage_variables  # noqa: E402


def listing(environ: dict[str, str]) -> list[dict[str, object]]:
    from chalicelib.config import Config
    from chalicelib.twilio_v2.messaging import messaging_service_sid, messaging_services

    config = Config.from_env(environ)
    where: dict[tuple[str, ...], str] = {}
    for region, chain in sorted(config.sms_routes.items(), key=lambda item: item[0] == "*"):
        where.setdefault(chain, f"SMS_ROUTES[{region}]")
    where.setdefault(config.sms_providers, "SMS_PROVIDER")
    return [{"messaging_service_sid": messaging_service_sid(chain), "providers": list(chain),
             "configured_as": where.get(chain, "provider")}
            for chain in messaging_services(config.sms_providers, config.sms_routes).values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="dev")
    args = parser.parse_args(argv)
    environ = {**stage_variables(args.stage), **os.environ, "OTP_STAGE": stage_kind(args.stage)}
    try:
        rows = listing(environ)
    except Exception as exc:  # ConfigError: the variable it names, one line
        print(f"messaging_services: {exc}", file=sys.stderr)
        return 1
    for row in rows:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
