"""The floor: exactly the DynamoDB calls the handler makes, replayed by hand with boto3 and
nothing else (no validation, no hashing, no service code, no HTTP handler).

``capture`` records the calls a client makes and when each started and ended (botocore's
provide-client-params and after-call hooks, which fire in the thread making the call); ``waves`` groups
calls that overlapped in time; ``replay`` makes them again on another client, wave by wave,
the calls of a wave at once as the handler made them, with the number's item key replaced by
a fresh one, so a replayed request creates a new verification exactly as the handler did.
``sequential_round_trips`` is the longest chain of calls each starting after the previous
one ended: the DynamoDB latency a request waits for, in round trips.
"""

from __future__ import annotations

import copy
import hashlib
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from botocore import xform_name


class CallLog(list):
    """The calls recorded on one client: dicts with operation, params, start and end."""

    def take(self) -> list[dict[str, Any]]:
        calls = list(self)
        self.clear()
        return calls


def capture(client: Any) -> CallLog:
    """Records every call ``client`` makes (any service: DynamoDB, KMS, SQS)."""
    calls = CallLog()
    service = client.meta.service_model.service_id.hyphenize()
    local = threading.local()
    lock = threading.Lock()

    def before(params: dict, model: Any, **_: Any) -> None:
        local.call = {"service": service, "operation": model.name, "params": copy.deepcopy(params),
                      "start": time.perf_counter()}

    def after(**_: Any) -> None:
        call = getattr(local, "call", None)
        if call is not None:
            local.call = None
            call["end"] = time.perf_counter()
            with lock:
                calls.append(call)

    client.meta.events.register(f"provide-client-params.{service}", before)
    client.meta.events.register(f"after-call.{service}", after)
    return calls


# A network's round trip, for the figures that count round trips rather than CPU: against
# dynalite on 127.0.0.1 a call takes about a millisecond, less than a loaded machine can take to
# start a wave's second thread, and dynalite (one node process) makes a wave's calls one after
# another where DynamoDB makes them at once.
ROUND_TRIP_SECONDS = 0.03


def network_latency(**_: Any) -> None:
    """A botocore ``before-send`` handler: each call waits ROUND_TRIP_SECONDS before it is sent."""
    time.sleep(ROUND_TRIP_SECONDS)


def sequential_round_trips(calls: list[dict[str, Any]]) -> int:
    """The most calls that ran one after another (each started after the previous ended):
    greedy by end time gives the longest such chain."""
    count, last_end = 0, float("-inf")
    for call in sorted(calls, key=lambda c: c["end"]):
        if call["start"] >= last_end:
            count, last_end = count + 1, call["end"]
    return count


def waves(calls: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Calls grouped into waves: a call joins the current wave when it started before every
    call of that wave had ended."""
    grouped: list[list[dict[str, Any]]] = []
    wave_end = float("-inf")
    for call in sorted(calls, key=lambda c: c["start"]):
        if grouped and call["start"] < wave_end:
            grouped[-1].append(call)
            wave_end = max(wave_end, call["end"])
        else:
            grouped.append([call])
            wave_end = call["end"]
    return grouped


_pool = ThreadPoolExecutor(max_workers=4)


def replay(client: Any, calls: list[list[dict[str, Any]]], table: str, number_pk: str,
           pool: ThreadPoolExecutor | None = None) -> None:
    """The number's item, its SID lookup, its prefix counter and its attempts' items get fresh keys (as a new
    number's would); the IP, country, budget and attempt counters are the same items the
    handler's writes hit."""
    prefix_pk = "rl#prefix#" + secrets.token_hex(6)

    def one(call: dict[str, Any]) -> None:
        params = fresh_token(copy.deepcopy(call["params"]))
        params["TableName"] = table
        key = params.get("Key", {}).get("pk", {})
        if key.get("S", "").startswith("v#"):
            key["S"] = number_pk
        elif key.get("S", "").startswith("rl#prefix#"):
            key["S"] = prefix_pk
        elif key.get("S", "").startswith("sid#"):
            # The verification's SID lookup (chalicelib/factors/sid_links.py): a new SID's, as
            # a new verification's would be (its condition: no lookup for that SID yet).
            key["S"] = "sid#VE" + hashlib.sha256((number_pk + "sid").encode()).hexdigest()[:32]
        elif key.get("S", "").startswith("hook#"):
            # A hook's replay guard (chalicelib/hooks/core.py): a new message id's, as each
            # platform's request carries one (its condition: not seen yet).
            key["S"] = "hook#" + hashlib.sha256((number_pk + key["S"]).encode()).hexdigest()[:32]
        elif key.get("S", "").startswith("at#"):
            # An attempt's item, as the new number's would be: made by the start's replay (its
            # condition: a new item) and found by the check's (its conversion), one key for both.
            key["S"] = "at#" + hashlib.sha256((number_pk + key["S"]).encode()).hexdigest()[:32]
        getattr(client, xform_name(call["operation"]))(**params)

    _in_waves(calls, one, pool)


def replay_calls(clients: dict[str, Any], calls: list[list[dict[str, Any]]],
                 rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Calls to any service (``clients`` by the ``service`` each call recorded), wave by wave
    as ``replay`` makes them; ``rewrite`` gives the parameters to send for a call."""
    _in_waves(calls, lambda call: getattr(clients[call["service"]], xform_name(call["operation"]))(**rewrite(call)))


def _in_waves(calls: list[list[dict[str, Any]]], one: Callable[[dict[str, Any]], Any],
              pool: ThreadPoolExecutor | None = None) -> None:
    """``pool``: the load floor's, as wide as its clients' waves (the shared one has 4 threads)."""
    for wave in calls:
        futures = [(pool or _pool).submit(one, call) for call in wave[1:]]
        one(wave[0])
        for future in futures:
            future.result()


def fresh_token(params: dict[str, Any]) -> dict[str, Any]:
    """A replayed write gets a token of its own, as each request's write does (the app's write
    token, chalicelib/dynamodb.py, and the attempt counters' ``:w``, chalicelib/verify/attempts.py):
    replaying the recorded one would find it on the item."""
    values = params.get("ExpressionAttributeValues", {})
    for name in (":wid", ":w"):
        if name in values:
            values[name] = {"S": secrets.token_hex(8)}
    return params


def fresh_number_pk() -> str:
    return "v#" + secrets.token_hex(16)


def save(path: Path, request: list, check: list) -> None:
    path.write_text(json.dumps({"request": waves(request), "check": waves(check)}))


def load(path: Path) -> dict[str, list]:
    return json.loads(path.read_text())
