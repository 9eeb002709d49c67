"""What every route module shares: the JSON answer, the one mapping of domain errors to HTTP,
the raw body, and the server door (IAM). app.py and the blueprints import it; it imports
neither (chalicelib/routes_*.py must not import app.py)."""

from __future__ import annotations

import functools
import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Callable

from chalice import Chalice, IAMAuthorizer, Response

from chalicelib import errors
from chalicelib.config import ConfigError

if TYPE_CHECKING:
    from chalice.app import Request

log = logging.getLogger("verify")

JSON_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store"}
MAX_BODY_BYTES = 4096  # a JSON request body, any route's
PASSKEY_BODY_BYTES = 16384  # a passkey ceremony's (decode_json_object)

# Two doors. The server door is AWS IAM (SigV4): API Gateway refuses an unsigned call before
# the function runs. It takes every route that manages state or reads personal data. The
# public door (app.py: no credentials, browsers and apps) takes start and check, unless
# OTP_PUBLIC_API=false puts them behind IAM too (a backend makes every call).
SERVER_DOOR = IAMAuthorizer()


class App(Chalice):
    """Chalice keeping the request being handled (``current_request``) per thread. Chalice keeps
    it on the app object, which is safe on Lambda (one request per container at a time) and not
    under `chalice local`, whose server gives each request a thread: a request could read
    another's. `make run` (scripts/local/serve.py) still serves one request at a time per process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._requests = threading.local()
        super().__init__(*args, **kwargs)

    @property
    def current_request(self) -> Request | None:
        return getattr(self._requests, "current", None)

    @current_request.setter
    def current_request(self, request: Request | None) -> None:
        self._requests.current = request


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body), status_code=status, headers={**JSON_HEADERS, **(headers or {})})


def error_response(error: errors.ServiceError) -> Response:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(error.retry_after)
    return json_response(error.body(), error.status, headers)


def domain_errors(view: Callable[..., Response]) -> Callable[..., Response]:
    """The one place domain errors become HTTP responses."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        from chalicelib.dynamodb import StoreUnavailable

        try:
            return view(*args, **kwargs)
        except errors.ServiceError as exc:
            return error_response(exc)
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)
            return error_response(errors.ServiceUnavailable(retry_after=1))
        except ConfigError as exc:
            log.error("configuration error: %s", exc)
            return error_response(errors.ServiceError())

    return wrapper


def raw_body(request: Request) -> bytes:
    """The raw body. Chalice declares str | bytes but encodes a text body, so this is bytes."""
    raw = request.raw_body
    return raw.encode("utf-8") if isinstance(raw, str) else raw


def decode_json_object(raw: bytes | None, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """``limit``: MAX_BODY_BYTES, or a passkey ceremony's (PASSKEY_BODY_BYTES: an RS256 key's
    attestation object and the browser's other fields pass 4 KB)."""
    if raw is None or len(raw) == 0:
        raise errors.InvalidRequest("The request body must be a JSON object.")
    if len(raw) > limit:
        raise errors.InvalidRequest(f"The request body must be at most {limit} bytes.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise errors.InvalidRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise errors.InvalidRequest("The request body must be a JSON object.")
    return body
