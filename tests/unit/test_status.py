"""GET and DELETE /v1/verifications/{id}."""

from __future__ import annotations

from tests.conftest import last_code
from tests.unit.helpers import NUMBER, check, delete, error_code, get, start


def test_status_of_a_pending_verification(client):
    _, started, _ = start(client)
    status, body, _ = get(client, f"/v1/verifications/{started['id']}")
    assert status == 200
    assert body == {
        "id": started["id"], "to": NUMBER, "channel": "sms", "status": "pending",
        "expires_at": started["expires_at"], "send_count": 1, "attempts_remaining": 5,
        "send_attempts": [{"channel": "sms", "provider": "console", "sent_at": "2027-01-15T08:00:00Z",
                           "status": "accepted", "error_code": None}],
    }


def test_status_follows_the_lifecycle(client, outbox, clock):
    _, started, _ = start(client)
    path = f"/v1/verifications/{started['id']}"
    check(client, last_code(outbox))
    assert get(client, path)[1]["status"] == "approved"

    _, second, _ = start(client)
    clock.advance(600)
    assert get(client, f"/v1/verifications/{second['id']}")[1]["status"] == "expired"


def test_status_max_attempts_reached(client, outbox):
    _, started, _ = start(client)
    wrong = f"{(int(last_code(outbox)) + 1) % 10**6:06d}"
    for _ in range(5):
        check(client, wrong)
    _, body, _ = get(client, f"/v1/verifications/{started['id']}")
    assert body["status"] == "max_attempts_reached" and body["attempts_remaining"] == 0


def test_unknown_id_is_404(client):
    status, body, _ = get(client, "/v1/verifications/VE" + "0" * 48)
    assert status == 404 and error_code(body) == "verification_not_found"
    status, body, _ = get(client, "/v1/verifications/nonsense")
    assert status == 404 and error_code(body) == "verification_not_found"


def test_cancel_a_pending_verification(client):
    _, started, _ = start(client)
    status, body, _ = delete(client, f"/v1/verifications/{started['id']}")
    assert status == 200 and body["status"] == "canceled"
    assert get(client, f"/v1/verifications/{started['id']}")[1]["status"] == "canceled"


def test_cancel_twice_is_409_not_pending(client):
    _, started, _ = start(client)
    delete(client, f"/v1/verifications/{started['id']}")
    status, body, _ = delete(client, f"/v1/verifications/{started['id']}")
    assert status == 409 and error_code(body) == "not_pending"


def test_cancel_an_approved_verification_is_409(client, outbox):
    _, started, _ = start(client)
    check(client, last_code(outbox))
    status, body, _ = delete(client, f"/v1/verifications/{started['id']}")
    assert status == 409 and error_code(body) == "not_pending"
    assert get(client, f"/v1/verifications/{started['id']}")[1]["status"] == "approved"


def test_cancel_unknown_is_404(client):
    status, body, _ = delete(client, "/v1/verifications/VE" + "1" * 48)
    assert status == 404 and error_code(body) == "verification_not_found"


def test_a_new_verification_after_cancel(client):
    _, first, _ = start(client)
    delete(client, f"/v1/verifications/{first['id']}")
    status, second, _ = start(client)
    assert status == 201 and second["id"] != first["id"]
