"""The HTTP plumbing every HTTP provider shares: one requests.Session per container, short
timeouts, and one place that turns transport failures into transient ProviderErrors."""

from __future__ import annotations

import functools
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from chalicelib import budget
from chalicelib.channels.providers import ProviderError, SmsProvider

# (connect, read) seconds, at most: within a request, cut to what its budget has left
# (chalicelib/budget.py), so a second provider in a chain is tried only when there is time.
TIMEOUT = (3.05, 5)


@functools.cache
def shared_session() -> requests.Session:
    session = requests.Session()
    # No automatic retries: a retry on a POST can send a second SMS; failover is our retry.
    adapter = HTTPAdapter(max_retries=0, pool_connections=4, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "phone-verify/1"
    return session


class HttpProvider(SmsProvider):
    """Base of the HTTP providers: ``_post`` and ``_fail``."""

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        session = self.context.http() if self.context.http else shared_session()
        timeout = budget.provider_timeout(*TIMEOUT)
        if timeout is None:  # nothing sent: the failover (or the undo) takes it from here
            raise ProviderError(self.name, permanent=False, detail="no time left in the request's budget")
        try:
            return session.post(url, timeout=timeout, **kwargs)
        except requests.ConnectTimeout:  # nothing reached the provider
            raise ProviderError(self.name, permanent=False, detail="connect timeout") from None
        except requests.Timeout:  # the request was sent: the provider may have taken it
            raise ProviderError(
                self.name, permanent=False, detail="timeout", maybe_delivered=True
            ) from None
        except requests.RequestException as exc:
            # A connection dropped after the request left (reset, closed without an answer,
            # an answer cut short) is the read timeout's case: the provider may have taken it.
            raise ProviderError(self.name, permanent=False, detail=type(exc).__name__,
                                maybe_delivered=request_left(exc)) from None

    def _fail(self, response: requests.Response, code: object, permanent: bool) -> ProviderError:
        """Status first (429 and 5xx are transient whatever the body says), code second."""
        if response.status_code == 429 or response.status_code >= 500:
            permanent = False
        text = response.text[:200].replace("\n", " ")
        return ProviderError(
            self.name, permanent=permanent, detail=f"HTTP {response.status_code} code={code} {text}"
        )


def request_left(exc: requests.RequestException) -> bool:
    """Whether the request may have reached the provider. requests (HTTPAdapter.send) wraps
    what urllib3 raises: a connection it could not open (refused, DNS, TLS) comes as a
    MaxRetryError (with max_retries=0 urllib3 gives up at once on connection errors), while
    a connection dropped once the request was written comes as urllib3's ProtocolError
    ("Connection aborted.": reset, RemoteDisconnected); a body cut short is
    ChunkedEncodingError."""
    from urllib3.exceptions import ProtocolError

    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return True
    if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.exceptions.SSLError):
        cause = exc.args[0] if exc.args else None
        return isinstance(cause, (ProtocolError, ConnectionResetError))
    return False


def json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
