"""Issue 30: the docs cannot drift. Every ``sh``, ``python`` and ``js`` snippet of README.md and
docs/*.md (tests/docs_snippets.py finds and classifies them) runs here, as a reader would paste
it, against the app served as `make run` serves it (the local stage, the console provider and
its inbox, a KMS with the receipt key, OTP_PUBLIC_URL the served URL). The placeholders are
docs/testing.md's ("The docs' snippets run"), filled here; a snippet that defines functions is
called by its driver below, which checks what it did. An sh command's sample answers (``# {json}``
lines under it) must match what it answered. The README's quick start was the first of them
(this file was test_readme_quickstart.py)."""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests

from tests.conftest import ROOT
from tests.docs_snippets import Snippet, commands, matches, route_of, samples, snippets, trailing_samples
from tests.integration.conftest import unique_number
from tests.live import moto_kms

RUNNABLE = [s for s in snippets() if s.kind == "run"]
SECRET = "docs-snippets-secret-0123456789-0123456789"
NONCE, PURPOSE = "docs-session-nonce-42", "login"
NODE_MODULES = ROOT / ".deps" / "node_modules"


@dataclass
class Served:
    url: str
    key: dict[str, str]
    service_sid: str

    def start(self, number: str, **extra: str) -> dict[str, Any]:
        answer = requests.post(f"{self.url}/v1/verifications", json={"to": number, **extra}, timeout=30)
        assert answer.status_code == 201, answer.text
        return answer.json()

    def code(self, number: str) -> str:
        """The newest code the console provider put in the local inbox for ``number``."""
        inbox = requests.get(f"{self.url}/dev/inbox.json", timeout=30).json()
        bodies = [m["body"] for m in inbox if m["to"] == number]
        assert bodies, f"no SMS to {number} in the inbox"
        return re.search(r"\b[0-9]{6}\b", bodies[0])[0]  # type: ignore[index]

    def receipt(self, number: str) -> str:
        """A receipt for ``number``, bound to NONCE and PURPOSE."""
        self.start(number, nonce=NONCE, purpose=PURPOSE)
        answer = requests.post(f"{self.url}/v1/verifications/check",
                               json={"to": number, "code": self.code(number)}, timeout=30)
        assert answer.status_code == 200 and answer.json()["receipt"], answer.text
        return answer.json()["receipt"]


@pytest.fixture(scope="module")
def served(serve, dynamodb_endpoint: str) -> Iterator[Served]:
    with moto_kms("local") as kms:
        # One process (the inbox lives in the server's memory, as under `make run`), a table of
        # its own, the issuer the served URL (as `make run` sets it), a secret the keys share.
        env = {"OTP_TABLE_NAME": "phone-verify-docs", "OTP_SECRET": SECRET}
        server = serve(stage="local", forking=False, public_url=True, **env, **kms)
        made = subprocess.run(
            [sys.executable, "scripts/keys/api_keys.py", "create", "--stage", "local", "--name", "docs"],
            cwd=ROOT, env={**os.environ, **env, "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint},
            capture_output=True, text=True, check=True)
        key = json.loads(made.stdout)
        created = requests.post(f"{server.url}/v2/Services", data={"FriendlyName": "Docs"}, timeout=30,
                                auth=(key["api_key_sid"], key["api_key_secret"]))
        assert created.status_code == 201, created.text
        yield Served(server.url, key, created.json()["sid"])


def number_of(snippet: Snippet) -> str:
    """A number of the snippet's own: none shares another's pending verification or limits."""
    return unique_number(300 + RUNNABLE.index(snippet))


def fill(snippet: Snippet, served: Served) -> str:
    """The snippet with docs/testing.md's placeholders replaced."""
    code = snippet.code
    for placeholder in ("https://<api-id>.execute-api.<region>.amazonaws.com/api", "http://127.0.0.1:8000",
                        "https://verify.example.com"):
        code = code.replace(placeholder, served.url)
    code = code.replace("<region>", "us-east-1").replace("+14155552671", number_of(snippet))
    for name, value in (("YOUR_API_KEY_SID", served.key["api_key_sid"]),
                        ("YOUR_API_KEY_SECRET", served.key["api_key_secret"]),
                        ("YOUR_ACCOUNT_SID", served.key["account_sid"]),
                        ("YOUR_SERVICE_SID", served.service_sid)):
        code = code.replace(name, value)
    if "/verifications/VE…" in code:
        code = code.replace("/verifications/VE…", "/verifications/" + served.start(number_of(snippet))["id"])
    left = re.findall(r"YOUR_[A-Z_]+|<api-id>|<region>", code)
    assert not left, f"{snippet.id}: placeholders docs/testing.md does not define: {left}"
    return code


# --- sh ---------------------------------------------------------------------------------------

MARKER = "@@answer-end@@"


def run_sh(snippet: Snippet, served: Served) -> None:
    """Each command runs in one bash (the variables a line sets are the next line's); each
    command's sample answers, when it has some, must include what it answered."""
    listed = commands(fill(snippet, served))
    script = "set -eu\n" + "".join(f"{command}\nprintf '\\n{MARKER}\\n'\n" for command, _ in listed)
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    answers = run.stdout.split(f"\n{MARKER}\n")
    checked = 0
    for (command, comments), answer in zip(listed, answers):
        shown = samples(comments)
        if shown:
            checked += 1
            got = json.loads(answer)
            assert any(matches(sample, got) for _, sample in shown), (command, shown, got)
        elif answer.strip().startswith("{"):
            assert "error" not in json.loads(answer), (command, answer)  # an error the page does not show
    assert checked, f"{snippet.id}: no command with a sample answer"


# --- python -----------------------------------------------------------------------------------

Calls = list[tuple[str, Any]]


def _signed(secret: str, body: bytes) -> dict[str, str]:
    from chalicelib.events import standard_webhooks  # the service's own signer: the docs' receivers agree with it

    return standard_webhooks.headers(secret, "msg_docs_1", int(time.time()), body)


WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"docs-snippets-webhook-key-32byte").decode()


