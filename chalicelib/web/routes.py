"""The web page, its static files and the local SMS inbox (`make run` only). A Chalice
blueprint that app.py registers (this module never imports app.py)."""

from __future__ import annotations

from chalice import Blueprint, Response

from typing import Any, Callable

from chalicelib import errors
from chalicelib.http import domain_errors, json_response


def _inbox_enabled(config: Any) -> bool:
    """Only `make run`: the local stage with the console provider and nothing else."""
    return config.stage == "local" and config.all_providers == ("console",) and all(
        name == "console" for name in config.channels.providers)


def _totp_tab_enabled(config: Any) -> bool:
    """The page's "Authenticator app" tab: the local stage only, where `chalice local` serves the
    TOTP routes without IAM (deployed, API Gateway refuses the page's unsigned calls)."""
    return config.stage == "local" and config.totp.key_id is not None


def web_routes(get_config: Callable[[], Any]) -> Blueprint:
    """``get_config``: the container's configuration (chalicelib/wiring.py), read per request."""
    bp = Blueprint(__name__)

    @bp.route("/", methods=["GET"])
    @domain_errors
    def index() -> Response:
        from chalicelib.web.page import index_page

        config = get_config()
        # The page offers the channels this deployment sends (docs/channels.md).
        channels = ("sms", *(c for c in ("whatsapp", "email") if config.channels.chain(c)))
        return index_page(config.code_length, config.default_region, _inbox_enabled(config),
                          _totp_tab_enabled(config),
                          channels)

    @bp.route("/static/{name}", methods=["GET"])
    @domain_errors
    def static(name: str) -> Response:
        from chalicelib.web.page import static_file

        response = static_file(name)
        if response is None:
            raise errors.NotFound()
        return response

    @bp.route("/dev/inbox", methods=["GET"])
    @domain_errors
    def dev_inbox() -> Response:
        if not _inbox_enabled(get_config()):
            raise errors.NotFound()
        from chalicelib.channels import OUTBOX
        from chalicelib.web.page import inbox_page

        return inbox_page(list(OUTBOX))

    @bp.route("/dev/inbox.json", methods=["GET"])
    @domain_errors
    def dev_inbox_json() -> Response:
        if not _inbox_enabled(get_config()):
            raise errors.NotFound()
        from chalicelib.channels import OUTBOX

        return json_response(list(OUTBOX))

    @bp.route("/dev/events.json", methods=["GET"])
    @domain_errors
    def dev_events_json() -> Response:
        """`make run`: the events the local table's stream implies (scripts/local/events.py)."""
        if not _inbox_enabled(get_config()):
            raise errors.NotFound()
        from chalicelib.events import LOCAL_EVENTS

        return json_response(list(LOCAL_EVENTS))

    return bp
