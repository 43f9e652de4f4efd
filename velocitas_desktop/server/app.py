"""The FastAPI application: one engine served over REST and WebSockets (see docs/api.md)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware

from velocitas_desktop import __version__
from velocitas_desktop.copilot.tester_jobs import RuleTestService
from velocitas_desktop.core.errors import ParameterError, UnknownStrategyError, VelocitasError
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.engine.errors import EngineError, NotFoundError
from velocitas_desktop.engine.request import OutsideDataFolders
from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.research.trend_jobs import TrendService
from velocitas_desktop.server import alerts_socket, pages, routes, sockets
from velocitas_desktop.server.alerts_socket import AlertFeed
from velocitas_desktop.server.copilot import CLIENT_HEADER
from velocitas_desktop.server.copilot import install as install_copilot
from velocitas_desktop.server.hub import Hub, dumps
from velocitas_desktop.server.optimization import MAX_UPLOAD, UPLOAD_PATH
from velocitas_desktop.server.optimization import install as install_optimization
from velocitas_desktop.server.schemas import ErrorOut
from velocitas_desktop.server.security import (
    MAX_WEBSOCKETS,
    OPEN_PATHS,
    OPEN_PREFIXES,
    SCRIPT_HEADER,
    Access,
    Forbidden,
    Guard,
)
from velocitas_desktop.server.trend import ANALYZE_PATH as TREND_PATH
from velocitas_desktop.server.trend import MAX_UPLOAD as TREND_MAX_UPLOAD
from velocitas_desktop.server.trend import UPLOAD_PATH as TREND_UPLOAD_PATH
from velocitas_desktop.server.trend import install as install_trend
from velocitas_desktop.server.validation import describe_validation
from velocitas_desktop.store.journal import JournalError

log = logging.getLogger(__name__)

# /docs and /redoc load their scripts, style sheet and icon from here, served by Velocitas out
# of the fastapi-offline package: FastAPI's own pages fetch them from a CDN, so on a machine
# without internet (or behind a strict proxy) the API reference was a blank page.
DOCS_ASSETS = "/docs-assets"

# status code of each error the engine raises for a caller's mistake
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (Forbidden, 403),             # not for a caller on the network: an exchange URL
    (OutsideDataFolders, 403),    # ... or a csv file outside the data folders
    (ParameterError, 422),        # bad parameter value, bad coin symbol
    (UnknownStrategyError, 404),  # no such strategy in the catalogue
    (NotFoundError, 404),         # no registered strategy with that id
    (EngineError, 409),           # already running, not running, duplicate id
    (FeedError, 422),             # unreadable CSV, unreachable exchange
    (JournalError, 503),          # the journal file cannot be written
    (VelocitasError, 400),
)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in (
        (400, "Bad request"), (401, "Missing or wrong access token"),
        (403, "Unknown host name, a page from another origin, or a file or exchange a caller "
              "on the network may not use"),
        (404, "No such strategy"), (409, "Not possible in the engine's current state"),
        (413, "Request body too large"),
        (415, "A body that is not declared as JSON (an upload needs X-Velocitas: 1)"),
        (422, "Invalid input (the message says what)"),
        (503, "The journal cannot be written"))}


class SafeJSONResponse(JSONResponse):
    """JSON where NaN and infinities (which JSON lacks) become null instead of a 500."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode()


