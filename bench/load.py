"""`make bench ARGS=--load`: what a user sees under load (not part of `make test`).

The dev server with one warmed long-lived worker per client (scripts/local/serve.py --workers:
each serves one connection at a time, as a warm Lambda container serves one request at a
time) on dynalite, both on 127.0.0.1; ``clients``
threads, each a client making verifications one after another (a start, the code read from
the console provider's log, a right check) until ``verifications`` are done: it stops by
itself. Reported: verifications a second against the floor (the DynamoDB calls a start and a
check make, recorded from the handler and replayed with boto3 by as many threads, each
replaying a fresh number's calls wave by wave as bench/floor.py does), p50/p95/p99 of the
start and the check (each against the floor's), errors (any other status, or no code), and
every counter checked exact afterwards: the sends the log shows, the budget's and the
country's shards, the number items' starts and checks, the prefix counters' approvals and the
attempts' day counters (no send, approval or guess lost or counted twice).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import floor
from bench.harness import BENCH_ENV, Dynalite, build_app, call, latest_code, numbers

ROOT = Path(__file__).resolve().parent.parent
TABLE = "bench-load"
_CODE = re.compile(r"\[console SMS to (\+[0-9]+)\][^\n]*\n[^\n]*?\b([0-9]{6})\b", re.ASCII)


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 1)


class Codes:
    """The codes the console provider printed, read from the server's log as it grows."""

    def __init__(self, log_path: Path) -> None:
        self._path, self._tail = log_path, ""
        self._codes: dict[str, str] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        with open(self._path, encoding="utf-8", errors="replace") as log:
            while not self._stop.is_set():
                chunk = log.read()
                if not chunk:
                    time.sleep(0.002)
                    continue
                text = self._tail + chunk
                found = list(_CODE.finditer(text))
                self._tail = text[found[-1].end():] if found else text[-4000:]
                with self._changed:
                    for match in found:
                        self._codes[match.group(1)] = match.group(2)
                    self._changed.notify_all()

    def wait(self, number: str, timeout: float = 20.0) -> str | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while number not in self._codes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)
            return self._codes[number]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _serve(db: Dynalite, log_path: Path, workers: int, table: str,
           throttle: int) -> tuple[subprocess.Popen, str]:
    from scripts.local.run_local import free_port, wait_for_port
    from scripts.local.workers import READY

    port = free_port()
    env = {**os.environ, **BENCH_ENV, "AWS_ENDPOINT_URL_DYNAMODB": db.endpoint, "PYTHONUNBUFFERED": "1"}
    settings = {**BENCH_ENV, "OTP_TABLE_NAME": table, "OTP_REQUEST_BUDGET_SECONDS": "19",
                "OTP_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "load_server.py"),
         *(["--throttle-one-in", str(throttle)] if throttle else []), "--stage", "test", "--port", str(port),
         f"--workers={workers}", *[f"--env={k}={v}" for k, v in settings.items()]],
        env=env, stdout=open(log_path, "w"), stderr=subprocess.STDOUT, cwd=ROOT)
    wait_for_port(port)
    deadline = time.monotonic() + 120  # every worker warmed (its connections open) before the clients
    while log_path.read_text(errors="replace").count(READY) < workers:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server's {workers} workers did not get ready: "
                               f"{log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def served(db: Dynalite, clients: int, count: int, work: Path, table: str = TABLE,
           throttle: int = 0) -> dict[str, Any]:
    import requests

    from bench.load_server import THROTTLED

    log_path = work / f"{table}.log"
    proc, url = _serve(db, log_path, clients, table, throttle)
    codes = Codes(log_path)
    todo = iter(numbers(60_000, count))
    lock = threading.Lock()
    starts: list[float] = []
    checks: list[float] = []
    firsts: list[float] = []  # each client's first start: its connection's first request
    waits: list[float] = []  # from the start's answer to its code read from the log
    errors: dict[str, int] = {}
    failed_starts: list[str] = []

    def error(kind: str) -> None:
        with lock:
            errors[kind] = errors.get(kind, 0) + 1

    def client() -> None:
        session = requests.Session()
        first = True
        while True:
            with lock:
                number = next(todo, None)
            if number is None:
                return
            t0 = time.perf_counter()
            started = session.post(url + "/v1/verifications", json={"to": number}, timeout=30)
            t1 = time.perf_counter()
            if started.status_code != 201:
                error(f"start {started.status_code} {_code_of(started)}")
                failed_starts.append(number)
                continue
            code = codes.wait(number)
            if code is None:
                error("no code")
                continue
            t2 = time.perf_counter()
            checked = session.post(url + "/v1/verifications/check", json={"to": number, "code": code},
                                   timeout=30)
            t3 = time.perf_counter()
            with lock:
                starts.append(t1 - t0)
                waits.append(t2 - t1)
                if first:
                    firsts.append(t1 - t0)
                first = False
                if checked.status_code == 200:
                    checks.append(t3 - t2)
            if checked.status_code != 200:
                error(f"check {checked.status_code} {_code_of(checked)}")

    try:
        server_pids = [proc.pid, *_children(proc.pid)]
        cpu = (_cpu_seconds(server_pids), _cpu_seconds([db.proc.pid]), time.process_time())
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            for future in [pool.submit(client) for _ in range(clients)]:
                future.result()
        seconds = time.perf_counter() - began
        # CPU seconds of the run: the server's processes, dynalite's, this process's (the clients).
        spent = (_cpu_seconds(server_pids) - cpu[0], _cpu_seconds([db.proc.pid]) - cpu[1],
                 time.process_time() - cpu[2])
    finally:
        codes.stop()
        proc.terminate()
        proc.wait(timeout=10)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    sent = len(re.findall(r"\[console SMS to ", text))
    # Where the time goes: each request's own latency_ms, measured by the handler from its
    # start to its answer (chalicelib/telemetry.py), against what the client saw; the rest is
    # outside the handler: the accept queue, the fork, the child's start, HTTP.
    inside: dict[str, list[float]] = {"POST /v1/verifications": [], "POST /v1/verifications/check": []}
    for line in text.splitlines():
        if line.startswith("{") and '"latency_ms"' in line and '"route"' in line:
            entry = json.loads(line)
            if entry.get("route") in inside:
                inside[entry["route"]].append(entry["latency_ms"] / 1000)
    return {"seconds": seconds, "starts": starts, "checks": checks, "errors": errors, "sms_in_log": sent,
            "throttled_writes": text.count(THROTTLED),
            "firsts": firsts, "waits": waits, "cpu": dict(zip(("server", "dynalite", "clients"), spent)),
            "failed_starts": len(failed_starts),
            "handler_starts": inside["POST /v1/verifications"],
            "handler_checks": inside["POST /v1/verifications/check"]}


