"""``velocitas serve``: the engine and its REST/WebSocket API, headless (no window)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from velocitas_desktop.cli.arguments import (
    CliError,
    add_min_free_arg,
    add_retention_args,
    open_journal,
    port,
    rest_address,
    retention_policy,
    stream_address,
)
from velocitas_desktop.cli.sessions import journal_line
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL, BINANCE_WS_URL

SWITCH_INTERVAL = 0.001  # seconds


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve", help="serve the engine over HTTP and WebSockets, without the window",
        description="Serve the engine's REST and WebSocket API (see docs/api.md). It binds "
                    "127.0.0.1 unless told otherwise; any other address requires an access "
                    "token, generated and printed once when --token is not given.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=8000, help="TCP port (default 8000)")
    serve.add_argument("--token", default=None, help="access token clients must present")
    serve.add_argument("--db", default=None, metavar="PATH",
                       help="journal file (SQLite); the last session is restored from it")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       type=browser_origin,
                       help="a browser origin allowed to call the API, e.g. "
                            "http://localhost:5173 (repeat; none by default)")
    add_retention_args(serve)
    add_min_free_arg(serve)
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       type=host_name,
                       help="a host name clients may use for this server besides its address "
                            "and the loopback names, e.g. trading.lan or the name a reverse "
                            "proxy forwards (repeat)")
    serve.add_argument("--data-folder", action="append", default=[], metavar="FOLDER",
                       type=folder,
                       help="a folder a csv start may read from when the server is reachable "
                            "from the network, besides the user's data folder and the samples "
                            "(repeat)")
    serve.add_argument("--binance-rest-url", default=None, metavar="URL", type=rest_address,
                       help=f"Binance REST base URL (default {BINANCE_REST_URL})")
    serve.add_argument("--binance-ws-url", default=None, metavar="URL", type=stream_address,
                       help=f"Binance WebSocket base URL (default {BINANCE_WS_URL})")
    serve.set_defaults(func=cmd_serve)


def browser_origin(text: str) -> str:
    """An argument type: ``scheme://host[:port]``, as a browser names a page's origin."""
    from velocitas_desktop.server.security import origin_of

    origin = origin_of(text)
    if origin is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an origin: give it as "
                                         "http://host[:port], like http://localhost:5173")
    return origin


def host_name(text: str) -> str:
    """An argument type: a bare host name or address, without scheme, path or spaces."""
    name = text.strip().lower()
    if not name or any(ch in name for ch in "/ @?#") or "://" in name:
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name: give the bare name, "
                                         "like trading.lan")
    return name


def folder(text: str) -> str:
    """An argument type: a folder that exists."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return str(path.resolve())


def browser_lines(url: str, bind: str, token: str | None) -> list[str]:
    """Where to open the browser view: the page, and with a token the link that carries it
    in the fragment (a browser never sends it, so it reaches no server or proxy log). A
    server on every address is opened here by 127.0.0.1 and elsewhere by this machine's
    name."""
    from velocitas_desktop.server.embedded import browser_link
    from velocitas_desktop.server.security import WILDCARDS

    wildcard = bind.strip() in WILDCARDS
    lines = [f"browser view: {browser_link(url)}"]
    if token:
        lines.append(f"browser view with the token: {browser_link(url, token)}")
    if wildcard:
        lines.append("  (from another machine: this machine's name or address in place of "
                     "127.0.0.1)")
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    from velocitas_desktop.engine.engine import Engine, EngineConfig
    from velocitas_desktop.server.runner import ServerError, ServerThread

    if args.token is not None and not args.token.strip():
        raise CliError("--token must not be empty")
    defaults = EngineConfig()
    if args.binance_rest_url:
        defaults.binance_rest_url = args.binance_rest_url
    if args.binance_ws_url:
        defaults.binance_ws_url = args.binance_ws_url
    if args.min_free_mb is not None:
        defaults.min_free_mb = args.min_free_mb
    policy = retention_policy(args)
    engine = Engine(journal=open_journal(args.db, policy), restore=True)
    # the engine's threads and the server's event loop share one interpreter lock; a short
    # switch interval lets the loop answer between the engine's batches instead of waiting
    # out the default 5 ms slice each time it wakes
    sys.setswitchinterval(SWITCH_INTERVAL)
    server = ServerThread(engine, args.host, args.port, args.token, args.cors_origin,
                          engine_defaults=defaults, log_level="warning",
                          allowed_hosts=args.allow_host, data_folders=args.data_folder)
    try:
        server.start()
    except ServerError as exc:
        engine.close()
        raise CliError(str(exc)) from None
    generated = args.token is None and server.token is not None
    print(f"Velocitas API on {server.url} (reference: {server.url}/docs)", flush=True)
    if generated:
        print(f"access token (shown once): {server.token}", flush=True)
    for line in browser_lines(server.url, args.host, server.token):
        print(line, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.is_set() and server.running:
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        server.stop()
        engine.close()
        print(journal_line(engine.journal.path, policy), file=sys.stderr, flush=True)
    return 0
