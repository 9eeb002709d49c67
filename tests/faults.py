"""Faults injected at botocore's ``before-send`` event, so botocore's own retries run as in
production (botocore/endpoint.py: an exception raised by a before-send handler is the
attempt's outcome, and the standard retry mode decides on it as on a network error).

Each call a client makes is named (``name_of``: "create", "check", "ip", "kms_sign", ...),
and a fault armed for a name hits the next ``times`` attempts of that call:

- ``lost``: the request is performed (moto's stubber in-process, or real HTTP to dynalite),
  then its answer is dropped with a ``ReadTimeoutError``: botocore retries a write that
  already landed, as after a read timeout on a real network;
- ``reset``: the same, the connection closed instead (``ConnectionClosedError``);
- ``throttle``: not performed, answered 400 with the service's throttling error;
- ``fail``: not performed, answered 500 (``InternalServerError``), every attempt: botocore
  gives up after its attempts and the caller sees the dependency failing.

(A hung dependency is a real one in tests/integration/test_faults.py: an endpoint that
accepts connections and never answers, so botocore's own timeouts run.)

The fakes answer what the services document:
- DynamoDB's throttling: 400 ``ProvisionedThroughputExceededException`` and
  ``ThrottlingException`` (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
  and the UpdateItem page's Errors); a 500 ``InternalServerError`` is an UpdateItem error too.
- KMS: ``ThrottlingException`` (https://docs.aws.amazon.com/kms/latest/developerguide/throttling.html)
  and 500 ``KMSInternalException`` (https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html).
- Both are JSON 1.0/1.1 protocols whose errors are ``{"__type": ..., "message": ...}`` with the
  code after the ``#`` (botocore/parsers.py, BaseJSONParser._do_error_parse).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

KINDS = ("lost", "reset", "throttle", "fail")

_ERRORS = {
    ("dynamodb", "throttle"):
        (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"),
    ("dynamodb", "fail"): (500, "com.amazonaws.dynamodb.v20120810#InternalServerError"),
    ("kms", "throttle"): (400, "ThrottlingException"),
    ("kms", "fail"): (500, "KMSInternalException"),
    ("ssm", "throttle"): (400, "ThrottlingException"),
    ("ssm", "fail"): (500, "InternalServerError"),
}


def name_of(target: str, body: dict[str, Any]) -> str:
    """A readable name for one call, from its X-Amz-Target and JSON body."""
    operation = target.rsplit(".", 1)[-1]
    if target.startswith("TrentService."):
        kms = {"Sign": "sign", "Decrypt": "decrypt", "GetPublicKey": "public_key"}
        return "kms_" + kms.get(operation, operation)
    if target.startswith("AmazonSSM."):
        return "ssm_" + operation
    pk = body.get("Key", {}).get("pk", {}).get("S", "")
    values = body.get("ExpressionAttributeValues", {})
    update = body.get("UpdateExpression", "")
    if pk.startswith("v2#service") and operation in ("UpdateItem", "DeleteItem"):
        if operation == "DeleteItem":
            return "service_delete"
        return "service_index" if pk == "v2#services" else "service_item"
    if operation == "GetItem":
        return {"v": "get", "t": "totp_load"}.get(pk[:1], "get_" + pk.split("#")[0])
    if pk.startswith("safe#"):  # the Safe List (chalicelib/verify/safe_list.py): add and remove
        return "safe_list"
    if pk.startswith("sid#"):  # a 34-character SID's lookup (chalicelib/factors/sid_links.py)
        return "sid"
    if pk.startswith("v#"):
        for value, name in ((":created", "create"), (":send", "resend"), (":guess", "check"),
                            (":minus_one", "undo"), (":provider", "record_provider")):
            if value in values:
                return name
        if "canceled_at" in update:
            return "cancel"
        if "approved_at" in update:
            return "mark_approved"
        if "guess_mac = code_mac" in update:
            return "approve"
    if pk.startswith("t#"):
        if ":step" in values:
            return "totp_accept"
        return "totp_failure" if ".fails = " in update and "#c0" in update else "totp_write"
    if pk.startswith("at#"):  # the v2 Attempts (chalicelib/verify/attempts.py): one item per send
        return "attempt"
    if pk.startswith("ac#"):  # their per-day Summary counters
        return "attempt_count"
    if pk.startswith("rl#"):
        kind = pk.split("#")[1]
        if ":minus_one" in values:
            return "release_" + kind
        if "#a" in body.get("ExpressionAttributeNames", {}):
            return "approvals_" + kind
        return kind
    return operation


@dataclass
class Fault:
    kind: str
    times: int | None  # None: every attempt


@dataclass
class Faults:
    """Faults for one or more botocore clients (register with ``attach``)."""

    armed: dict[str, Fault] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)  # every attempt's name, in order
    hit: list[tuple[str, str]] = field(default_factory=list)  # (name, kind) of each fault injected
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self, client: Any) -> Any:
        """Take over ``client``'s before-send: moto's stubber (a builtin before-send handler,
        moto/core/models.py) is unregistered and called from here, so that a faked answer
        is the only thing that happens (botocore calls every before-send handler and takes
        the first answer: moto would still perform the request)."""
        from moto.core.models import botocore_stubber

        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register_first("before-send", self._before_send)
        return client

    def arm(self, name: str, kind: str, times: int | None = 1) -> None:
        assert kind in KINDS, kind
        self.armed[name] = Fault(kind, times)

    def clear(self) -> None:
        with self._lock:
            self.armed.clear()
            self.seen.clear()
            self.hit.clear()

    def _before_send(self, request: Any, **_: Any) -> Any:
        from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else target
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            body = {}
        name = name_of(target, body)
        service = {"TrentService": "kms", "AmazonSSM": "ssm"}.get(target.split(".")[0], "dynamodb")
        with self._lock:
            self.seen.append(name)
            fault = self.armed.get(name)
            if fault is None or fault.times == 0:
                fault = None
            elif fault.times is not None:
                fault.times -= 1
            if fault is not None:
                self.hit.append((name, fault.kind))
        if fault is None:  # moto's answer, or None: botocore sends it (dynalite)
            return _moto(request)
        if fault.kind in ("lost", "reset"):
            perform(request)
            if fault.kind == "lost":
                raise ReadTimeoutError(endpoint_url=request.url)
            raise ConnectionClosedError(endpoint_url=request.url)
        status, code = _ERRORS[(service, fault.kind)]
        return _response(request, status, code)


def perform(request: Any) -> Any:
    """Make the request for real: moto's stubber when moto serves the URL, else over HTTP
    (dynalite). The answer is returned and, by the callers here, dropped."""
    response = _moto(request)
    if response is None:
        from botocore.httpsession import URLLib3Session

        response = URLLib3Session().send(request)
        _ = response.content  # read it all: the write is done when the answer arrives
    return response


def _moto(request: Any) -> Any:
    """moto's answer when moto is on and serves the URL; else None."""
    from moto.core.models import botocore_stubber

    return botocore_stubber(event_name="before-send", request=request)


def _response(request: Any, status: int, code: str) -> Any:
    from botocore.awsrequest import AWSResponse

    class Raw:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def stream(self, **_: Any) -> Any:
            yield self.data

    body = json.dumps({"__type": code, "message": "injected by tests/faults.py"}).encode()
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "fault"}
    return AWSResponse(request.url, status, headers, Raw(body))
