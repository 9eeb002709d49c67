"""Chalice's local gateway (`chalice local`, scripts/local/serve.py, chalice.test.Client) routed as
the deployed API Gateway routes, where the two differ:

- a greedy route (``/v2/{proxy+}``) takes every path under its prefix that no other route
  takes, as API Gateway's greedy resource does (chalice's local matcher knows no greedy
  parameter: it would take one path segment);
- a path that no route takes gets this API's own gateway response for it
  (scripts/deploy/gateway_settings.py, MISSING_AUTHENTICATION_TOKEN: a fixed 404 in the contract's
  shape), where chalice's local gateway answers a 403 that repeats the request's
  Authorization header (chalice/local.py LocalGateway.handle_request).

Under /v2 neither case reaches the gateway's own answers, here as on API Gateway: every method
of a v2 route's path is a route (Twilio's 405 for the ones it does not take,
chalicelib/twilio_v2/routes.py) and every other path is ``/v2/{proxy+}``'s.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from chalice.local import LocalGateway, LocalGatewayException, MatchResult, RouteMatcher


class GreedyRouteMatcher(RouteMatcher):
    def __init__(self, route_urls: list[str]) -> None:
        self.greedy = sorted((url for url in route_urls if url.endswith("+}")), key=len, reverse=True)
        super().__init__([url for url in route_urls if not url.endswith("+}")])

    def match_route(self, url: str) -> MatchResult:
        try:
            return super().match_route(url)
        except ValueError:
            parsed = urlparse(url)
            path = parsed.path.rstrip("/")  # API Gateway drops a trailing slash, as chalice does
            for route in self.greedy:  # the longest prefix first
                prefix, _, name = route.rpartition("/")
                if path.startswith(prefix + "/"):
                    return MatchResult(route, {name[1:-2]: path[len(prefix) + 1:]},
                                       parse_qs(parsed.query, keep_blank_values=True))
            raise


class NoSuchResource(LocalGatewayException):
    """API Gateway's answer to a path that is no route (its gateway response, as deployed)."""

    CODE = 404


class Gateway(LocalGateway):
    def __init__(self, app_object: Any, config: Any) -> None:
        super().__init__(app_object, config)
        self.event_converter._route_matcher = GreedyRouteMatcher(list(app_object.routes))

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        try:
            self.event_converter._route_matcher.match_route(path)
        except ValueError:
            raise NoSuchResource(*no_such_resource()) from None
        return super().handle_request(method, path, headers, body)


def no_such_resource() -> tuple[dict[str, str], bytes]:
    """MISSING_AUTHENTICATION_TOKEN's gateway response: its status is NoSuchResource.CODE."""
    from scripts.deploy.gateway_settings import GATEWAY_RESPONSES, gateway_response_template

    status, code, message = GATEWAY_RESPONSES["MISSING_AUTHENTICATION_TOKEN"]
    assert status == str(NoSuchResource.CODE)
    return {"Content-Type": "application/json"}, gateway_response_template(code, message).encode()


def routed_as_deployed(client: Any) -> None:
    """A chalice.test.Client whose HTTP requests go through Gateway (tests)."""
    http = client.http
    http._local_gateway = Gateway(http._app, http._config)
