"""The page's passkey routes over real HTTP on dynalite (per-item locking), the app served as
`make run` serves it: one receipt sent to twenty registrations at once registers one passkey
(the others 409 receipt_used), one assertion sent twenty times at once approves once (the others
404 challenge_not_found), and a discoverable challenge is spent once the same way."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.integration.conftest import unique_number
from tests.live import moto_kms
from tests.passkey_authenticator import SoftAuthenticator

pytestmark = pytest.mark.filterwarnings("ignore:IAMAuthorizer is not a supported")


@pytest.fixture(scope="module")
def server(serve):
    with moto_kms("test") as kms:  # the receipts' key
        yield serve(OTP_PASSKEY_MAX_PER_NUMBER_PER_HOUR="1000", OTP_PASSKEY_MAX_PER_IP_PER_HOUR="100000",
                    **kms)


def _page(server):
    """As the page at http://localhost:<port> calls it (a browser refuses an IP address as
    the relying party id: docs/passkeys.md)."""
    port = server.url.rsplit(":", 1)[1]
    origin = f"http://localhost:{port}"

    def post(path, body):
        return requests.post(server.url + path, json=body, timeout=30,
                             headers={"Host": f"localhost:{port}", "Origin": origin})

    return post, origin


def _receipt(server, post, to):
    assert post("/v1/verifications", {"to": to}).status_code == 201
    checked = post("/v1/verifications/check", {"to": to, "code": server.last_code(to)})
    assert checked.status_code == 200, checked.text
    return checked.json()["receipt"]


def test_one_receipt_sent_to_twenty_registrations_at_once_registers_one(server):
    post, _ = _page(server)
    receipt = _receipt(server, post, unique_number(901))
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post("/v1/passkeys/registrations", {"receipt": receipt}),
                                range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 19, [a.text for a in answers if a.status_code not in (201, 409)]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} == {"receipt_used"}


@pytest.mark.parametrize("discoverable", [False, True])
def test_one_assertion_sent_twenty_times_at_once_approves_once(server, discoverable):
    post, origin = _page(server)
    to = unique_number(902 + discoverable)
    created = post("/v1/passkeys/registrations", {"receipt": _receipt(server, post, to)})
    authenticator = SoftAuthenticator(origin=origin, rp_id="localhost", sign_count=1)
    verified = post("/v1/passkeys/registrations/verify",
                    {"credential": authenticator.create(created.json()["public_key"])})
    assert verified.status_code == 200, verified.text
    options = post("/v1/passkeys/challenges", {} if discoverable else {"to": to}).json()["public_key"]
    assertion = authenticator.get(options)
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: post("/v1/passkeys/challenges/approve", {"credential": assertion}),
                                range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [404] * 19, [a.text for a in answers if a.status_code not in (200, 404)]
    [approved] = [a.json() for a in answers if a.status_code == 200]
    assert approved["to"] == to and approved["receipt"].count(".") == 2
