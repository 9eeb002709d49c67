"""The /v2 Passkeys routes (twilio_v2/passkeys.py) on the v2 blueprint (routes.py), behind the
same HTTP Basic check and error mapping (``answers``). Their bodies are JSON, as Twilio's
document gives them (the rest of Verify is form-encoded); twilio-python and twilio-node send
``application/json`` here."""

from __future__ import annotations

from typing import Any, Callable

from chalice import Blueprint, Response

from chalicelib.http import PASSKEY_BODY_BYTES, decode_json_object, raw_body
from chalicelib.twilio_v2 import wire

# Every type the other routes take, so that a request without credentials is 401 first (as on
# every /v2 route); a body that is not JSON is then refused in Twilio's shape.
_JSON = ["application/json", "application/x-www-form-urlencoded", "text/plain"]
_PASSKEYS = "/v2/Services/{sid}/Passkeys"


def passkey_routes(bp: Blueprint, answers: Callable[..., Any], base: Callable[[], str]) -> None:
    def body() -> dict[str, Any]:
        request = bp.current_request
        content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise wire.TwilioError(60200, 400, "Send the body as application/json (Twilio's document gives "
                                               "the Passkeys routes JSON bodies)")
        return decode_json_object(raw_body(request), PASSKEY_BODY_BYTES)

    @bp.route(_PASSKEYS + "/Factors", methods=["POST"], content_types=_JSON)
    @answers
    def create_passkey_factor(api: Any, sid: str) -> Response:
        return wire.json_answer(api.passkeys.create_factor(sid, body(), base()), 201)

    @bp.route(_PASSKEYS + "/VerifyFactor", methods=["POST"], content_types=_JSON)
    @answers
    def verify_passkey_factor(api: Any, sid: str) -> Response:
        return wire.json_answer(api.passkeys.verify_factor(sid, body(), base()))

    @bp.route(_PASSKEYS + "/Challenges", methods=["POST"], content_types=_JSON)
    @answers
    def create_passkey_challenge(api: Any, sid: str) -> Response:
        return wire.json_answer(api.passkeys.create_challenge(sid, body(), base()), 201)

    @bp.route(_PASSKEYS + "/ApproveChallenge", methods=["POST"], content_types=_JSON)
    @answers
    def approve_passkey_challenge(api: Any, sid: str) -> Response:
        return wire.json_answer(api.passkeys.approve_challenge(sid, body(), base()))
