"""The form routes' answers to a browser (a navigation: ``Accept`` names ``text/html``): the page
without JavaScript posts its forms to /request-auth and /validate-auth, and gets the next step
as a page, not the seed's plain text. Same statuses as the plain-text answers; the page's
security headers (chalicelib/web/page.py); everything the request brought is escaped.

The texts follow the page's script (chalicelib/web/static/app.js, ``explain``) so a person reads the
same words with or without it."""

from __future__ import annotations

from html import escape
from typing import Any, Callable

from chalice import Response

from chalicelib import errors


def wants_html(accept: str) -> bool:
    """A browser navigating (a form post): it asks for text/html; fetch, curl and the seeds'
    front ends send ``*/*`` or nothing and keep the plain-text answers."""
    return "text/html" in accept.lower()


def mask(to: str) -> str:
    """As the page shows it (app.js ``mask``): +1415*****71."""
    return to[:5] + "*" * max(0, len(to) - 7) + to[-2:]


def _minutes(seconds: int) -> str:
    return f"{-(-seconds // 60)} minutes" if seconds >= 120 else f"{seconds} seconds"


def explain(error: errors.ServiceError) -> str:
    retry = error.retry_after or 600
    if isinstance(error, errors.IncorrectCode):
        left = int(error.extra.get("attempts_remaining") or 0)
        if left <= 0:
            return "That code is not right, and no attempts are left. Request a new code later."
        return f"That code is not right. {left} {'attempt' if left == 1 else 'attempts'} left."
    messages: dict[type[errors.ServiceError], str] = {
        errors.InvalidPhoneNumber: "That phone number does not look right. Check the country and the number.",
        errors.InvalidRequest: "That phone number does not look right. Check the country and the number.",
        errors.UnsupportedNumberType: "This number cannot receive text messages. Use a mobile number.",
        errors.CountryNotAllowed: "We cannot send codes to this country.",
        errors.VerificationNotFound: "This code has expired or was already used. Send a new code.",
        errors.MaxAttemptsReached: f"Too many wrong codes. You can request a new code in {_minutes(retry)}.",
        errors.ResendTooSoon: f"Please wait {error.retry_after} seconds before asking for another code.",
        errors.TooManySends: f"Too many codes were sent to this number. Try again in {_minutes(retry)}.",
        errors.TooManyVerifications: (f"Too many codes were sent to this number. "
                                      f"Try again in {_minutes(retry)}."),
        errors.DeliveryFailed: "We could not send the code. Please try again.",
        errors.UndeliverableNumber: "This number cannot receive our messages. Try another number.",
        errors.InvalidCodeFormat: "Enter the digits from the message.",
    }
    for kind, text in messages.items():
        if isinstance(error, kind):
            return text
    if error.status == 429 and error.retry_after:
        return f"Too many requests. Try again in {_minutes(error.retry_after)}."
    return "Something went wrong. Please try again."


_HEAD = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{title}</title>\n'
    '<link rel="stylesheet" href="/static/app.css">\n'
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n</head>\n'
    '<body>\n<div class="layout single">\n<main>\n<h1>{heading}</h1>\n'
)
_TAIL = "</main>\n</div>\n</body>\n</html>\n"


def _page(title: str, body: str, status: int, headers: dict[str, str] | None = None,
          heading: str = "Verify your phone number") -> Response:
    from chalicelib.web.page import SECURITY_HEADERS

    page = _HEAD.format(title=escape(title), heading=heading) + body + _TAIL
    return Response(body=page, status_code=status, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", **SECURITY_HEADERS,
        **(headers or {})})


def code_step(number: str, country: str | None, code_length: int, sent_to: str | None, error: str = "",
              status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The code form, carrying the number (and its country) the person typed, as the form
    routes read them; "Resend code" posts the same fields to /request-auth."""
    hidden = f'<input type="hidden" name="number" value="{escape(number)}">'
    if country:
        hidden += f'<input type="hidden" name="country" value="{escape(country)}">'
    invalid = ' aria-invalid="true"' if error else ""
    status_line = f"We sent a code to {escape(mask(sent_to))}." if sent_to else ""
    body = (
        '<form id="code-step" action="/validate-auth" method="post" novalidate>\n'
        f'<p id="sent-to" role="status">{status_line}</p>\n{hidden}\n'
        '<label for="code">Verification code</label>\n'
        f'<input id="code" name="auth_code" inputmode="numeric" autocomplete="one-time-code" autofocus '
        f'pattern="[0-9]{{{code_length}}}" maxlength="{code_length}" required{invalid} '
        'aria-describedby="code-error sent-to code-help">\n'
        f'<p id="code-error" class="field-error" role="alert">{escape(error)}</p>\n'
        f'<p id="code-help" class="help">Enter the {code_length} digits from the message.</p>\n'
        '<button type="submit" id="verify">Verify</button>\n'
        '<div class="row"><button type="submit" id="resend" class="secondary" formaction="/request-auth">'
        'Resend code</button><a id="change" class="link" href="/">Use another number</a></div>\n</form>\n'
    )
    return _page("Enter your code", body, status, headers)


def message(text: str, status: int, link: str = "Try again",
            headers: dict[str, str] | None = None) -> Response:
    """A step that cannot go on (a bad number, a limit, an expired code): what happened, and
    the way back to the page."""
    body = (f'<p id="form-error" class="field-error" role="alert">{escape(text)}</p>\n'
            f'<p><a class="link" href="/">{escape(link)}</a></p>\n')
    return _page("Verify your phone number", body, status, headers)


def verified(to: str) -> Response:
    body = ('<section id="done">\n'
            f'<p id="verified">{escape(mask(to))} is yours. You can close this page.</p>\n'
            '<p><a id="again" class="link" href="/">Verify another number</a></p>\n</section>\n')
    return _page("Phone number verified", body, 200, heading="Phone number verified")


# The errors after which the code form comes back (the same code, or the next one, still works).
_TRY_AGAIN = (errors.ResendTooSoon, errors.InvalidCodeFormat)
# The errors after which the way on is a new code.
_NEW_CODE = (errors.VerificationNotFound, errors.MaxAttemptsReached, errors.IncorrectCode)


class FormPages:
    """The answers to one form post: the number and country it carried, read as the form
    routes read them."""

    def __init__(self, fields: dict[str, Any], code_length: int) -> None:
        number, country = fields.get("number"), fields.get("country")
        self.number = number.strip() if isinstance(number, str) else ""
        self.country = country.strip() if isinstance(country, str) else None
        self.code_length = code_length  # the deployment's (OTP_CODE_LENGTH), handed in by the route

    @classmethod
    def for_request(cls, accept: str, fields: dict[str, Any],
                    code_length: Callable[[], int]) -> FormPages | None:
        return cls(fields, code_length()) if wants_html(accept) else None

    def sent(self, to: str) -> Response:
        return code_step(self.number, self.country, self.code_length, to)

    def verified(self, to: str) -> Response:
        return verified(to)

    def refused(self, error: errors.ServiceError, status: int,
                headers: dict[str, str] | None = None) -> Response:
        left = int(error.extra.get("attempts_remaining") or 0)
        if isinstance(error, _TRY_AGAIN) or (isinstance(error, errors.IncorrectCode) and left > 0):
            text = (f"Enter the {self.code_length} digits from the message."
                    if isinstance(error, errors.InvalidCodeFormat) else explain(error))
            return code_step(self.number, self.country, self.code_length, None, text, status, headers)
        link = "Send a new code" if isinstance(error, _NEW_CODE) else "Try again"
        return message(explain(error), status, link, headers)