def drive_check_code(ns: dict, served: Served, number: str, calls: Calls) -> None:
    verification_id = ns["send_code"](number)
    code = served.code(number)
    ns["check_code"](verification_id, f"{(int(code) + 1) % 10**6:06d}")
    ns["check_code"](verification_id, code)
    assert calls == [("tell_user", "Wrong code, 4 attempts left"), ("mark_phone_verified", number)]


def drive_accept_receipt(ns: dict, served: Served, number: str, calls: Calls) -> None:
    import jwt

    receipt, jwks = served.receipt(number), f"{served.url}/.well-known/jwks.json"
    claims = ns["accept_receipt"](receipt, jwks, served.url, served.url, NONCE, PURPOSE)
    assert claims["phone_number"] == number
    with pytest.raises(jwt.InvalidTokenError):
        ns["accept_receipt"](receipt, jwks, served.url, served.url, "another-session", PURPOSE)


def drive_accept_receipt_strict(ns: dict, served: Served, number: str, calls: Calls) -> None:
    """docs/receipts.md's strict check on a KMS-signed receipt (the served app signs with KMS);
    tests/unit/test_minute_keys.py runs the same snippet on minute keys and forged ones."""
    import jwt

    receipt, jwks = served.receipt(number), f"{served.url}/.well-known/jwks.json"
    (kms_jwk,) = requests.get(jwks, timeout=30).json()["keys"]
    claims = ns["accept_receipt_strict"](receipt, jwks, kms_jwk, served.url, served.url)
    assert claims["phone_number"] == number
    with pytest.raises(jwt.InvalidAudienceError):
        ns["accept_receipt_strict"](receipt, jwks, kms_jwk, served.url, "https://another-app.example")


def drive_verify(ns: dict, served: Served, number: str, calls: Calls) -> None:
    body = b'{"type": "verification.approved", "data": {}}'
    headers = _signed(WEBHOOK_SECRET, body)
    assert ns["verify"](WEBHOOK_SECRET, headers, body) is None
    with pytest.raises(ValueError):
        ns["verify"](WEBHOOK_SECRET, headers, body + b" ")


def drive_verified(ns: dict, served: Served, number: str, calls: Calls) -> None:
    body = json.dumps({"type": "sms", "to": number, "text": "Your code is 123456", "code": "123456"}).encode()
    headers = _signed(WEBHOOK_SECRET, body)
    assert ns["verified"](headers, body) == json.loads(body)
    assert ns["verified"](headers, body.replace(b"123456", b"654321")) is None


def drive_claims(ns: dict, served: Served, number: str, calls: Calls) -> None:
    assert ns["claims"]["phone_number"] == number


