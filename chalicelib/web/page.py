"""The web page at `/`, its static files, the local SMS inbox and the local "Authenticator
app" tab.

Plain HTML, CSS and a small script, no build step and no third-party host: the Lambda serves
everything, so the page works offline on loopback. The strict Content-Security-Policy allows
scripts, styles and requests from this origin only (no inline script or style).
"""

from __future__ import annotations

import functools
from html import escape
from pathlib import Path
from typing import Iterable

from chalice import Response

from chalicelib import telemetry

_STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "app.js": "text/javascript; charset=utf-8",
    "inbox.js": "text/javascript; charset=utf-8",
    "totp.js": "text/javascript; charset=utf-8",
    "passkeys.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: under no-referrer Chromium posts the page's own forms (no
    # JavaScript) with `Origin: null`, which the form routes refuse as a foreign page
    # (fetch.spec.whatwg.org, "serializing a request origin"). same-origin names the page on
    # its own origin and sends neither Referer nor Origin to any other.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_INBOX_PANEL = (
    # The title names the channel chosen on the page (inbox.js lists that channel's messages).
    '<aside id="inbox-panel" aria-labelledby="inbox-title"><h2 id="inbox-title"><span id="inbox-name">'
    'Local SMS inbox</span> (<a href="/dev/inbox">open</a>)</h2>'
    '<ol id="inbox" aria-live="polite">{messages}</ol>'
    # What the backend would get (docs/events.md): `make run` polls the table's stream.
    '<h2 id="events-title">Events to your backend</h2>'
    '<ol id="events" aria-labelledby="events-title"></ol></aside>'
)


@functools.cache
def _country_options(default_region: str) -> str:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE  # no per-region metadata is loaded

    # The default region first; the page's script sorts the rest by name in the reader's
    # language (names are the browser's, Intl.DisplayNames), so without it they stay by code.
    regions = sorted(
        ((region, code)
         for code, regions in COUNTRY_CODE_TO_REGION_CODE.items()
         for region in regions
         if region != "001"),
        key=lambda rc: (rc[0] != default_region, rc[0]),
    )
    return "".join(
        f'<option value="{r}" data-cc="{c}"{" selected" if r == default_region else ""}>{r} +{c}</option>'
        for r, c in regions
    )


# With the "Authenticator app" tab (local stage only): the SMS steps become the first tab's
# panel; totp-panel.html (not served on its own) is the second. totp.js runs both tabs.
_TABLIST = (
    '<div role="tablist" aria-label="How to verify" class="tabs" hidden>'  # totp.js shows it
    '<button type="button" role="tab" id="tab-sms" aria-selected="true" aria-controls="sms-panel">'
    'Text message</button>'
    '<button type="button" role="tab" id="tab-totp" aria-selected="false" aria-controls="totp-panel" '
    'tabindex="-1">Authenticator app</button></div>'
)


# The channels besides SMS a deployment enables (docs/channels.md): a choice above the fields;
# with SMS alone the page stays as it was.
_CHANNEL_LABELS = {"sms": "SMS", "whatsapp": "WhatsApp", "email": "Email"}
_EMAIL_FIELD = (
    '<div id="email-fields" hidden><label for="email">Email address</label>'
    '<input id="email" name="email" type="email" autocomplete="email" inputmode="email" '
    'maxlength="254" placeholder="name@example.com" required aria-describedby="email-error number-help">'
    '<p id="email-error" class="field-error" role="alert"></p></div>'
)


def _channel_choice(channels: tuple[str, ...]) -> str:
    if channels == ("sms",):
        return ""
    # The label holds its text only (the radio beside it): a label never wraps (test_layout.py).
    options = "".join(
        f'<span class="choice"><input type="radio" id="channel-{c}" name="channel" value="{c}"'
        f'{" checked" if i == 0 else ""}><label for="channel-{c}">{_CHANNEL_LABELS[c]}</label></span>'
        for i, c in enumerate(channels)
    )
    # Hidden until app.js runs: without JavaScript the form posts to /request-auth, SMS only.
    return (f'<fieldset id="channel" class="channels" hidden><legend>Send the code by</legend>{options}'
            '</fieldset>')


@functools.cache
def index_html(
    code_length: int, default_region: str, inbox: bool, totp: bool = False,
    channels: tuple[str, ...] = ("sms",),
) -> str:
    template = (_STATIC / "index.html").read_text(encoding="utf-8")
    page = template.format(
        channels=",".join(channels),
        channel_choice=_channel_choice(channels),
        email_field=_EMAIL_FIELD if "email" in channels else "",
        code_length=code_length,
        country_options=_country_options(default_region),
        inbox="on" if inbox else "",
        inbox_panel=_INBOX_PANEL.format(messages="") if inbox else "",
        heading="Verify it is you" if totp else "Verify your phone number",
        tablist=_TABLIST if totp else "",
        sms_panel=' role="tabpanel" aria-labelledby="tab-sms"' if totp else "",
        totp_panel=_read("totp-panel.html") if totp else "",
    )
    scripts = (["inbox.js"] if inbox else []) + (["totp.js"] if totp else [])
    tags = "".join(f'<script src="/static/{name}" defer></script>\n' for name in scripts)
    return page.replace("</head>", tags + "</head>")


def index_page(
    code_length: int, default_region: str, inbox: bool, totp: bool = False,
    channels: tuple[str, ...] = ("sms",),
) -> Response:
    response = _html(index_html(code_length, default_region, inbox, totp, channels))
    if totp:  # the tab shows the QR code as an image from a blob: URL its script makes
        csp = str(response.headers["Content-Security-Policy"])
        response.headers["Content-Security-Policy"] = csp.replace("img-src 'self'", "img-src 'self' blob:")
    return response


def inbox_page(messages: Iterable[dict[str, str]]) -> Response:
    """/dev/inbox, its messages in the markup (a reader without JavaScript reloads it; inbox.js
    refreshes the same list every second), newest first, as inbox.js marks them."""
    seen: set[str] = set()
    items = []
    for m in messages:
        replaced = m["to"] in seen
        seen.add(m["to"])
        mark, note = (' class="replaced"', " · replaced by a newer code") if replaced else ("", "")
        items.append(f'<li{mark}><span class="to">{escape(m["to"])} ({escape(m["channel"])}){note}</span>'
                     f'<span class="body">{escape(m["body"])}</span></li>')
    panel = _INBOX_PANEL.format(messages="".join(items) or "<li>No messages yet.</li>")
    panel = panel.replace(">Local SMS inbox<", ">Local inbox<")  # every channel's messages
    page = (_STATIC / "inbox.html").read_text(encoding="utf-8").format(inbox_panel=panel)
    return _html(page)


def static_file(name: str) -> Response | None:
    content_type = STATIC_FILES.get(name)
    if content_type is None:
        return None
    telemetry.note(file=name)  # the terminal shows the file, not the route's /static/{name}
    body = _read(name)
    return Response(body=body, status_code=200, headers={
        "Content-Type": content_type, "Cache-Control": "public, max-age=300", **SECURITY_HEADERS})


@functools.cache
def _read(name: str) -> str:
    return (_STATIC / name).read_text(encoding="utf-8")


def _html(page: str) -> Response:
    return Response(body=page, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", **SECURITY_HEADERS})
