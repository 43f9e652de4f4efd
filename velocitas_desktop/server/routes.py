"""The REST routes: each validates its input with a schema and calls one engine method."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from velocitas_desktop import __version__
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.contract import StrategyStatus, TradingEngine
from velocitas_desktop.engine.errors import NotFoundError
from velocitas_desktop.server.hub import Hub, dumps
from velocitas_desktop.server.schemas import (
    MAX_ID,
    AvailableOut,
    EngineStatusOut,
    HealthOut,
    MetricsOut,
    ParamsIn,
    PnlPointOut,
    RegisterIn,
    RemovedOut,
    StrategyMetricsOut,
    StrategyOut,
    TradeOut,
)

Source = Literal["simulated", "csv", "binance"]
StrategyId = Path(min_length=1, max_length=100, description="e.g. BTC_SMA_Crossover")

router = APIRouter(prefix="/api")


def _engine(request: Request) -> TradingEngine:
    return request.app.state.engine


def _hub(request: Request) -> Hub:
    return request.app.state.hub


# --- metrics first: the most frequent reads, matched before the other routes --------

async def _snapshot(request: Request) -> dict[str, Any]:
    cache = _hub(request).metrics
    return cache.cached() or await run_in_threadpool(cache.snapshot)


@router.get("/metrics", response_model=MetricsOut, tags=["metrics"],
            summary="Global and per-strategy metrics (at most 0.5 s old while running)")
async def get_metrics(request: Request) -> Response:
    snapshot = await _snapshot(request)
    return Response(_hub(request).metrics.texts(snapshot)[0], media_type="application/json")


@router.get("/metrics/{strategy_id}", response_model=StrategyMetricsOut, tags=["metrics"])
async def get_strategy_metrics(request: Request, strategy_id: str = StrategyId) -> Response:
    snapshot = await _snapshot(request)
    metrics = snapshot["strategies"].get(strategy_id)
    if metrics is None:
        raise NotFoundError(f"no strategy with id {strategy_id!r} is registered")
    return Response(dumps(metrics), media_type="application/json")


# --- health and engine ----------------------------------------------------------------

@router.get("/health", response_model=HealthOut, tags=["engine"],
            summary="Liveness check (open even when a token is required)")
async def health() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/engine/status", response_model=EngineStatusOut, tags=["engine"])
def get_engine_status(request: Request) -> dict[str, Any]:
    return _engine(request).state()


@router.post("/engine/start", response_model=EngineStatusOut, tags=["engine"],
             summary="Start a session on a data source")
def start_engine(
    request: Request,
    data_source: Annotated[Source, Query(description="where prices come from")] = "simulated",
    coins: Annotated[str | None, Query(
        max_length=500, examples=["BTC,ETH"], description="comma-separated coins (default "
        "BTC,ETH; for csv, the coins of the files)")] = None,
    csv: Annotated[list[str] | None, Query(
        max_length=50, description="COIN=PATH of a bar file on the server's disk, repeated "
        "per coin (data_source=csv)")] = None,
    workers: int = Query(0, ge=0, le=64, description="worker processes; 0 = run strategies "
                         "in the engine's thread"),
    rate: float = Query(1000.0, gt=0, le=1e6, allow_inf_nan=False,
                        description="simulated: ticks per second, in total"),
    speed: float | None = Query(None, gt=0, le=1e6, allow_inf_nan=False,
                                description="csv: replay speed, 1 = real time; omit for "
                                            "as fast as possible"),
    fee: float | None = Query(None, ge=0, lt=1, allow_inf_nan=False,
                              description="fee fraction per fill (default 0.001 = 0.1%)"),
    slippage: float | None = Query(None, ge=0, lt=1, allow_inf_nan=False),
    seed: int | None = Query(None, ge=0, le=2**32 - 1, description="simulated: random seed"),
    max_ticks: int | None = Query(None, ge=1, le=MAX_ID, description="stop after N ticks"),
    duration: float | None = Query(None, gt=0, le=1e7, allow_inf_nan=False,
                                   description="stop after S seconds"),
    binance_rest_url: Annotated[str | None, Query(
        max_length=300, pattern=r"^https?://[^\s]+$",
        description="binance: the REST base (Binance, its testnet, or a test exchange)")] = None,
    binance_ws_url: Annotated[str | None, Query(
        max_length=300, pattern=r"^wss?://[^\s]+$",
        description="binance: the WebSocket base")] = None,
    quote_asset: Annotated[str | None, Query(
        pattern=r"^[A-Za-z0-9]{2,10}$", description="binance: coins are priced in this "
        "(BTC → BTCUSDT)")] = None,
) -> dict[str, Any]:
    engine = _engine(request)
    limit = request.app.state.max_workers
    if workers > limit:
        raise HTTPException(422, f"workers must be at most {limit} on this server")
    csv_files = _parse_csv(csv or [])
    if data_source == "csv" and not csv_files:
        raise HTTPException(422, "data_source=csv needs csv=COIN=PATH for each coin")
    if data_source != "csv" and csv_files:
        raise HTTPException(422, "csv files are only used with data_source=csv")
    defaults: EngineConfig = request.app.state.engine_defaults
    coin_list = _parse_coins(coins) if coins else (
        list(csv_files) if data_source == "csv" else list(defaults.coins))
    if data_source == "csv" and set(coin_list) != set(csv_files):
        raise HTTPException(422, "coins must match the coins given with csv=COIN=PATH")
    config = dataclasses.replace(
        defaults, source=data_source, coins=coin_list, csv_files=csv_files, workers=workers,
        rate=rate, speed=speed, seed=seed, max_ticks=max_ticks, duration=duration,
        fee=defaults.fee if fee is None else fee,
        slippage=defaults.slippage if slippage is None else slippage,
        binance_rest_url=binance_rest_url or defaults.binance_rest_url,
        binance_ws_url=binance_ws_url or defaults.binance_ws_url,
        quote_asset=(quote_asset or defaults.quote_asset).upper())
    engine.start(config)
    return engine.state()


def _parse_coins(text: str) -> list[str]:
    coins: list[str] = []
    for part in text.split(","):
        if part.strip():
            coin = check_coin(part)
            if coin not in coins:
                coins.append(coin)
    if not coins:
        raise HTTPException(422, "coins: give at least one coin, like BTC,ETH")
    return coins


def _parse_csv(items: list[str]) -> dict[str, str]:
    files: dict[str, str] = {}
    for item in items:
        coin, sep, path = item.partition("=")
        if not sep or not coin.strip() or not path.strip():
            raise HTTPException(422, f"csv {item!r}: give it as COIN=PATH, like BTC=/data/btc.csv")
        files[check_coin(coin)] = path.strip()
    return files


@router.post("/engine/stop", response_model=EngineStatusOut, tags=["engine"])
def stop_engine(request: Request) -> dict[str, Any]:
    engine = _engine(request)
    engine.stop()
    return engine.state()


# --- strategies -------------------------------------------------------------------------

@router.post("/strategies/register", response_model=StrategyOut, tags=["strategies"],
             summary="Add a strategy on a coin (it trades at once if the engine runs)")
def register_strategy(request: Request, body: RegisterIn) -> dict[str, Any]:
    engine = _engine(request)
    spec = engine.register(StrategySpec(body.name, body.coin, body.params, body.timeframe,
                                        body.strategy_id or "", body.allow_short))
    return engine.strategy(spec.id)


@router.get("/strategies", response_model=list[StrategyOut], tags=["strategies"])
def list_strategies(request: Request) -> list[dict[str, Any]]:
    return _engine(request).strategies()


@router.get("/strategies/available", response_model=list[AvailableOut], tags=["strategies"],
            summary="The strategy catalogue, each with its parameter schema")
def available_strategies(request: Request) -> list[dict[str, Any]]:
    return _engine(request).catalog.schemas()


@router.get("/strategies/{strategy_id}", response_model=StrategyOut, tags=["strategies"])
def get_strategy(request: Request, strategy_id: str = StrategyId) -> dict[str, Any]:
    return _engine(request).strategy(strategy_id)


@router.delete("/strategies/{strategy_id}", response_model=RemovedOut, tags=["strategies"])
def remove_strategy(request: Request, strategy_id: str = StrategyId) -> dict[str, Any]:
    _engine(request).unregister(strategy_id)
    return {"strategy_id": strategy_id, "status": StrategyStatus.REMOVED}


@router.put("/strategies/{strategy_id}/params", response_model=StrategyOut, tags=["strategies"],
            summary="New parameter values, merged over the current ones")
def update_params(request: Request, body: ParamsIn,
                  strategy_id: str = StrategyId) -> dict[str, Any]:
    engine = _engine(request)
    engine.update_params(strategy_id, body.params)
    return engine.strategy(strategy_id)


@router.post("/strategies/{strategy_id}/pause", response_model=StrategyOut, tags=["strategies"])
def pause_strategy(request: Request, strategy_id: str = StrategyId) -> dict[str, Any]:
    engine = _engine(request)
    engine.pause(strategy_id)
    return engine.strategy(strategy_id)


@router.post("/strategies/{strategy_id}/resume", response_model=StrategyOut,
             tags=["strategies"])
def resume_strategy(request: Request, strategy_id: str = StrategyId) -> dict[str, Any]:
    engine = _engine(request)
    engine.resume(strategy_id)
    return engine.strategy(strategy_id)


# --- metrics, trades, P&L ---------------------------------------------------------------

@router.get("/trades", response_model=list[TradeOut], tags=["trades"],
            summary="Fills of the current (or last) session, filtered and paged")
def get_trades(
    request: Request,
    strategy_id: str | None = Query(None, max_length=100),
    coin: str | None = Query(None, max_length=20),
    since: float | None = Query(None, allow_inf_nan=False, description="epoch seconds, from"),
    until: float | None = Query(None, allow_inf_nan=False, description="epoch seconds, to"),
    after_id: int | None = Query(None, ge=0, le=MAX_ID,
                                 description="only trades with a larger id (resume paging)"),
    limit: int = Query(100, ge=1, le=10_000),
    offset: int = Query(0, ge=0, le=10**9),
    order: Literal["asc", "desc"] = Query("asc", description="asc = oldest first"),
) -> list[dict[str, Any]]:
    return _engine(request).trades(strategy_id, coin, since, until, after_id, limit, offset,
                                   newest_first=order == "desc")


@router.get("/pnl-history", response_model=list[PnlPointOut], tags=["trades"],
            summary="Sampled P&L and position per strategy, oldest first")
def get_pnl_history(
    request: Request,
    strategy_id: str | None = Query(None, max_length=100),
    limit: int = Query(10_000, ge=1, le=100_000, description="the most recent N points"),
) -> list[dict[str, Any]]:
    return _engine(request).pnl_history(strategy_id, limit)
