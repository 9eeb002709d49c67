"""Serve the app locally the way `chalice local` does, optionally one process per request.

    python scripts/local/serve.py --stage local --port 8000 [--forking | --workers N]

`chalice local` serves requests on threads, but a Chalice app keeps the current request on
the shared app object, which is safe on Lambda (one request per container at a time) and
not under threads. ``--forking`` gives every connection its own process, the way Lambda gives
every concurrent request its own container, so concurrency tests measure the store's
atomicity and not the dev server's. ``--workers N`` forks N long-lived processes before
serving, each warmed (``scripts/local/workers.py``) and serving one connection at a time: what N
warm Lambda containers are, for the load test (bench/load.py).
"""

from __future__ import annotations

import argparse
import os
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class ForkingHTTPServer(socketserver.ForkingMixIn, HTTPServer):
    max_children = 256
    request_queue_size = 256  # the default 5 resets connections under a concurrent burst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--forking", action="store_true")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="N warmed long-lived processes, each serving one connection at a time")
    parser.add_argument("--events", action="store_true",
                        help="poll the table's stream (make run): POST to OTP_EVENTS_URL or show on the page")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set after the stage's variables (tests use it to vary one limit)")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from chalice.cli.factory import CLIFactory
    from chalice.local import ChaliceRequestHandler, LocalDevServer, ThreadedHTTPServer

    app_lock = threading.Lock()

    from scripts.local.gateway import Gateway

    class Handler(ChaliceRequestHandler):
        # One send per response: http.server writes the headers and then the body with a send
        # each, and the body's small second segment waited for the client's delayed ACK (about
        # 40 ms on Linux) under Nagle's algorithm, on every response (docs/benchmarks.md).
        wbufsize = -1  # buffered; handle_one_request flushes the response once it is written
        disable_nagle_algorithm = True

        # Routed as the deployed API (scripts/local/gateway.py): /v2/{proxy+} takes every
        # other path under /v2 (Twilio's 404), and a path that is no route gets the gateway's
        # fixed 404, not chalice local's 403 that repeats the request's Authorization header.
        def __init__(self, request: Any, address: Any, server: Any, app_object: Any, config: Any) -> None:
            self.local_gateway = Gateway(app_object, config)
            BaseHTTPRequestHandler.__init__(self, request, address, server)

        # chalice local leaves methods it does not know (TRACE, QUERY, ...) to http.server,
        # which answers 501 in HTML; hand every method to the app, which answers 405 in the
        # contract's shape (API Gateway also answers an unknown method with a client error).
        def __getattr__(self, name: str):
            if name.startswith("do_"):
                return self._generic_handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: object) -> None:
            # http.server's access line; the app writes its own line per request (human or
            # JSON, OTP_LOG_FORMAT), so the terminal shows one line per request, not two.
            if log_format == "json":
                super().log_message(format, *args)

        def _generic_handle(self) -> None:
            # Chalice keeps the current request on the app object: one request at a time per
            # process, as on Lambda. Threads still accept connections (a browser keeps several
            # open); with --forking every request has its own process and needs no lock.
            if args.forking or args.workers:
                return super()._generic_handle()
            with app_lock:
                return super()._generic_handle()

        # chalice's handler binds these to its own _generic_handle when its class is made, so
        # the override above was reached only by unknown methods: bind them to it.
        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    factory = CLIFactory(str(ROOT), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=args.stage)
    app = factory.load_chalice_app(config.environment_variables)
    for assignment in args.env:
        name, _, value = assignment.partition("=")
        os.environ[name] = value
    log_format = _configure_logging()
    if args.forking or args.workers:
        # Build the service once in the parent (no connection is opened yet), so each forked
        # request starts warm, like a warm Lambda container.
        from chalicelib import wiring

        wiring.get_service()
        from scripts.local import workers

        # What each child's first request would compute (no I/O): each forked request of the
        # integration tests' servers paid it, as each load client's first request did.
        workers.warm_before_fork()
    if args.events:
        from scripts.local.events import start

        start(os.environ["OTP_TABLE_NAME"], os.environ.get("AWS_ENDPOINT_URL_DYNAMODB"))
    class Threaded(ThreadedHTTPServer):  # make run's: chalice's, with the same backlog
        request_queue_size = ForkingHTTPServer.request_queue_size

    server_cls: type[HTTPServer] = ForkingHTTPServer if args.forking else Threaded
    if args.workers:
        from scripts.local import workers

        server_cls = workers.WorkerHTTPServer
        Handler.timeout = workers.IDLE_SECONDS  # an idle keep-alive connection frees its worker
    server = LocalDevServer(app, config, args.host, args.port, handler_cls=Handler, server_cls=server_cls)
    if args.workers:
        print(f"Serving on http://{args.host}:{args.port} with {args.workers} workers", flush=True)
        return workers.serve(server.server, args.workers)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def _configure_logging() -> str:
    """The stage's log format (OTP_LOG_FORMAT; human in the local stage) from the first
    request on, the page's included; an invalid configuration is reported by the app."""
    from chalicelib.config import Config, ConfigError
    from chalicelib.telemetry import configure_logging

    try:
        log_format = Config.from_env().log_format
    except ConfigError:
        return "json"
    configure_logging(log_format=log_format)
    return log_format


if __name__ == "__main__":
    sys.exit(main())
