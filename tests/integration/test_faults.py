"""Exactly once under faults: one fault at a time at each AWS call of a start, a resend, a
wrong and a right check, a cancel and a TOTP challenge (tests/faults.py: botocore
``before-send`` hooks, so botocore's own retries run), on moto in-process and on dynalite
over HTTP (no ReturnValuesOnConditionCheckFailure there: the store reads the item instead).

The oracle, row by row: a fault that botocore's retry absorbs (an answer lost after the write
landed, a reset connection, a throttle) must leave the client's answer and the state exactly as
the same request without the fault (``transient``); a call that keeps failing gets the answer
and the state of the table in ``test_a_failing_call_answers_and_leaves`` (``FAILING``).
"""

from __future__ import annotations

import itertools
import json
import math
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from chalicelib import wiring
from tests.conftest import ROOT
from tests.faults import Faults
from tests.integration.conftest import unique_number
from tests.live import RELAXED

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")

FAULTS_TABLE = "phone-verify-faults"  # dynalite: this suite's own table
_seeds = itertools.count(1)


# -- the app, its faults and its state ------------------------------------------------------


@dataclass
class Harness:
    client: Any
    service: Any
    faults: Faults
    clock: Any
    reader: Any  # a DynamoDB client without faults, to read the state
    table: str
    number: str
    ip: str

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        response = self.client.http.post(path, headers={"content-type": "application/json"},
                                         body=json.dumps(body))
        return response.status_code, json.loads(response.body or b"null")

    def start(self) -> tuple[int, dict]:
        return self.post("/v1/verifications", {"to": self.number})

    def check(self, code: str) -> tuple[int, dict]:
        return self.post("/v1/verifications/check", {"to": self.number, "code": code})

    def cancel(self, verification_id: str) -> tuple[int, dict]:
        response = self.client.http.delete(f"/v1/verifications/{verification_id}")
        return response.status_code, json.loads(response.body or b"null")

    def codes(self) -> list[str]:
        """The codes sent to this number, oldest first (the console provider's outbox)."""
        from chalicelib.channels.providers.console import OUTBOX

        return [re.search(r"\b[0-9]{6}\b", m["body"]).group(0)  # type: ignore[union-attr]
                for m in reversed(OUTBOX) if m["to"] == self.number]

    def item(self, pk: str) -> dict[str, Any]:
        key = {"pk": {"S": pk}}
        return self.reader.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item", {})

    def state(self) -> dict[str, Any]:
        """What a request leaves behind, in the terms the rules use (no ids, MACs, tokens)."""
        from chalicelib.verify.items import to_verification
        from chalicelib.verify.limits import prefix_of

        now = self.clock.now
        key = self.service._hasher.number_key(self.number)
        raw = self.item("v#" + key)
        v = to_verification(raw)
        window = int(now) // 3600
        config = self.service._config

        def n(pk: str, attribute: str = "n") -> int:
            return int(self.item(pk).get(attribute, {}).get("N", 0))

        return {
            "status": v.status(now) if v else None,
            "attempts": v.attempts if v else None,
            "send_count": v.send_count if v else None,
            "sends": len(v.sends) if v else None,
            "counts": sorted((k.split("_")[0], int(x["N"])) for k, x in raw.items()
                             if k.startswith(("starts_", "checks_"))),
            "approved": "approved_at" in raw,
            "ip": n(f"rl#ip#{self.ip}#{window}"),
            "ipcheck": n(f"rl#ipcheck#{self.ip}#{window}"),
            "prefix": n(f"rl#prefix#{prefix_of(self.number)}#{window}"),
            "approvals": n(f"rl#prefix#{prefix_of(self.number)}#{window}", "approvals_sms"),
            "country": n(f"rl#country#US#{window}") + sum(  # sharded as the budget (shard 0: no suffix)
                n(f"rl#country#US#{window}#{s}") for s in range(1, config.limits.budget_shards)),
            "budget": sum(n(f"rl#budget#{window}#{s}") for s in range(config.limits.budget_shards)),
            "sms": len(self.codes()),
            # seconds until a resend is allowed (0: the number is not held)
            "held_for": max(0, math.ceil(v.sent_at_ms / 1000 + self.service.resend_interval - now))
            if v else None,
        }


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The shared counters (country, budget: other tests' sends too on dynalite) as deltas."""
    return {**after, **{k: after[k] - before[k] for k in ("country", "budget")}}


@pytest.fixture(params=["moto", "dynalite"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def harness(request, backend, configured, clock, outbox, monkeypatch) -> Callable[..., Harness]:
    import boto3

    def make(**env: str) -> Harness:
        table = "phone-verify-test"
        reader = boto3.client("dynamodb")
        if backend == "dynalite":
            from scripts.deploy.create_table import ensure_table

            endpoint = request.getfixturevalue("dynamodb_endpoint")
            reader = boto3.client("dynamodb", endpoint_url=endpoint)
            ensure_table(reader, FAULTS_TABLE)
            table = FAULTS_TABLE
            env = {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "OTP_TABLE_NAME": table, **RELAXED, **env}
        clock.now = (int(clock.now) // 30) * 30 + 15  # mid TOTP step
        client = configured(**env)
        seed = next(_seeds)
        ip = f"10.{seed // 250 % 250}.{seed % 250}.9"
        configured.from_ip(ip)
        service = wiring.get_service()
        faults = Faults()
        faults.attach(service._store._client)
        faults.attach(wiring._kms_client())
        number = unique_number(seed + 4000 * (backend == "dynalite"))
        return Harness(client, service, faults, clock, reader, table, number, ip)

    return make


# -- the scenarios: a set-up, then the request under test ----------------------------------


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _started(h: Harness) -> dict:
    status, body = h.start()
    assert status == 201, body
    return body


def _totp_factor(h: Harness) -> dict:
    import pyotp

    status, factor = h.post("/v1/totp/factors", {"identity": _identity(h)})
    assert status == 201, factor
    code = pyotp.TOTP(factor["secret"]).at(h.clock.now)
    status, body = h.post(f"/v1/totp/factors/{factor['id']}/verify", {"code": code})
    assert status == 200, body
    h.clock.advance(30)
    return factor


def _identity(h: Harness) -> str:
    return "user-" + h.number[1:]


def _totp_state(h: Harness, factor: dict) -> dict[str, Any]:
    """The factor's last accepted step (relative to now), its wrong codes and its sources'."""
    # A 34-character Factor SID names its identity's item through its lookup (sid_links.py).
    item = h.item("t#" + h.item("sid#" + factor["id"])["k"]["S"])
    f = next(v["M"] for k, v in item.items() if k.startswith("f_"))
    sources = sorted(int(v["M"]["n"]["N"]) for k, v in item.items() if k.startswith("s_") and "M" in v)
    return {"last_step": int(f["last_step"]["N"]) - int(h.clock.now) // 30,
            "wrong_codes": int(f.get("fails", {}).get("N", 0)), "sources": sources}


def _answer(status: int, body: dict) -> dict[str, Any]:
    if status >= 400:
        return {"http": status, "error": body["error"]["code"]}
    keep = ("status", "send_count", "valid", "attempts_remaining")
    return {"http": status, **{k: body[k] for k in keep if k in body},
            "receipt": bool(body.get("receipt")) if "receipt" in body else None}


def run(h: Harness, scenario: str, arm: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Set up ``scenario``, arm the fault, make the request; its answer, the state it leaves
    and what the user can do next."""
    import pyotp

    factor = None
    if scenario.startswith("totp"):
        factor = _totp_factor(h)
    elif scenario != "start":
        _started(h)
        if scenario == "resend":
            h.clock.advance(h.service.resend_interval)
    before = h.state()
    h.faults.clear()
    arm()
    if scenario in ("start", "resend"):
        answer = h.start()
    elif scenario == "wrong_check":
        answer = h.check(wrong(h.codes()[-1]))
    elif scenario == "right_check":
        answer = h.check(h.codes()[-1])
    elif scenario == "cancel":
        answer = h.cancel(h.service._store.get(h.service._hasher.number_key(h.number)).id)
    else:
        assert factor is not None
        code = pyotp.TOTP(factor["secret"]).at(h.clock.now)
        answer = h.post("/v1/totp/challenges",
                        {"code": code if scenario == "totp" else wrong(code), "identity": _identity(h)})
    outcome: dict[str, Any] = {"answer": _answer(*answer), "state": _diff(before, h.state()),
                               "calls": sorted(set(h.faults.seen))}
    h.faults.armed.clear()
    if factor is not None:
        outcome["totp"] = _totp_state(h, factor)
        code = pyotp.TOTP(factor["secret"]).at(h.clock.now)
        again = h.post("/v1/totp/challenges", {"code": code, "identity": _identity(h)})
        outcome["same_code_again"] = _answer(*again)
    else:
        # What the user does next: the last code they received, then a new start at once.
        codes = h.codes()
        outcome["their_code"] = _answer(*h.check(codes[-1])) if codes else None
        outcome["start_again"] = _answer(*h.start())
    return outcome


SCENARIOS = ("start", "resend", "wrong_check", "right_check", "cancel", "totp", "totp_wrong")

# Every call each scenario's request makes (checked against the fault-free run below; on
# dynalite a failed condition adds the store's read, "get").
# "attempt" and "attempt_count": the v2 Attempts' writes (on by default), in the send's and the
# approval's own waves.
CALLS = {
    "start": ("ip", "sid", "create", "prefix", "country", "budget", "attempt", "attempt_count"),
    "resend": ("ip", "sid", "create", "resend", "prefix", "country", "budget", "attempt", "attempt_count"),
    "wrong_check": ("ipcheck", "check"),
    "right_check": ("ipcheck", "check", "mark_approved", "approvals_prefix", "attempt", "attempt_count",
                    "kms_public_key", "kms_sign"),
    "cancel": ("get_sid", "cancel"),  # by its 34-character SID: the lookup, then the write
    "totp": ("totp_load", "kms_decrypt", "totp_accept", "kms_public_key", "kms_sign"),
    "totp_wrong": ("totp_load", "kms_decrypt", "totp_failure"),
}
_clean: dict[tuple[str, str], dict[str, Any]] = {}


def clean(h: Harness, backend: str, scenario: str) -> dict[str, Any]:
    if (backend, scenario) not in _clean:
        _clean[(backend, scenario)] = run(h, scenario)
    return _clean[(backend, scenario)]


def test_the_fault_free_runs_make_the_calls_the_table_names(harness, backend):
    for scenario in SCENARIOS:
        outcome = clean(harness(), backend, scenario)
        calls = set(outcome["calls"]) - {"get"}
        assert calls == set(CALLS[scenario]), (scenario, outcome["calls"])


TRANSIENT = [(scenario, call, kind) for scenario, calls in CALLS.items() for call in calls
             for kind in ("lost", "reset", "throttle")]


@pytest.mark.parametrize(("scenario", "call", "kind"), TRANSIENT, ids=["-".join(t) for t in TRANSIENT])
def test_a_fault_the_retry_absorbs_leaves_the_answer_and_the_state_of_no_fault(
        harness, backend, scenario, call, kind):
    if backend == "dynalite" and (kind != "lost" or call.startswith("kms")):
        pytest.skip("dynalite: the lost answers at DynamoDB calls (the read-back path); moto: every row")
    expected = clean(harness(), backend, scenario)
    h = harness()
    outcome = run(h, scenario, lambda: h.faults.arm(call, kind))
    assert (call, kind) in h.faults.hit, h.faults.seen  # the fault did happen
    outcome["calls"] = expected["calls"]  # a lost answer on dynalite adds a read: not a difference
    assert outcome == expected


# -- a call that keeps failing (every botocore attempt answers 500) -------------------------

UNAVAILABLE = {"http": 503, "error": "service_unavailable"}
# (scenario, call): what the client gets and what must hold after, by outcome path.
FAILING = [
    # A start: nothing kept, nothing sent, and the number is not held (the retry is a new start).
    ("start", "ip", {"answer": UNAVAILABLE, "state.status": None, "state.sms": 0, "start_again.http": 201}),
    ("start", "create", {"answer": UNAVAILABLE, "state.status": None, "state.sms": 0,
                         "start_again.http": 201}),
    # The SID's lookup (chalicelib/factors/sid_links.py): without it the SID would name nothing, so the
    # new verification is removed, as when the IP's count fails; a resend keeps its SID (the
    # lookup it wrote is an orphan) and goes on.
    ("start", "sid", {"answer": UNAVAILABLE, "state.status": None, "state.sms": 0, "start_again.http": 201}),
    ("resend", "sid", {"answer.http": 200, "state.send_count": 2, "state.sms": 2, "their_code.http": 200}),
    *[("start", c, {"answer": UNAVAILABLE, "state.status": None, "state.counts": [("starts", 0)],
                    "state.sms": 0, "state.prefix": 0, "state.budget": 0, "start_again.http": 201})
      for c in ("prefix", "country", "budget")],
    # A resend: the previous code keeps working (their_code: the last code sent) and the next
    # resend is not held.
    *[("resend", c, {"answer": UNAVAILABLE, "state.send_count": 1, "state.sms": 1, "state.held_for": 0,
                     "their_code.http": 200})
      for c in ("ip", "resend", "prefix", "country", "budget")],
    # A check that could not be counted changes nothing.
    *[("wrong_check", c, {"answer": UNAVAILABLE, "state.attempts": 0}) for c in ("ipcheck", "check")],
    *[("right_check", c, {"answer": UNAVAILABLE, "state.status": "pending", "their_code.http": 200})
      for c in ("ipcheck", "check")],
    # After the approval: 200 whatever fails (the code is used); no receipt when KMS fails.
    ("right_check", "mark_approved", {"answer.http": 200, "answer.receipt": True, "state.approved": False}),
    ("right_check", "approvals_prefix", {"answer.http": 200, "answer.receipt": True, "state.approvals": 0}),
    ("right_check", "kms_public_key", {"answer.http": 200, "answer.receipt": False,
                                       "state.status": "approved"}),
    ("right_check", "kms_sign", {"answer.http": 200, "answer.receipt": False, "state.status": "approved"}),
    ("cancel", "cancel", {"answer": UNAVAILABLE, "state.status": "pending"}),
    ("cancel", "get_sid", {"answer": UNAVAILABLE, "state.status": "pending"}),
    # TOTP: the time step is not used up by a challenge that failed before its write.
    *[("totp", c, {"answer": UNAVAILABLE, "totp.last_step": -1, "same_code_again.http": 200})
      for c in ("totp_load", "kms_decrypt", "totp_accept")],
    ("totp", "kms_sign", {"answer.http": 200, "answer.receipt": False, "totp.last_step": 0}),
    ("totp_wrong", "totp_failure", {"answer": UNAVAILABLE, "totp.wrong_codes": 0}),
]


def pick(outcome: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        outcome = outcome[part] if outcome is not None else None
    return outcome


@pytest.mark.parametrize(("scenario", "call", "expected"), FAILING, ids=[f"{s}-{c}" for s, c, _ in FAILING])
def test_a_failing_call_answers_and_leaves(harness, backend, scenario, call, expected):
    if backend == "dynalite" and call.startswith("kms"):
        pytest.skip("KMS is moto's in both backends")
    h = harness()
    outcome = run(h, scenario, lambda: h.faults.arm(call, "fail", times=None))
    assert (call, "fail") in h.faults.hit, h.faults.seen
    assert {path: pick(outcome, path) for path in expected} == expected, outcome


# -- a refusal whose clean-up fails ---------------------------------------------------------


class FailingProvider:
    """A provider that answers 503 (a transient failure: nothing was delivered)."""

    name = "console"
    supports_voice = True

    def send_sms(self, to, message):
        from chalicelib.channels.providers import ProviderError

        raise ProviderError("console", permanent=False, detail="HTTP 503")


@pytest.mark.parametrize("undo_attempts_failing", [3, None], ids=["first-undo-fails", "every-undo-fails"])
@pytest.mark.parametrize("refusal", ["prefix_limit", "provider_503"])
def test_a_refusal_whose_undo_fails_answers_the_refusal(harness, backend, refusal, undo_attempts_failing):
    h = harness(**({"OTP_MAX_SENDS_PER_PREFIX_PER_HOUR": "1"} if refusal == "prefix_limit" else {}))
    if refusal == "prefix_limit":
        neighbour = h.number[:-1] + "1"  # same prefix: it uses the hour's one send
        assert h.post("/v1/verifications", {"to": neighbour})[0] == 201
        earned = {"http": 429, "error": "prefix_rate_limited"}
    else:
        h.service._providers.replace("console", FailingProvider())
        earned = {"http": 502, "error": "delivery_failed"}
    h.faults.arm("undo", "fail", times=undo_attempts_failing)  # 3: every botocore attempt of the first undo
    assert _answer(*h.start()) == earned  # the refusal, not 503
    assert ("undo", "fail") in h.faults.hit
    if undo_attempts_failing is not None:  # the second undo took: nothing holds the number
        assert h.state()["status"] is None
        h.faults.armed.clear()
        assert _answer(*h.start()) == earned  # refused again for the same reason, not resend_too_soon


# -- a provider that drops the connection after reading the request ------------------------


class ResettingProvider:
    """An HTTP server that reads each request whole, then resets the connection (RST, no
    answer): a provider that took the message and whose answer never came back."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import struct

        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(body) < length:
                body += conn.recv(65536)
            self.bodies.append(body)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


def test_a_provider_connection_reset_after_the_request_left_is_maybe_delivered(harness, backend):
    from urllib.parse import unquote_plus

    if backend == "dynalite":
        pytest.skip("a provider fault: one backend is enough")
    provider = ResettingProvider()
    h = harness(SMS_PROVIDER="twilio", TWILIO_ACCOUNT_SID="AC123", TWILIO_AUTH_TOKEN="t",
                TWILIO_FROM="+15005550006", TWILIO_BASE_URL=provider.url)
    assert _answer(*h.start()) == {"http": 502, "error": "delivery_failed"}
    assert len(provider.bodies) == 1
    delivered = re.search(r"\b[0-9]{6}\b", unquote_plus(provider.bodies[0].decode())).group(0)  # type: ignore[union-attr]
    # Kept, not undone: a retry at once is held by the interval (no second SMS), and the code
    # the provider took works.
    assert _answer(*h.start()) == {"http": 429, "error": "resend_too_soon"}
    assert len(provider.bodies) == 1
    assert _answer(*h.check(delivered))["http"] == 200
    provider.server.close()


# -- SSM: the last good value, and 503 when there is none -----------------------------------


@pytest.fixture
def ssm_faults(aws):
    """Faults on every SSM client made from now on (the service makes its own)."""
    import boto3

    faults = Faults()
    emitter = boto3._get_default_session()._session.get_component("event_emitter")
    emitter.register_first("before-send.ssm", faults._before_send)
    yield faults
    emitter.unregister("before-send.ssm", faults._before_send)


# With an identity key (OTP_IDENTITY_SECRET_PARAMETER) both names are read in one GetParameters
# call, under the same rules.
SECRETS = pytest.mark.parametrize("read", ["GetParameter", "GetParameters"])


def _name_secrets(read: str, name: str, monkeypatch) -> None:
    import boto3

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=name, Value="c" * 40, Type="SecureString")
    monkeypatch.delenv("OTP_SECRET")
    monkeypatch.setenv("OTP_SECRET_PARAMETER", name)
    if read == "GetParameters":
        ssm.put_parameter(Name=name + "-identity", Value="i" * 40, Type="SecureString")
        monkeypatch.setenv("OTP_IDENTITY_SECRET_PARAMETER", name + "-identity")


@SECRETS
def test_ssm_throttled_on_a_cold_container_is_503_with_retry_after_not_500(ssm_faults, monkeypatch, read):
    import chalicelib.settings.parameters as parameters

    name = "/phone-verify/test/cold-secret"
    monkeypatch.setattr(parameters, "_last_good", {})  # a cold container
    _name_secrets(read, name, monkeypatch)
    ssm_faults.arm(f"ssm_{read}", "throttle", times=None)
    now = [1000.0]
    monkeypatch.setattr(wiring.time, "monotonic", lambda: now[0])
    from chalice.test import Client

    import app as app_module
    from tests.conftest import reset_app

    reset_app()
    # The configuration as the container reads it (the test stage's file sets OTP_SECRET
    # inside a request); the service, and so the SSM read, is built on the first request.
    wiring.get_config()
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
        response = client.http.post("/v1/verifications", headers={"content-type": "application/json"},
                                    body=json.dumps({"to": "+14155550100"}))
        assert response.status_code == 503, response.body
        body = json.loads(response.body)
        assert body["error"]["code"] == "service_unavailable" and body["error"]["retry_after"] >= 1
        assert int(response.headers["Retry-After"]) >= 1
        for path in ("/request-auth", "/validate-auth"):  # the seed's routes: 503 too, not 500 or 403
            response = client.http.post(path, headers={"content-type": "application/x-www-form-urlencoded"},
                                        body="number=14155550100&auth_code=123456")
            assert response.status_code == 503 and int(response.headers["Retry-After"]) >= 1, path
        ssm_faults.armed.clear()  # SSM answers again: a request after the Retry-After is served
        now[0] += parameters.RETRY_AFTER_SECONDS
        response = client.http.post("/v1/verifications", headers={"content-type": "application/json"},
                                    body=json.dumps({"to": "+14155550100"}))
        assert response.status_code == 201, response.body
    assert (f"ssm_{read}", "throttle") in ssm_faults.hit
    assert "ssm_GetParameter" not in ssm_faults.seen or read == "GetParameter"  # one round trip


@SECRETS
def test_ssm_throttled_at_a_refresh_keeps_the_last_good_secret(configured, ssm_faults, monkeypatch, outbox, read):
    import chalicelib.settings.parameters as parameters

    name = "/phone-verify/test/warm-secret"
    monkeypatch.setattr(parameters, "_last_good", {})
    _name_secrets(read, name, monkeypatch)
    now = [1000.0]
    monkeypatch.setattr(wiring.time, "monotonic", lambda: now[0])
    client = configured(OTP_PARAMETERS_MAX_AGE_SECONDS="300")
    headers = {"content-type": "application/json"}
    response = client.http.post("/v1/verifications", headers=headers, body=json.dumps({"to": "+14155550101"}))
    assert response.status_code == 201
    code = re.search(r"\b[0-9]{6}\b", outbox[0]["body"]).group(0)  # type: ignore[union-attr]
    first = wiring.get_service()
    now[0] += 301  # the refresh is due, and SSM throttles every attempt
    ssm_faults.arm(f"ssm_{read}", "throttle", times=None)
    response = client.http.post("/v1/verifications/check", headers=headers,
                                body=json.dumps({"to": "+14155550101", "code": code}))
    # The same keys: the number's item is found (identity key) and the code's MAC matches (code key).
    assert response.status_code == 200, response.body
    assert wiring.get_service() is not first  # it did refresh, with the last good value
    assert (f"ssm_{read}", "throttle") in ssm_faults.hit


# -- a hung dependency answers within the request's time budget ----------------------------


@pytest.fixture
def black_hole():
    """A TCP endpoint that accepts connections and never answers: a hung dependency."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_a_hung_table_answers_503_within_the_budget(harness, backend, black_hole):
    from chalicelib import budget

    if backend == "dynalite":
        pytest.skip("the table is the black hole here")
    h = harness(AWS_ENDPOINT_URL_DYNAMODB=black_hole)
    started = time.monotonic()
    answer = _answer(*h.start())
    elapsed = time.monotonic() - started
    assert answer == {"http": 503, "error": "service_unavailable"}
    # Within the budget (plus the handler's own milliseconds), far from the function's 20 s.
    assert elapsed < budget.REQUEST_SECONDS + 0.5, elapsed


def test_a_hung_kms_after_an_approval_answers_200_without_a_receipt_within_the_budget(
        harness, backend, black_hole):
    from chalicelib import budget

    if backend == "dynalite":
        pytest.skip("KMS is moto's in both backends")
    h = harness(AWS_ENDPOINT_URL_KMS=black_hole)
    _started(h)
    started = time.monotonic()
    answer = _answer(*h.check(h.codes()[-1]))
    elapsed = time.monotonic() - started
    assert answer == {"http": 200, "status": "approved", "valid": True, "receipt": False}
    assert elapsed < budget.REQUEST_SECONDS + 0.5, elapsed
    assert h.state()["status"] == "approved"