def _code_of(response: Any) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "?"


def floor_run(db: Dynalite, clients: int, count: int, calls_file: Path,
              table_name: str = "bench-load-floor") -> dict[str, Any]:
    """The recorded calls of a start and a check, replayed for ``count`` fresh numbers by
    ``clients`` threads, each wave's calls at once on a pool as wide as every client's waves."""
    import boto3
    from botocore.config import Config

    recorded = floor.load(calls_file)
    client = boto3.client("dynamodb", endpoint_url=db.endpoint,
                          config=Config(max_pool_connections=clients * 10))
    widest = max(len(w) for w in recorded["request"] + recorded["check"])
    pool = ThreadPoolExecutor(max_workers=clients * widest)
    table = db.table(table_name)
    # The pool's connections opened before the clock starts, as the server's workers open theirs.
    warm = [pool.submit(client.get_item, TableName=table, Key={"pk": {"S": "warm#floor"}})
            for _ in range(clients * widest)]
    for future in warm:
        future.result()
    starts: list[float] = []
    checks: list[float] = []
    firsts: list[float] = []
    lock = threading.Lock()
    left = [count]

    def one() -> None:
        first = True
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            number_pk = floor.fresh_number_pk()
            t0 = time.perf_counter()
            floor.replay(client, recorded["request"], table, number_pk, pool=pool)
            t1 = time.perf_counter()
            floor.replay(client, recorded["check"], table, number_pk, pool=pool)
            t2 = time.perf_counter()
            with lock:
                starts.append(t1 - t0)
                checks.append(t2 - t1)
                if first:
                    firsts.append(t1 - t0)
                first = False

    cpu = (_cpu_seconds([db.proc.pid]), time.process_time())
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as threads:
        for future in [threads.submit(one) for _ in range(clients)]:
            future.result()
    seconds = time.perf_counter() - began
    spent = {"replay": time.process_time() - cpu[1], "dynalite": _cpu_seconds([db.proc.pid]) - cpu[0]}
    pool.shutdown()
    return {"seconds": seconds, "starts": starts, "checks": checks, "firsts": firsts, "cpu": spent}


