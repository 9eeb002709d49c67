"""The benchmark is not a test, but it must keep running: its smoke mode runs every section
with few repetitions and checks the shape of what it reports."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_smoke_runs_every_section(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--output", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(out.read_text())
    sections = {"cold_start", "warm", "v2", "flat", "units", "receipts", "totp", "events", "cost", "throttled"}
    assert sections <= set(results)
    lookup = results["v2"]["service_lookup"]
    assert results["v2"]["start"]["ratio"] > 0 and lookup["miss_ms"] > lookup["hit_ms"] > 0
    limited = results["v2"]["rate_limits"]  # a start naming two Rate Limits against one naming none
    assert limited["ratio"] > 0 and limited["goal_ratio"] == 1.1
    throttled = results["throttled"]  # every start answered 201 (run.py asserts it), faults or not
    assert throttled["starts"] > 0 and throttled["writes"] >= 5 * throttled["starts"]
    assert throttled["p99_ms"] >= throttled["p50_ms"] > 0
    # Five writes of the send (the number, the IP, the prefix, the country, the budget) and, with
    # the v2 Attempts on by default, the attempt's item and its day's counter, in the same wave.
    # 8: the send's 5, the SID's lookup (chalicelib/factors/sid_links.py) and the attempt's 2
    assert results["units"]["request"]["writes"] == 8 and results["units"]["request"]["reads"] == 0
    assert results["units"]["check_right"]["reads"] == 0
    for figure in (results["cold_start"], results["warm"]["request"], results["warm"]["check"], results["flat"]):
        assert figure["ratio"] > 0
    # Counted on the app's own clients from their first call: a cold container's extra call,
    # then the same calls on every round.
    receipts, totp, events = results["receipts"], results["totp"], results["events"]
    assert receipts["kms_calls_first_approval"] == ["GetPublicKey", "Sign"]
    assert receipts["kms_calls_per_approval"] == ["Sign"] and receipts["kms_calls_per_approval_share"] == 1.0
    # Minute keys (OTP_RECEIPT_SIGNING=minute_key): a Sign and an Encrypt per minute's key, not per receipt.
    minute = receipts["minute_key"]
    assert {"Sign", "Encrypt"} <= set(minute["kms_calls"]) and minute["kms_calls"]["Sign"] <= 3
    assert minute["kms_calls_per_approval"] < 0.5 and minute["sign_ms"] < receipts["sign_ms"]
    assert totp["calls_per_challenge"] == ["dynamodb:GetItem", "kms:Decrypt", "dynamodb:UpdateItem", "kms:Sign"]
    assert totp["calls_first_challenge"] == ["dynamodb:GetItem", "kms:Decrypt", "dynamodb:UpdateItem",
                                             "kms:GetPublicKey", "kms:Sign"]
    # the per-network count and the identity's item in one wave, then the approval's one write
    approve = results["passkeys"]["approve"]
    assert sorted(approve["calls_per_approval"][:2]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    assert approve["calls_per_approval"][2:] == ["dynamodb:UpdateItem", "kms:Sign"] and approve["ratio"] > 0
    assert set(results["passkeys"]["verify"]) == {"ES256", "EdDSA", "RS256"}
    for op in ("request", "check"):  # events come from the table's stream: no producer on the path
        assert events[op]["other_aws_calls"] == [] and events[op]["ratio"] > 0
    # create, the check's write, the approval marker: three records of the number's item
    assert events["stream_records_per_verification"] == 3 and events["consumer_ms_per_record"] > 0
    # The v2 Services' Webhooks (bench/webhooks.py): per record, make forget's tombstones and,
    # with a webhook to POST to, its delivery marks; the Service and the token from the caches.
    webhooks = results["webhooks"]
    assert webhooks["events_only"]["calls"] == ["BatchGetItem"] and webhooks["webhooks_only"]["ms_per_record"] > 0
    assert webhooks["webhooks_only"]["calls"] == ["BatchGetItem", "GetItem"]
    assert 2 <= webhooks["webhooks_only"]["dynamodb_calls_per_record"] < 2.2
    assert 2 <= webhooks["both"]["dynamodb_calls_per_record"] < 2.2  # one marks' item for both
    for figure in (receipts["ratio"], receipts["sign_ratio"], totp["ratio"]):
        assert figure > 0
    cost = results["cost"]
    assert cost["kms_usd"] == round(1000 * 0.15 / 10_000, 5)  # one Sign per approval
    assert cost["total_usd"] > cost["kms_usd"] + cost["dynamodb_usd"]
    assert 0 < cost["events_usd"] < cost["total_usd"]
    assert "cold start" in run.stdout and "cost per 1,000 verifications" in run.stdout
    assert "TOTP challenge" in run.stdout and "SQS (or any AWS call but DynamoDB) per request" in run.stdout
    # The channels (bench/channels.py): a WhatsApp start makes the request's eight writes (the
    # SID lookup among them, in the same wave: chalicelib/factors/sid_links.py), and
    # every channel has a cost line above the service's own cost.
    whatsapp = results["whatsapp"]
    assert whatsapp["dynamodb_calls"] == ["UpdateItem"] * 8 and whatsapp["ratio"] > 0
    lines = results["channel_cost"]["channels_usd"]
    assert set(lines) == {"sms (US, EUM SMS 10DLC)", "email (SES a la carte)", "email (SES Essentials)",
                          "whatsapp (US, EUM Social)", "whatsapp (BR, EUM Social)",
                          "whatsapp (IN, EUM Social)"}
    assert all(usd > cost["total_usd"] for usd in lines.values())
    assert "WhatsApp start" in run.stdout and "per 1,000 by email (SES a la carte)" in run.stdout
    # An identity platform's hook (bench/hooks.py): Supabase's signed request through the handler
    # against the same DynamoDB calls replayed and the bare provider POST; its writes are all
    # UpdateItem (the webhook-id's guard among them), no read.
    hook = results["hook"]
    assert hook["dynamodb_calls"] and set(hook["dynamodb_calls"]) == {"UpdateItem"}
    assert hook["ratio"] > 0 and hook["floor_ms"] > hook["raw_post_ms"] > 0
    assert "Supabase hook send" in run.stdout
