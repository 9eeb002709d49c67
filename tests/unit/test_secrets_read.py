"""The server secrets' SSM read (chalicelib/settings/parameters.py) is one per container, shared: the
first requests of a cold container (many at once, and unauthenticated ones alike: checking a
credential needs the identity key) wait for the one read instead of each making its own; a
failed read is retried once per RETRY_AFTER_SECONDS, not once per request; a refresh after
OTP_PARAMETERS_MAX_AGE_SECONDS is one read. SSM is moto's (GetParameter/GetParameters as
documented: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html),
its throttling tests/faults.py's (400 ThrottlingException), and the reads are counted as calls
(before-call: one per GetParameters, whatever botocore's retries)."""

from __future__ import annotations

import threading
import time
from base64 import b64encode

import boto3
import pytest

from chalicelib import errors, wiring
from chalicelib.settings.parameters import RETRY_AFTER_SECONDS
from tests.integration.test_faults import ssm_faults  # noqa: F401  (a fixture)

NAME = "/phone-verify/test/shared-secret"
THREADS = 16


class Reads(list):
    now: list[float]


@pytest.fixture
def reads(aws, monkeypatch):
    """The stage's secrets in SSM, a cold container, and the SSM calls it makes (each held
    0.2 s in flight, so concurrent first requests overlap it)."""
    import chalicelib.settings.parameters as parameters

    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=NAME, Value="c" * 40, Type="SecureString")
    ssm.put_parameter(Name=NAME + "-identity", Value="i" * 40, Type="SecureString")
    monkeypatch.delenv("OTP_SECRET")
    monkeypatch.setenv("OTP_SECRET_PARAMETER", NAME)
    monkeypatch.setenv("OTP_IDENTITY_SECRET_PARAMETER", NAME + "-identity")
    monkeypatch.setenv("OTP_PARAMETERS_MAX_AGE_SECONDS", "300")
    monkeypatch.setattr(parameters, "_last_good", {})
    now = [1000.0]
    monkeypatch.setattr(wiring.time, "monotonic", lambda: now[0])
    calls = Reads()

    def count(model, **_):
        calls.append(model.name)
        time.sleep(0.2)

    emitter = boto3._get_default_session()._session.get_component("event_emitter")
    emitter.register("before-call.ssm", count)
    wiring.reset()
    wiring.get_config()
    calls.now = now
    yield calls
    emitter.unregister("before-call.ssm", count)
    wiring.reset()


def _at_once(target) -> list:
    """``target`` from THREADS threads released together; what each returned or raised."""
    barrier, answers = threading.Barrier(THREADS), [None] * THREADS

    def run(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = target()
        except Exception as exc:  # noqa: BLE001  (the answer under test)
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_first_requests_share_the_one_read(reads):
    services = _at_once(lambda: wiring.get_twilio()._service)  # the v2 door's first step
    assert reads == ["GetParameters"]  # one read for 16 first requests
    assert all(s is services[0] for s in services)
    reads.now[0] += 299
    assert wiring.get_service() is wiring.get_twilio()._service and reads == ["GetParameters"]
    reads.now[0] += 2  # past the max age: one refresh, for all of them
    refreshed = _at_once(wiring.get_service)
    assert reads == ["GetParameters"] * 2 and all(s is refreshed[0] for s in refreshed)


def test_a_failed_read_is_retried_once_per_bound_not_once_per_request(reads, ssm_faults):  # noqa: F811
    ssm_faults.arm("ssm_GetParameters", "throttle", times=None)
    answers = _at_once(wiring.get_service)
    assert reads == ["GetParameters"]
    assert all(isinstance(a, errors.ServiceUnavailable) and 1 <= a.retry_after <= RETRY_AFTER_SECONDS
               for a in answers), answers
    for _ in range(50):  # a burst within the bound: 503, no read
        with pytest.raises(errors.ServiceUnavailable):
            wiring.get_service()
    assert reads == ["GetParameters"]
    reads.now[0] += RETRY_AFTER_SECONDS  # the bound: one more read, still throttled
    _at_once(wiring.get_service)
    assert reads == ["GetParameters"] * 2
    ssm_faults.armed.clear()  # SSM answers again: the retry after the bound serves everyone
    reads.now[0] += RETRY_AFTER_SECONDS
    services = _at_once(wiring.get_service)
    assert reads == ["GetParameters"] * 3 and all(s is services[0] for s in services)


@pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")
def test_unauthenticated_requests_make_no_read_past_the_first(reads, ssm_faults):  # noqa: F811
    """An attacker's burst of /v2 requests with made-up credentials: the first needs the key
    (one read), the rest none; while SSM throttles they are 503 with one read per bound."""
    from chalice.test import Client

    import app as app_module
    from tests.conftest import ROOT

    forged = {"Authorization": "Basic " + b64encode(b"SK" + b"0" * 32 + b":wrong").decode()}
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as client:
        ssm_faults.arm("ssm_GetParameters", "throttle", times=None)
        statuses = {client.http.get("/v2/Services", headers=forged).status_code for _ in range(20)}
        assert statuses == {503} and reads == ["GetParameters"]
        ssm_faults.armed.clear()
        reads.now[0] += RETRY_AFTER_SECONDS
        statuses = {client.http.get("/v2/Services", headers=forged).status_code for _ in range(30)}
        assert statuses == {401} and reads == ["GetParameters"] * 2