def create_app(engine: TradingEngine, token: str | None = None, cors_origins: Sequence[str] = (),
               max_body: int = 1_000_000, *, engine_defaults: EngineConfig | None = None,
               max_workers: int | None = None,
               optimization: OptimizationService | None = None,
               trend: TrendService | None = None,
               copilot_tests: RuleTestService | None = None,
               access: Access | None = None,
               max_websockets: int = MAX_WEBSOCKETS,
               webview_folder: Path | None = None) -> FastAPI:
    """The app serving ``engine``. With ``token``, every call but /api/health, the API
    reference and the browser view's page must present it. ``engine_defaults`` fills what a
    start request leaves out (exchange URLs, fee...); ``max_workers`` caps the worker
    processes a request may ask. ``access`` says which host names and pages the server
    answers (default: a server on 127.0.0.1, plus ``cors_origins``). ``webview_folder`` is
    where the built browser view is (default: the package's webview/dist)."""
    hub = Hub(engine)
    alerts = AlertFeed(engine)
    access = access or Access.serving("127.0.0.1", cors_origins=cors_origins)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.attach(asyncio.get_running_loop())
        try:
            yield
        finally:
            hub.detach()
            alerts.detach()

    dependencies = [Depends(HTTPBearer(auto_error=False))] if token else []
    app = FastAPIOffline(title="Velocitas", version=__version__, lifespan=lifespan,
                         static_url=DOCS_ASSETS,
                         description="The Velocitas trading engine over REST and WebSockets. "
                                     "WebSockets: /ws/trades, /ws/metrics, /ws/alerts (see "
                                     "docs/api.md).",
                         default_response_class=SafeJSONResponse, responses=ERROR_RESPONSES,
                         dependencies=dependencies)
    app.state.engine = engine
    app.state.hub = hub
    app.state.alerts = alerts
    app.state.engine_defaults = engine_defaults or EngineConfig()
    app.state.access = access
    app.state.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
    app.include_router(routes.router)
    app.include_router(sockets.router)
    app.include_router(alerts_socket.router)
    _add_error_handlers(app)
    # the optimisation mode: jobs on bar files from the user's data folders
    opt_service = optimization or default_optimization_service(engine)
    install_optimization(app, opt_service)
    # the trend mode: analyses of the same files, and the live engine's report of a coin
    install_trend(app, trend or TrendService(opt_service, catalog=engine.catalog))
    # the copilot: rules, alerts and actions of the engine's copilot, and tests of rules on
    # the same files
    install_copilot(app, copilot_tests or RuleTestService(opt_service, engine.catalog))

    # the browser view at /, /optimize, /trend and /copilot, or a page saying how to build it
    pages.install(app, webview_folder)

    app.add_middleware(Guard, token=token, max_body=max_body,
                       open_paths=OPEN_PATHS | docs_asset_paths() | frozenset(pages.PAGE_PATHS),
                       open_prefixes=OPEN_PREFIXES, access=access,
                       upload_limits={UPLOAD_PATH: MAX_UPLOAD,
                                      TREND_UPLOAD_PATH: TREND_MAX_UPLOAD},
                       upload_aliases={TREND_PATH: TREND_UPLOAD_PATH},
                       max_websockets=max_websockets)
    if cors_origins:
        # outermost, so preflight requests (which carry no token) are answered here
        app.add_middleware(CORSMiddleware, allow_origins=list(cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type",
                                          SCRIPT_HEADER.decode(), CLIENT_HEADER])
    return app


def docs_asset_paths() -> frozenset[str]:
    """The URL of each file the API reference pages load: open without a token, like the
    pages themselves (they hold nothing private)."""
    folder = files("fastapi_offline") / "static"
    return frozenset(f"{DOCS_ASSETS}/{item.name}" for item in folder.iterdir() if item.is_file())


def default_optimization_service(engine: TradingEngine) -> OptimizationService:
    """Jobs may name files in the user's history folder, uploads, and the bundled samples."""
    from velocitas_desktop import paths

    return OptimizationService([paths.data_dir() / "history", paths.sample_data_dir()],
                               catalog=engine.catalog,
                               upload_dir=paths.data_dir() / "uploads")


def _add_error_handlers(app: FastAPI) -> None:
    for exc_class, status in ERROR_STATUS:
        app.add_exception_handler(exc_class, _reply_with(status))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)


def _reply_with(status: int) -> Any:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return SafeJSONResponse({"detail": str(exc) or type(exc).__name__}, status_code=status)

    return handler


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return SafeJSONResponse({"detail": describe_validation(exc.errors())}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path,
                  exc_info=exc)
    return SafeJSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"},
                            status_code=500)
