"""The table `make bench` prints, from the figures bench/run.py writes to results.json."""

from __future__ import annotations

from typing import Any


HEADER = ("figure", "ours", "floor", "ratio", "goal")


def rows(results: dict[str, Any]) -> list[tuple[str, ...]]:
    """The table's rows (figure, ours, floor, ratio, goal); a figure indented by two spaces
    belongs to the row above it."""
    rows: list[tuple[str, ...]] = []
    c = results["cold_start"]
    rows.append(("cold start: boto3 + app import + request + check (source tree)",
                 f"{c['app_ms'] + c['boto3_import_ms']:.1f} ms",
                 f"{c['floor_ms'] + c['boto3_import_ms']:.1f} ms", f"{c['ratio']:.2f}",
                 "(the goal is as on Lambda)"))
    rows.append(("  the same without boto3's import", f"{c['app_ms']:.1f} ms", f"{c['floor_ms']:.1f} ms",
                 f"{c['ratio_without_boto3_import']:.2f}", f"+{c['overhead_ms']:.0f} ms"))
    compiling_ms = (c["app_compiling_ms"] + c["boto3_import_compiling_ms"]
                    - c["app_package_ms"] - c["boto3_import_package_ms"])
    rows.append(("  as on Lambda: make package's zip (cold path as .pyc)",
                 f"{c['app_package_ms'] + c['boto3_import_package_ms']:.1f} ms",
                 f"{c['floor_ms'] + c['boto3_import_ms']:.1f} ms", f"{c['ratio_package']:.2f}",
                 f"<= {c['goal_ratio']}"))
    if "ratio_deploy" in c:
        rows.append(("  as on Lambda: make deploy's zip (chalice deploy's, as .pyc)",
                     f"{c['app_deploy_ms'] + c['boto3_import_deploy_ms']:.1f} ms",
                     f"{c['floor_ms'] + c['boto3_import_ms']:.1f} ms", f"{c['ratio_deploy']:.2f}",
                     f"<= {c['goal_ratio']}"))
    rows.append(("  as on Lambda before: chalice's zip (no .pyc, compiling)",
                 f"{c['app_compiling_ms'] + c['boto3_import_compiling_ms']:.1f} ms",
                 f"{c['floor_ms'] + c['boto3_import_ms']:.1f} ms", f"{c['ratio_compiling']:.2f}",
                 f"+{compiling_ms:.0f} ms compiling"))
    for op in ("request", "check"):
        w = results["warm"][op]
        rows.append((f"warm {op} (dynalite over HTTP)", f"{w['app_ms']:.2f} ms", f"{w['floor_ms']:.2f} ms",
                     f"{w['ratio']:.2f}", f"<= {w['goal_ratio']}"))
    if "v2" in results:
        v2 = results["v2"]
        for op in ("start", "check"):
            w = v2[op]
            rows.append((f"warm v2 {op}: Basic auth + form (dynalite)", f"{w['app_ms']:.2f} ms",
                         f"{w['floor_ms']:.2f} ms", f"{w['ratio']:.2f}", f"<= {w['goal_ratio']}"))
        limited = v2.get("rate_limits")
        if limited:
            rows.append(("  v2 start naming two Rate Limits vs none, each call 30 ms away",
                         f"{limited['app_ms']:.2f} ms", f"{limited['floor_ms']:.2f} ms", f"{limited['ratio']:.2f}",
                         f"<= {limited['goal_ratio']}"))
            if "dynalite_ratio" in limited:
                rows.append(("  the same on dynalite (its 2 more writes' CPU)", f"{limited['dynalite_app_ms']:.2f} ms",
                             f"{limited['dynalite_floor_ms']:.2f} ms", f"{limited['dynalite_ratio']:.2f}", ""))
        lookup = v2["service_lookup"]
        rows.append(("  v2 Service lookup: cached vs read", f"{lookup['hit_ms']:.4f} ms",
                     f"{lookup['miss_ms']:.2f} ms", f"1/{lookup['ratio']:.0f}",
                     f"Basic auth {v2['basic_auth_ms']:.3f} ms"))
    f = results["flat"]
    rows.append((f"check with {f['pending_large']:,} pending vs {f['pending_small']}",
                 f"{f['check_large_ms']:.2f} ms", f"{f['check_small_ms']:.2f} ms", f"{f['ratio']:.2f}",
                 f"<= {f['goal_ratio']}"))
    rows.append(("  list-scan design, same sizes", f"{f['list_scan_large_ms']:.3f} ms",
                 f"{f['list_scan_small_ms']:.4f} ms", f"{f['list_scan_ratio']:.0f}", "(tutorials)"))
    for op, u in results["units"].items():
        rows.append((f"DynamoDB per {op.replace('_', ' ')}",
                     f"{u['writes']} writes, {u['reads']} reads "
                     f"({u['write_units']:g} WRU, {u['read_units']:g} RRU)",
                     "", f"{u['sequential_round_trips']:g} sequential round trips",
                     "<= 2" if op == "request" else ""))
    if "throttled" in results:
        th = results["throttled"]
        rows.append((f"start, 1 write in {round(1 / th['throttle_rate'])} throttled once: p99",
                     f"{th['p99_ms']:.1f} ms", f"{th['clean_p99_ms']:.1f} ms", "",
                     f"{th['starts_with_a_throttle']}/{th['starts']} starts hit"))
        rows.append(("  the same, p50", f"{th['p50_ms']:.2f} ms", f"{th['clean_p50_ms']:.2f} ms",
                     f"{th['median_ratio']:.2f}", ""))
    r = results["receipts"]
    rows.append(("right check with its receipt vs without", f"{r['check_ms']:.2f} ms",
                 f"{r['check_without_receipt_ms']:.2f} ms", f"{r['ratio']:.2f}", f"+{r['added_ms']:.1f} ms"))
    rows.append(("  ReceiptSigner.sign vs its bare KMS Sign", f"{r['sign_ms']:.2f} ms",
                 f"{r['raw_kms_sign_ms']:.2f} ms", f"{r['sign_ratio']:.2f}", ""))
    rows.append(("KMS per approval (first in a container)", " + ".join(r["kms_calls_per_approval"]),
                 "", "(" + " + ".join(r["kms_calls_first_approval"]) + ")", ""))
    if "minute_key" in r:
        m = r["minute_key"]
        rows.append(("right check, minute-key receipt vs KMS's", f"{m['check_ms']:.2f} ms", f"{r['check_ms']:.2f} ms",
                     f"{m['check_ms'] / r['check_ms']:.2f}", f"{m['added_ms']:+.1f} ms"))
        rows.append(("  ReceiptSigner.sign, minute key vs KMS", f"{m['sign_ms']:.2f} ms", f"{r['sign_ms']:.2f} ms",
                     f"{m['sign_ms'] / r['sign_ms']:.2f}",
                     f"{m['kms_calls_per_approval']:g} KMS calls per receipt ({m['receipts']})"))
    t = results["totp"]
    rows.append(("TOTP challenge (handler) vs its calls by hand", f"{t['challenge_ms']:.2f} ms",
                 f"{t['floor_ms']:.2f} ms", f"{t['ratio']:.2f}", ""))
    rows.append(("  DynamoDB / KMS per TOTP challenge", " + ".join(t["dynamodb_calls"]) + " / "
                 + " + ".join(t["kms_calls"]), "", f"{t['sequential_round_trips']:g} sequential round trips", ""))
    p = results.get("passkeys")
    if p:
        a = p["approve"]
        rows.append(("passkey approval (handler) vs its calls by hand", f"{a['approve_ms']:.2f} ms",
                     f"{a['floor_ms']:.2f} ms", f"{a['ratio']:.2f}", ""))
        rows.append(("  calls per passkey approval", " + ".join(a["calls_per_approval"]), "", "", ""))
        for name, v in p["verify"].items():
            rows.append((f"  {name} assertion verified (pure Python) vs py_webauthn",
                         f"{v['verify_ms']:.2f} ms", f"{v['py_webauthn_ms']:.2f} ms", "", ""))
    e = results["events"]
    for op in ("request", "check"):
        w = e[op]
        rows.append((f"{op} with events vs without", f"{w['app_ms']:.2f} ms", f"{w['without_events_ms']:.2f} ms",
                     f"{w['ratio']:.2f}", "<= 1.05"))
        rows.append((f"  SQS (or any AWS call but DynamoDB) per {op}", " + ".join(w["other_aws_calls"]) or "none",
                     "", "", "none"))
    rows.append(("  events consumer per stream record (POST to 127.0.0.1)", f"{e['consumer_ms_per_record']:.2f} ms",
                 "", f"{e['stream_records_per_verification']:g} records per verification", ""))
    wh = results.get("webhooks")
    if wh:  # bench/webhooks.py: a v2 Service with one webhook, one invocation per record
        only, events, both = wh["webhooks_only"], wh["events_only"], wh["both"]
        rows.append(("  consumer per record, Twilio webhooks vs events", f"{only['ms_per_record']:.2f} ms",
                     f"{events['ms_per_record']:.2f} ms", f"both {both['ms_per_record']:.2f} ms",
                     f"{only['dynamodb_calls_per_record']:g} vs {events['dynamodb_calls_per_record']:g} "
                     "DynamoDB calls"))
    wa = results.get("whatsapp")
    if wa:
        rows.append(("WhatsApp start (Meta, faked locally) vs floor", f"{wa['app_ms']:.2f} ms",
                     f"{wa['floor_ms']:.2f} ms", f"{wa['ratio']:.2f}", f"<= {wa['goal_ratio']}"))
        rows.append(("  of which the raw Cloud API POST", f"{wa['raw_post_ms']:.2f} ms", "", "", ""))
    hook = results.get("hook")
    if hook:
        rows.append(("Supabase hook send (webhook provider, faked locally) vs floor", f"{hook['app_ms']:.2f} ms",
                     f"{hook['floor_ms']:.2f} ms", f"{hook['ratio']:.2f}", f"<= {hook['goal_ratio']}"))
        rows.append(("  of which the bare provider POST", f"{hook['raw_post_ms']:.2f} ms", "", "", ""))
    for name in ("load", "load_throttled"):  # `make bench ARGS="--load --throttle 100"` (bench/load.py)
        if name not in results:
            continue
        ld = results[name]
        what = (f"load, 1 write in {ld['throttle_one_in']} throttled once" if name == "load_throttled"
                else "load")
        rows.append((f"{what}: {ld['clients']} clients, verifications a second", f"{ld['per_second']:.1f}",
                     f"{ld['floor_per_second']:.1f}", f"{ld['ratio']:.2f}",
                     f"{ld['errors']} errors, counters {'exact' if ld['counters_exact'] else 'NOT exact'}"))
        rows.append(("  start / check p99", f"{ld['start_p99_ms']:,.0f} / {ld['check_p99_ms']:,.0f} ms",
                     f"{ld['floor_start_p99_ms']:,.0f} / {ld['floor_check_p99_ms']:,.0f} ms", "",
                     f"{ld['throttled_writes']} writes throttled" if name == "load_throttled" else ""))
    if "package" in results:
        pk = results["package"]
        rows.append(("Lambda package (make package)", f"{pk['bytes']:,} B", f"{pk['limit_bytes']:,} B",
                     f"{pk['ratio']:.2f}", "<= 1.0"))
    cost = results["cost"]
    rows.append(("cost per 1,000 verifications (no SMS)", f"${cost['total_usd']:.4f}",
                 f"Twilio ${cost['twilio_verify_usd']:.2f}", f"1/{cost['twilio_over_ours']:,.0f}",
                 f"prices {cost['prices']['date']}"))
    rows.append(("  of which KMS Sign (receipts)", f"${cost['kms_usd']:.4f}", "", "",
                 f"price {cost['prices']['kms_date']}"))
    rows.append(("  events consumer, if on (stream reads free)", f"${cost['events_usd']:.4f}", "", "",
                 "one invocation per record"))
    channel_cost = results.get("channel_cost")
    if channel_cost:  # bench/channels.py: each price with its source and date
        for name, channel in channel_cost["channels"].items():
            twilio, usd = channel["twilio_verify_usd"], channel["usd"]
            more = "+" if channel["twilio_note"] else ""  # a Twilio channel fee no stored source gives
            digits = 1 if twilio is None or twilio < 10 * usd else 0
            over = "" if twilio is None else f"{twilio / usd:,.{digits}f}"
            rows.append((f"  per 1,000 by {name}", f"${usd:.2f}",
                         "" if twilio is None else f"Twilio ${twilio:.2f}{more}", over and f"1/{over}",
                         ("unverified" if channel["unverified"] else "sourced") + ": bench/channels.py"))
    return rows


def report(results: dict[str, Any]) -> str:
    """The table `make bench` prints."""
    table = rows(results)
    widths = [max(len(str(r[i])) for r in table + [HEADER]) for i in range(5)]
    line = lambda r: "  ".join(str(v).ljust(widths[i]) for i, v in enumerate(r))  # noqa: E731
    return "\n".join([line(HEADER), line(["-" * w for w in widths]), *map(line, table)])


def markdown(results: dict[str, Any]) -> str:
    """The same table in Markdown, as docs/benchmarks.md shows it
    (`python -m bench.report [results.json]`)."""
    def cell(value: str) -> str:
        text = str(value).replace("|", "\\|")
        return "↳ " + text.strip() if text.startswith("  ") else text.strip()

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows(results)]
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    path = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "results.json")
    print(markdown(json.loads(path.read_text())))
