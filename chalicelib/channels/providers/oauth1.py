"""OAuth 1.0a request signing (RFC 5849), two-legged, HMAC-SHA1: what GatewayAPI's OAuth
option needs and nothing more.

Written here instead of taking requests-oauthlib because oauthlib alone is 150 KB of the 2 MB
Lambda package; tests/unit/test_providers.py checks every signature against oauthlib itself.
Only the query string is signed besides the oauth_* parameters: the bodies sent are JSON, which
RFC 5849 section 3.4.1.3.1 leaves out of the signature base string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from typing import Any, Callable
from urllib.parse import parse_qsl, quote, urlsplit

import requests


def _encode(value: str) -> str:
    """RFC 5849 section 3.6: percent-encode everything but the unreserved characters."""
    return quote(value, safe="~")


def _base_url(url: str) -> str:
    """Section 3.4.1.2: scheme and host lower case, default port dropped, no query."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme.lower()}://{host}{port}{parts.path or '/'}"


def signature(
    method: str, url: str, params: list[tuple[str, str]], consumer_secret: str, token_secret: str = ""
) -> str:
    """Section 3.4.2: HMAC-SHA1 over the signature base string, base64."""
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_encode(k), _encode(v)) for k, v in params))
    base = "&".join([method.upper(), _encode(_base_url(url)), _encode(normalized)])
    key = f"{_encode(consumer_secret)}&{_encode(token_secret)}"
    return base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()).decode()


class OAuth1(requests.auth.AuthBase):
    """Adds the ``Authorization: OAuth ...`` header for a consumer key and secret."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = secrets.token_hex,
    ) -> None:
        self._key = consumer_key
        self._secret = consumer_secret
        self._clock = clock
        self._nonce = nonce

    def __call__(self, request: Any) -> Any:
        oauth = [
            ("oauth_nonce", self._nonce()),
            ("oauth_timestamp", str(int(self._clock()))),
            ("oauth_version", "1.0"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_consumer_key", self._key),
        ]
        query = parse_qsl(urlsplit(request.url).query, keep_blank_values=True)
        signed = oauth + [
            ("oauth_signature", signature(request.method, request.url, oauth + query, self._secret))
        ]
        request.headers["Authorization"] = "OAuth " + ", ".join(f'{k}="{_encode(v)}"' for k, v in signed)
        return request
