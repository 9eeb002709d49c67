"""`make run`'s terminal (OTP_LOG_FORMAT=human): one short line per request, no EMF
documents, each SMS in a box; JSON and EMF everywhere else."""

from __future__ import annotations

import io
import re
import logging

import pytest

from chalicelib import telemetry
from chalicelib.config import Config, ConfigError
from tests.conftest import last_code
from tests.unit.helpers import check, start


def test_the_local_stage_defaults_to_human_and_the_others_to_json():
    assert Config.from_env({"OTP_TABLE_NAME": "t-local"}).log_format == "human"
    deployed = {"OTP_TABLE_NAME": "t-dev", "OTP_STAGE": "dev", "OTP_SECRET_PARAMETER": "/phone-verify/dev/otp-secret",
                "SMS_PROVIDER": "sns"}
    assert Config.from_env(deployed).log_format == "json"
    assert Config.from_env({**deployed, "OTP_LOG_FORMAT": "HUMAN"}).log_format == "human"
    with pytest.raises(ConfigError, match="OTP_LOG_FORMAT"):
        Config.from_env({**deployed, "OTP_LOG_FORMAT": "xml"})


@pytest.fixture
def human(monkeypatch):
    """The root handler as configure_logging sets it up for "human", writing to a buffer;
    EMF documents go to another buffer."""
    out, emf = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [handler])
    real_end = telemetry.end_request
    monkeypatch.setattr(telemetry, "end_request",
                        lambda status, outcome, stream=None: real_end(status, outcome, emf))
    telemetry.configure_logging(log_format="human")
    yield out, emf
    telemetry.configure_logging(log_format="json")
    handler.removeFilter(telemetry._human_filter)


def test_one_short_line_per_request_and_no_emf(client, outbox, human):
    out, emf = human
    start(client)
    check(client, "000000" if last_code(outbox) != "000000" else "000001")
    start(client)  # too soon
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert re.search(r" 201 POST /v1/verifications ok [0-9a-f]{10}…", lines[0]) and "+1415*****71 console" in lines[0]
    assert " 403 POST /v1/verifications/check incorrect_code" in lines[1]
    assert " 429 POST /v1/verifications resend_too_soon" in lines[2]
    assert all(line.endswith(" ms") and not line.startswith("{") for line in lines)
    assert emf.getvalue() == ""  # no metric documents in the terminal
    assert last_code(outbox) not in out.getvalue()


def test_errors_still_show(human):
    out, _ = human
    telemetry.begin_request("POST /v1/verifications")
    logging.getLogger("verify").warning("limit hit kind=ip")  # summed up by the request's line
    logging.getLogger("verify").error("store unavailable: DynamoDB update_item failed")
    telemetry.end_request(503, "service_unavailable")
    text = out.getvalue()
    assert "limit hit" not in text and "error: store unavailable" in text and " 503 " in text


def test_json_stays_for_deployed_stages(client, outbox, monkeypatch):
    emf = io.StringIO()
    real_end = telemetry.end_request
    monkeypatch.setattr(telemetry, "end_request",
                        lambda status, outcome, stream=None: real_end(status, outcome, emf))
    telemetry.configure_logging(log_format="json")
    start(client)
    assert '"CloudWatchMetrics"' in emf.getvalue()


def test_an_sms_in_a_box():
    box = telemetry.sms_box("[console SMS to +14155552671]", "Your code is 123456.\n@example.com #123456")
    lines = box.splitlines()
    assert lines[0].startswith("┌─ [console SMS to +14155552671] ") and lines[0].endswith("┐")
    assert lines[1] == "│ Your code is 123456.            │"
    assert lines[-1].startswith("└") and lines[-1].endswith("┘")
    assert len({len(line) for line in lines}) == 1  # every line the same width


def test_the_inbox_polls_leave_no_line_and_static_files_show_their_name(aws, monkeypatch, outbox, human):
    """The page polls /dev/inbox.json every second: under `make run` those answers would push the
    SMS boxes out of the terminal. A static file's line names the file, not /static/{name}."""
    import app as app_module
    from chalice.test import Client

    from chalicelib import wiring
    from tests.conftest import ROOT, reset_app

    out, _ = human
    monkeypatch.setenv("OTP_STAGE", "local")
    reset_app()
    wiring.get_config()
    with Client(app_module.app, stage_name="test", project_dir=str(ROOT)) as c:
        for _ in range(3):
            assert c.http.get("/dev/inbox.json").status_code == 200
        assert c.http.get("/static/app.css").status_code == 200
        assert c.http.get("/static/nothing.css").status_code == 404
    reset_app()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert " 200 GET /static/app.css ok " in lines[0]
    assert " 404 GET /static/{name} not_found " in lines[1]  # an unknown name is not echoed


def test_a_failing_inbox_poll_still_shows(human):
    out, _ = human
    telemetry.begin_request("GET /dev/inbox.json")
    telemetry.end_request(500, "internal_error")
    assert " 500 GET /dev/inbox.json internal_error " in out.getvalue()
