"""What the /v2 catch-all (routes.py, ``/v2/{proxy+}``) answers: the operations of Twilio's
``twilio_verify_v2`` document (github.com/twilio/twilio-oai, spec/json/twilio_verify_v2.json)
that are no route here, each with its reason, in Twilio's error shape.

- A path and method of the document that this service does not offer: 404 ``20404``, the
  message saying why (Push is not offered; some Service resources are not built yet: issue 33).
- A path of the document with a method it does not give there: 405 ``20004`` ("The resource
  you accessed is valid, but the HTTP method you attempted to use is not supported for the
  resource", https://www.twilio.com/docs/api/errors/20004), with ``Allow``.
- Any other path: Twilio's plain 404 ``20404``.

docs/twilio-verify.md's table of the 57 operations lists the same; tests/unit/test_v2_unserved.py
checks that every operation of the document is a route here or in UNSERVED.
"""

from __future__ import annotations

from chalicelib.twilio_v2 import wire

_PUSH = ("Push factors are not offered by this service (Twilio's Push needs its Verify Push SDK in "
         "the app); TOTP factors are")
_LATER = "{} are not available on this service yet (issue {}: Twilio's {})"
_SERVICE_RESOURCES = "Service resources"
WEBHOOKS = _LATER.format("Webhooks", 33, _SERVICE_RESOURCES) + "; the Standard Webhooks events are"
SAFE_LIST = _LATER.format("The Safe List and its numbers", 33, _SERVICE_RESOURCES)
MESSAGING = (_LATER.format("Messaging Configurations", 33, _SERVICE_RESOURCES)
             + "; the deployment's provider chain applies")
TEMPLATES = _LATER.format("Templates", 33, _SERVICE_RESOURCES) + "; the deployment's message texts apply"

_S = "/v2/Services/{ServiceSid}"
# path -> (its methods in the document, why none is served here)
UNSERVED: dict[str, tuple[tuple[str, ...], str]] = {
    f"{_S}/AccessTokens": (("POST",), _PUSH),
    f"{_S}/AccessTokens/{{Sid}}": (("GET",), _PUSH),
    f"{_S}/Entities/{{Identity}}/Challenges/{{ChallengeSid}}/Notifications": (("POST",), _PUSH),
    "/v2/Forms/{FormType}": (("GET",), _PUSH),
    f"{_S}/Webhooks": (("GET", "POST"), WEBHOOKS),
    f"{_S}/Webhooks/{{Sid}}": (("GET", "POST", "DELETE"), WEBHOOKS),
    "/v2/SafeList/Numbers": (("POST",), SAFE_LIST),
    "/v2/SafeList/Numbers/{PhoneNumber}": (("GET", "DELETE"), SAFE_LIST),
    f"{_S}/MessagingConfigurations": (("GET", "POST"), MESSAGING),
    f"{_S}/MessagingConfigurations/{{Country}}": (("GET", "POST", "DELETE"), MESSAGING),
    "/v2/Templates": (("GET",), TEMPLATES),
}


def _matches(template: str, segments: list[str]) -> bool:
    parts = template.strip("/").split("/")
    return len(parts) == len(segments) and all(
        (part.startswith("{") and segment != "") or part == segment for part, segment in zip(parts, segments))


def method_not_allowed(allowed: tuple[str, ...] | list[str]) -> wire.TwilioError:
    """405 20004 (https://www.twilio.com/docs/api/errors/20004), naming the methods (Allow)."""
    methods = ", ".join(sorted(allowed))
    error = wire.TwilioError(20004, 405, f"Method not allowed: this resource takes {methods}")
    error.allow = methods
    return error


def answer(method: str, path: str) -> wire.TwilioError:
    """The catch-all's answer to ``method path`` (a path under /v2 that is no route)."""
    segments = path.rstrip("/").strip("/").split("/")
    for template, (methods, why) in UNSERVED.items():
        if _matches(template, segments):
            if method.upper() in methods:
                return wire.TwilioError(20404, 404, f"The requested resource was not found: {why}")
            return method_not_allowed(methods)
    return wire.not_found()