# A snippet that defines (or binds) the name is driven by its function.
PY_DRIVERS: dict[str, Callable[[dict, Served, str, Calls], None]] = {
    "check_code": drive_check_code, "accept_receipt": drive_accept_receipt,
    "accept_receipt_strict": drive_accept_receipt_strict, "verify": drive_verify,
    "verified": drive_verified, "claims": drive_claims,
}


def run_python(snippet: Snippet, served: Served, monkeypatch: pytest.MonkeyPatch) -> str:
    """exec'd as a module of its own (``__name__`` is not ``__main__``: a receiver's server does
    not start); the names docs/testing.md leaves to the reader's app record their calls."""
    number = number_of(snippet)
    code = fill(snippet, served)
    calls: Calls = []
    ns: dict[str, Any] = {"__name__": "docs_snippet",
                          "mark_phone_verified": lambda to: calls.append(("mark_phone_verified", to)),
                          "tell_user": lambda text: calls.append(("tell_user", text))}
    names = [node for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)]
    used = {n.id for n in names if isinstance(n.ctx, ast.Load)}
    used -= {n.id for n in names if isinstance(n.ctx, ast.Store)}
    if "receipt" in used:  # a name the snippet uses and never sets
        ns["receipt"] = served.receipt(number)
    for name, value in (("WEBHOOK_SECRET", WEBHOOK_SECRET), ("AWS_ACCESS_KEY_ID", "docs"),
                        ("AWS_SECRET_ACCESS_KEY", "docs"), ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, snippet.id, "exec"), ns)  # noqa: S102  (the docs' own snippet)
    driven = [name for name in PY_DRIVERS if name in ns and name not in ("mark_phone_verified", "tell_user")]
    defined = [n for n, v in ns.items() if callable(v) and getattr(v, "__module__", None) == "docs_snippet"
               and getattr(v, "__code__", None) is not None and v.__code__.co_filename == snippet.id]
    assert driven or not defined, f"{snippet.id} defines {defined}: give one of them a driver here"
    for name in driven:
        PY_DRIVERS[name](ns, served, number, calls)
    shown = trailing_samples(code)
    if shown:
        printed = json.loads(out.getvalue().strip().splitlines()[-1])
        assert any(matches(sample, printed) for sample in shown), (shown, printed)
    return out.getvalue()


# --- js ---------------------------------------------------------------------------------------

# The page's names the browser snippet leaves to its reader, in Node: fetch resolves the page's
# relative paths against the served URL; no OTPCredential (WebOTP's branch is the browser's).
BROWSER_PRELUDE = """
const realFetch = globalThis.fetch;
globalThis.fetch = (path, init) => realFetch(new URL(path, process.env.DOCS_URL), init);
globalThis.window = globalThis;
const phone = process.env.DOCS_NUMBER;
const codeInput = {value: ""};
const form = new EventTarget();
form.requestSubmit = () => form.dispatchEvent(new Event("submit", {cancelable: true}));
const seen = {countdown: [], shown: [], done: 0};
let settle = () => {};  // nothing waits before the first submit
// An answer shown, or 5 s (a snippet that never checks on submit fails on what it showed).
const settled = () => Promise.race([new Promise((resolve) => { settle = resolve; }),
                                    new Promise((resolve) => setTimeout(resolve, 5000))]);
function startCountdown(seconds) { seen.countdown.push(seconds); }
function show(text) { seen.shown.push(text); settle(); }
function done() { seen.done += 1; settle(); }
"""

# Before any submit nothing is checked; then the user types a wrong code, then the SMS's.
BROWSER_DRIVER = """
const beforeTyping = structuredClone(seen);
const inbox = await (await realFetch(new URL("/dev/inbox.json", process.env.DOCS_URL))).json();
const code = inbox.find((m) => m.to === phone).body.match(/\\b[0-9]{6}\\b/)[0];
codeInput.value = String((Number(code) + 1) % 1e6).padStart(6, "0");
let waiting = settled(); form.requestSubmit(); await waiting;
codeInput.value = code;
waiting = settled(); form.requestSubmit(); await waiting;
console.log(JSON.stringify({beforeTyping, ...seen}));
process.exit(0);  // the 5 s timers need not run out
"""