def _children(pid: int) -> list[int]:
    """The processes ``pid`` forked (Linux's /proc; none where it cannot say)."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds these processes have used (Linux's /proc; 0 for one gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime: stat's fields 14 and 15
    return total / os.sysconf("SC_CLK_TCK")


def counters(db: Dynalite, table: str = TABLE) -> dict[str, int]:
    """Every count the run left in the table, summed by kind."""
    client = db.client()
    totals: dict[str, int] = {}
    pages = client.get_paginator("scan").paginate(TableName=table)
    for item in (i for page in pages for i in page["Items"]):
        pk = item["pk"]["S"]
        numbers_of = {k: int(v["N"]) for k, v in item.items() if "N" in v}

        def add(name: str, value: int) -> None:
            totals[name] = totals.get(name, 0) + value

        if pk.startswith("rl#budget#"):
            add("budget", numbers_of.get("n", 0))
        elif pk.startswith("rl#country#"):
            add("country", numbers_of.get("n", 0))
            add("country_shards", 1)
        elif pk.startswith("rl#prefix#"):
            add("prefix", numbers_of.get("n", 0))
            add("approvals", numbers_of.get("approvals_sms", 0))
        elif pk.startswith("v#"):
            add("number_starts", sum(v for k, v in numbers_of.items() if k.startswith("starts_")))
            add("number_checks", sum(v for k, v in numbers_of.items() if k.startswith("checks_")))
        elif pk.startswith("ac#"):
            add("attempts", sum(v for k, v in numbers_of.items() if k.startswith("t#")))
            add("conversions", sum(v for k, v in numbers_of.items() if k.startswith("c#")))
    return totals


IN_PROCESS = 200  # verifications the in-process measure makes (fewer when the run makes fewer)


def in_process_cpu(db: Dynalite, count: int) -> float:
    """CPU milliseconds a verification (a start and a right check) with the app called in this
    process on a warm service (``app.app``, no HTTP), against the same dynalite: what the served
    run's server CPU holds beyond it is the dev server's HTTP and Chalice's local gateway, which
    API Gateway does on Lambda."""
    import contextlib

    phones = numbers(80_000, count + 20)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        app = build_app(db.endpoint, db.table(TABLE + "-in-process"))

        def verification(phone: str) -> None:
            assert call(app, "POST", "/v1/verifications", {"to": phone})["statusCode"] == 201
            checked = call(app, "POST", "/v1/verifications/check", {"to": phone, "code": latest_code()})
            assert checked["statusCode"] == 200, checked

        for phone in phones[:20]:  # the service's first calls, as the workers' warm-up makes them
            verification(phone)
        started = time.process_time()
        for phone in phones[20:]:
            verification(phone)
        return round((time.process_time() - started) * 1000 / count, 1)


def run(clients: int, count: int, calls_file: Path, work: Path, nice: int = 0,
        throttle: int = 0) -> dict[str, Any]:
    """``nice``: once dynalite runs, this process (the clients and the floor's threads) and the
    server it starts next (and every child it forks) run that much below it. On AWS, DynamoDB
    has CPUs of its own; here dynalite, one node process, shares two cores with 50 forked
    handlers and the clients, and a starved dynalite slows every call of both runs.
    ``throttle``: then the same run again, on a table of its own, with one DynamoDB write in
    ``throttle`` throttled once (bench/load_server.py); its result is the ``throttled`` key."""
    db = Dynalite()
    try:
        if nice:
            os.nice(nice)
        db.table(TABLE)
        # dynalite's own first calls (node compiling its UpdateItem path as it first runs) made
        # before either run is timed: two verifications' calls a client, on a table of their own.
        floor_run(db, clients, 2 * clients, calls_file, "bench-load-warm")
        ours = served(db, clients, count, work)
        counts = counters(db)
        hit = hit_counts = None
        if throttle:
            db.table(TABLE + "-throttled")
            hit = served(db, clients, count, work, TABLE + "-throttled", throttle)
            hit_counts = counters(db, TABLE + "-throttled")
        base = floor_run(db, clients, count, calls_file)
        app_cpu = in_process_cpu(db, min(count, IN_PROCESS))
    finally:
        db.stop()
    result = summary(clients, count, nice, ours, counts, base)
    result["cpu_ms_per_verification"]["in_process_app"] = app_cpu
    if hit is not None and hit_counts is not None:
        throttled = summary(clients, count, nice, hit, hit_counts, base)
        throttled.update(
            throttle_one_in=throttle,
            # What one throttled write in ``throttle`` costs, against the run without faults.
            **{f"{kind}_p{p}_delta_ms": round(throttled[f"{kind}_p{p}_ms"] - result[f"{kind}_p{p}_ms"], 1)
               for kind in ("start", "check") for p in (50, 99)})
        result["throttled"] = throttled
    return result


def summary(clients: int, count: int, nice: int, ours: dict[str, Any], counts: dict[str, int],
            base: dict[str, Any]) -> dict[str, Any]:
    """One served run's figures against the floor, and its counters checked."""
    done = len(ours["checks"])
    sends = len(ours["starts"])
    failed = ours["failed_starts"]
    expected = {"budget": sends, "country": sends, "prefix": sends, "number_starts": sends,
                "attempts": sends, "approvals": done, "conversions": done, "number_checks": done}
    # A start that failed (503: a call out of time) may stay counted where its write landed: the
    # conservative side, never generous (docs/limits.md). So the send counts may exceed the
    # sends by at most the failed starts; approvals and guesses must be exact whatever happens.
    exact = ours["sms_in_log"] == sends and all(counts.get(k, 0) == v for k, v in expected.items())
    send_kinds = ("budget", "country", "prefix", "number_starts", "attempts")
    bounded = ours["sms_in_log"] == sends and all(
        v <= counts.get(k, 0) <= v + (failed if k in send_kinds else 0) for k, v in expected.items())
    per_second = done / ours["seconds"]
    floor_per_second = len(base["checks"]) / base["seconds"]
    return {
        "clients": clients,
        "nice": nice,
        "verifications": count,
        "seconds": round(ours["seconds"], 1),
        "per_second": round(per_second, 1),
        "floor_per_second": round(floor_per_second, 1),
        "ratio": round(per_second / floor_per_second, 3),
        **{f"start_p{p}_ms": percentile(ours["starts"], p) for p in (50, 95, 99)},
        **{f"check_p{p}_ms": percentile(ours["checks"], p) for p in (50, 95, 99)},
        **{f"floor_start_p{p}_ms": percentile(base["starts"], p) for p in (50, 99)},
        **{f"floor_check_p{p}_ms": percentile(base["checks"], p) for p in (50, 99)},
        "start_mean_ms": round(statistics.mean(ours["starts"]) * 1000, 1),
        # Each client's first start: all of them at once, the burst the run begins with.
        "start_first_p50_ms": percentile(ours["firsts"], 50),
        "floor_start_first_p50_ms": percentile(base["firsts"], 50),
        "code_wait_p50_ms": percentile(ours["waits"], 50),
        "code_wait_p99_ms": percentile(ours["waits"], 99),
        # The same requests timed inside the handler (its request log's latency_ms).
        **({f"handler_start_p{p}_ms": percentile(ours["handler_starts"], p) for p in (50, 99)}
           if ours["handler_starts"] else {}),
        **({f"handler_check_p{p}_ms": percentile(ours["handler_checks"], p) for p in (50, 99)}
           if ours["handler_checks"] else {}),
        # Where the two cores went, CPU milliseconds a verification: the service's processes, the
        # clients and dynalite against the floor's replay and dynalite (the floor's calls).
        "cpu_ms_per_verification": {
            **{k: round(v * 1000 / max(done, 1), 1) for k, v in ours["cpu"].items()},
            **{f"floor_{k}": round(v * 1000 / max(len(base["checks"]), 1), 1)
               for k, v in base["cpu"].items()}},
        "errors": sum(ours["errors"].values()),
        "throttled_writes": ours["throttled_writes"],  # bench/load_server.py's, in the server's log
        "error_kinds": ours["errors"],
        "sms_in_log": ours["sms_in_log"],
        "counters": counts,
        "counters_expected": expected,
        "failed_starts": failed,
        "counters_exact": exact,
        "counters_within_failed_starts": bounded,
    }


def main(clients: int, count: int, calls_file: Path, work: Path, output: Path,
         nice: int = 0, throttle: int = 0) -> dict[str, Any]:
    """The run's sections: ``load`` and, with ``throttle``, ``load_throttled``; written into
    ``output`` beside the other sections when a full run wrote it."""
    result = run(clients, count, calls_file, work, nice, throttle)
    sections = {"load": result}
    if "throttled" in result:
        sections["load_throttled"] = result.pop("throttled")
    if output.exists():  # a full run's results.json: the load sections beside the others
        recorded = json.loads(output.read_text())
        recorded.update(sections)
        output.write_text(json.dumps(recorded, indent=2) + "\n")
    return sections
