"""Twilio's wire format: form-encoded PascalCase requests, snake_case JSON answers, SIDs, dates,
and the error shape ``{"code", "message", "more_info", "status"}`` with Twilio's codes.

The reference is Twilio's OpenAPI document ``twilio_verify_v2`` (github.com/twilio/twilio-oai,
spec/json/twilio_verify_v2.json) and Twilio's error pages (https://www.twilio.com/docs/api/errors/<code>).
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl

from chalice import Response

from chalicelib import errors

MAX_FORM_BYTES = 8192
_JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


class TwilioError(Exception):
    """An answer in Twilio's error shape. ``code`` is an int: twilio-go decodes it into one."""

    def __init__(self, code: int, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status, self.message, self.retry_after = code, status, message, retry_after
        self.allow: str | None = None  # a 405's Allow header (RFC 9110 15.5.6)

    def response(self) -> Response:
        body = {"code": self.code, "message": self.message, "status": self.status,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}"}
        headers: dict[str, str | list[str]] = {**_JSON}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.allow is not None:
            headers["Allow"] = self.allow
        return Response(body=json.dumps(body), status_code=self.status, headers=headers)


def invalid(parameter: str, why: str = "") -> TwilioError:
    """60200 Invalid parameter (https://www.twilio.com/docs/api/errors/60200), naming it."""
    return TwilioError(60200, 400, f"Invalid parameter `{parameter}`{': ' + why if why else ''}")


def not_found(what: str = "The requested resource") -> TwilioError:
    """20404 (https://www.twilio.com/docs/api/errors/20404)."""
    return TwilioError(20404, 404, f"{what} was not found")


# 401 without WWW-Authenticate: a Basic challenge makes a browser prompt, then send the key it
# was given with every later request to the API, a cross-site form post included. The SDKs
# never wait for a challenge: they send Basic on the first request (twilio-python passes
# ``auth=(username, password)`` to requests, whose HTTPBasicAuth sets the header before
# sending: twilio/http/http_client.py TwilioHttpClient.request; twilio-node sets
# ``headers.Authorization = "Basic " + ...`` in lib/base/RequestClient.js request()).
UNAUTHENTICATED = (20003, 401, "Authenticate")  # https://www.twilio.com/docs/api/errors/20003
# 20403 Forbidden (https://www.twilio.com/docs/api/errors/20403): a browser's cross-site request.
CROSS_SITE = (20403, 403, "Forbidden: /v2 is for backends; cross-site browser requests are refused "
                          "(a request with Sec-Fetch-Site other than none or same-origin, or an Origin "
                          "other than the API's own)")
# ... and a credential without permission: an API key limited to other Services.
NOT_PERMITTED = (20403, 403, "Forbidden: this API key is limited to other Services")

# The domain's refusals in Twilio's codes, each with the HTTP status its page gives
# (https://www.twilio.com/docs/api/errors/<code>; docs/twilio-verify.md#errors has the table):
#   60202 Max check attempts reached                          429
#   60203 Max send attempts reached                           429
#   60212 Too many concurrent requests for phone number       429 ("many verifications in a
#         short period of time for the same phone number": a resend within the wait, or the
#         second of two concurrent starts)
#   60205 SMS is not supported by landline phone number       403
#   60223 Delivery channel disabled                           400
#   60410 Verification delivery attempt blocked (Fraud Guard: a prefix paused after pumping);
#         its page gives no status: 403, as 60605's, with Retry-After
#   60605 Verification delivery attempt blocked (Geo-Permissions)   403
#   20429 Too many requests (the Service's own rate limits, concurrency)   429
_CODES: dict[type[errors.ServiceError], tuple[int, int]] = {
    errors.MaxAttemptsReached: (60202, 429),
    errors.TooManyChecks: (60202, 429),
    errors.TooManySends: (60203, 429),
    errors.TooManyVerifications: (60203, 429),
    errors.ResendTooSoon: (60212, 429),
    # The pumping defences: a prefix's or a country's hourly sends (their limit and their
    # breaker's pause), as Fraud Guard's block of a prefix.
    errors.PrefixRateLimited: (60410, 403),
    errors.PrefixSuspended: (60410, 403),
    errors.CountryRateLimited: (60410, 403),
    errors.CountrySuspended: (60410, 403),
    errors.CountryNotAllowed: (60605, 403),
    errors.UnsupportedNumberType: (60205, 403),
    errors.UndeliverableNumber: (60205, 403),
    # After api.start's own check of the name (60200 `Channel`), a channel the domain refuses
    # is one the stage has not turned on or that no provider reaches for the number's region.
    errors.UnsupportedChannel: (60223, 400),
    errors.VerificationNotFound: (20404, 404),
    errors.FactorNotFound: (20404, 404),
    errors.FactorSuspended: (60310, 429),  # too many wrong codes: until the backend re-enables it
    errors.NotPending: (20404, 404),  # Twilio: an approved or canceled verification is gone
    errors.NotFound: (20404, 404),
    errors.ServiceUnavailable: (20503, 503),
    errors.DeliveryFailed: (20503, 503),  # the providers could not take it: try again
}
_PARAMETERS: dict[type[errors.ServiceError], str] = {
    errors.InvalidPhoneNumber: "To", errors.InvalidEmailAddress: "To",
    errors.InvalidCodeFormat: "Code",
    errors.TooManyFactors: "Identity", errors.FactorAlreadyVerified: "AuthPayload",
}


def from_domain(exc: errors.ServiceError) -> TwilioError:
    """The one mapping of the domain's errors to Twilio's codes (a subclass answers as its
    class: TotpUnavailable as ServiceUnavailable); a limit not named above is 20429 (the
    Service's own rate limits: per IP, the send budget), any other client error 60200,
    anything else a 500 in Twilio's shape."""
    kind = next((k for k in type(exc).__mro__ if k in _PARAMETERS or k in _CODES), None)
    if kind in _PARAMETERS:
        error = invalid(_PARAMETERS[kind], exc.message)
    elif kind in _CODES:
        code, status = _CODES[kind]
        error = TwilioError(code, status, exc.message)
    elif isinstance(exc, errors.LimitExceeded):
        error = TwilioError(20429, 429, exc.message)
    elif exc.status < 500:
        error = TwilioError(60200, 400, exc.message)
    else:
        error = TwilioError(20500, 500, errors.ServiceError.message)
    error.retry_after = exc.retry_after
    return error


def parse_form(raw: bytes, content_type: str) -> dict[str, str]:
    """The request's parameters: form-encoded, each given once (the SDKs send no repeats for
    the parameters this service takes)."""
    return parse_form_lists(raw, content_type, ())[0]


def parse_form_lists(raw: bytes, content_type: str,
                     lists: tuple[str, ...]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The form, and the values of each of ``lists``: the document's array parameters, which
    the SDKs send as the name repeated (``EventTypes=a&EventTypes=b``). Any other name given
    twice is refused."""
    if not raw:
        return {}, {}
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        raise TwilioError(60200, 400, "Send the parameters as application/x-www-form-urlencoded")
    if len(raw) > MAX_FORM_BYTES:
        raise TwilioError(60200, 400, f"The request body must be at most {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=64, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        raise TwilioError(60200, 400, "The request body is not a valid form") from None
    form: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name, value in pairs:
        if name in lists:
            repeated.setdefault(name, []).append(value)
            continue
        if name in form:
            raise invalid(name, "given more than once")
        form[name] = value
    return form, repeated


def parse_json_fields(raw: bytes) -> dict[str, str]:
    """A start's or check's parameters as a JSON object with the form's names (authentik's
    generic SMS provider and other platforms POST JSON): read as the form would give them, a
    string as is, true/false and a whole number as their text, an object (Tags,
    ChannelConfiguration) as its JSON. A name given twice, null, a list or a fraction is
    refused: no value means one thing to this parser and another to a proxy's."""
    if len(raw) > MAX_FORM_BYTES:
        raise TwilioError(60200, 400, f"The request body must be at most {MAX_FORM_BYTES} bytes")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for name, value in items:
            if name in seen:
                raise invalid(name, "given more than once")
            seen[name] = value
        return seen

    try:
        body = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise TwilioError(60200, 400, "The request body is not a valid JSON object") from None
    if not isinstance(body, dict) or len(body) > 64:
        raise TwilioError(60200, 400, "The request body must be a JSON object of at most 64 parameters")
    form: dict[str, str] = {}
    for name, value in body.items():
        if isinstance(value, bool):
            form[name] = "true" if value else "false"
        elif isinstance(value, str):
            form[name] = value
        elif isinstance(value, int):
            form[name] = str(value)
        elif isinstance(value, dict):
            form[name] = json.dumps(value, separators=(",", ":"))
        else:
            raise invalid(name, "must be a string, a boolean, a whole number or (Tags) an object")
    return form


def optional_int(form: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = form.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid(name, f"must be an integer from {low} to {high}")
    return int(raw)


def optional_bool(form: dict[str, str], name: str) -> bool | None:
    raw = form.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false"):
        raise invalid(name, "must be true or false")
    return raw.lower() == "true"


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def iso(epoch: float) -> str:
    """Twilio's dates: ``YYYY-MM-DDTHH:MM:SSZ`` exactly."""
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(body=json.dumps(body), status_code=status, headers=dict(_JSON))


def no_content() -> Response:
    """A delete's answer: 204 with no body, as Twilio's."""
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