RECEIVER_DRIVER = """
const signed = JSON.parse(process.env.DOCS_SIGNED);
const body = Buffer.from(signed.body);
console.log(JSON.stringify({
  ok: module.exports.verified(signed.headers, body),
  tampered: module.exports.verified(signed.headers, Buffer.from(signed.body.replace("123456", "654321"))),
}));
process.exit(0);
"""


def run_js(snippet: Snippet, served: Served, tmp_path: Path) -> None:
    """In Node: a snippet with ``require`` as CommonJS (NODE_PATH finds .deps' twilio), the
    browser's as a module (top-level await)."""
    number = number_of(snippet)
    code = fill(snippet, served)
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES), "DOCS_URL": served.url, "DOCS_NUMBER": number,
           "WEBHOOK_SECRET": WEBHOOK_SECRET, "PORT": "0"}
    if "codeInput" in code:
        script, expect = tmp_path / "snippet.mjs", "browser"
        script.write_text(BROWSER_PRELUDE + code + BROWSER_DRIVER)
    elif "module.exports" in code:
        script, expect = tmp_path / "snippet.js", "receiver"
        body = json.dumps({"type": "sms", "to": number, "text": "Your code is 123456", "code": "123456"})
        env["DOCS_SIGNED"] = json.dumps({"headers": _signed(WEBHOOK_SECRET, body.encode()), "body": body})
        script.write_text(code + RECEIVER_DRIVER)
    else:
        script, expect = tmp_path / "snippet.js", "runs"
        script.write_text(code)
    run = subprocess.run(["node", str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    if expect == "browser":
        seen = json.loads(run.stdout)
        assert seen == {"beforeTyping": {"countdown": [30], "shown": [], "done": 0}, "countdown": [30],
                        "shown": ["Wrong code, 4 attempts left"], "done": 1}, seen
    elif expect == "receiver":
        body = json.loads(json.loads(env["DOCS_SIGNED"])["body"])
        assert json.loads(run.stdout) == {"ok": body, "tampered": None}


# --- the test ---------------------------------------------------------------------------------


def test_the_docs_have_snippets_of_each_runnable_language() -> None:
    languages = {s.language for s in RUNNABLE}
    assert languages == {"sh", "python", "js"} and len(RUNNABLE) >= 10, [s.id for s in RUNNABLE]
    assert "README.md" in {s.page for s in RUNNABLE}  # the quick start
    unmarked = [s.id for s in snippets() if s.kind == "unmarked"]
    assert not unmarked, f"neither run nor checked nor marked '(not run here)' (docs/testing.md): {unmarked}"


@pytest.mark.parametrize("snippet", RUNNABLE, ids=lambda s: s.id)
def test_the_snippet_runs_as_the_page_shows_it(snippet: Snippet, served: Served,
                                                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if snippet.language == "sh":
        run_sh(snippet, served)
    elif snippet.language == "python":
        run_python(snippet, served, monkeypatch)
    else:
        run_js(snippet, served, tmp_path)


BODIES = [s for s in snippets() if route_of(s)]


@pytest.mark.parametrize("snippet", BODIES, ids=lambda s: s.id)
def test_a_request_body_the_page_shows_is_accepted(snippet: Snippet, served: Served) -> None:
    """A JSON body under a route's heading (api.md's start) is one the route takes as it is."""
    body = json.loads(snippet.code.replace("+14155552671", unique_number(290 + BODIES.index(snippet))))
    answer = requests.post(served.url + route_of(snippet), json=body, timeout=30)  # type: ignore[operator]
    assert answer.status_code in (200, 201), answer.text


def test_the_comparison_sees_a_missing_field_and_a_wrong_value() -> None:
    sample = {"id": "VE…", "status": "approved", "valid": True}
    assert matches(sample, {"id": "VE12", "status": "approved", "valid": True})
    assert not matches(sample, {"id": "VE12", "status": "approved", "valid": True, "receipt": "x"})
    assert not matches(sample, {"id": "VE12", "status": "pending", "valid": True})
    assert not matches(sample, {"id": "XX12", "status": "approved", "valid": True})
    assert not matches({"resend_after": 30}, {"resend_after": 30.0})
    assert matches([{"sent_at": "…"}], [{"sent_at": "2027-01-15T08:00:05Z"}])
    assert not matches([{"sent_at": "…"}], [{"sent_at": "x"}, {"sent_at": "y"}])
