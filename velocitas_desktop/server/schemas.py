"""The pydantic schemas of the REST API: the documented contract of every request and reply."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from velocitas_desktop.core.strategy import STRATEGY_ID_PATTERN, StrategySpec
from velocitas_desktop.core.types import TICK, TIMEFRAMES
from velocitas_desktop.engine.config import MAX_WORKERS
from velocitas_desktop.engine.request import (
    SessionRequest,
    Vocabulary,
    parse_coins,
    parse_csv_files,
    strategy_spec,
)

Timeframe = Literal[tuple([TICK, *TIMEFRAMES])]  # type: ignore[valid-type]
ParamValue = bool | int | float | str
MAX_ID = 2**62  # SQLite integers are 64-bit; larger query values would overflow


class ErrorOut(BaseModel):
    """Every 4xx (and the rare 5xx) reply: one message that says what is wrong."""

    detail: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


class FeedOut(BaseModel):
    state: str
    message: str


class ClockOut(BaseModel):
    """Whose time the session's stamps are, and how fast that clock runs."""

    kind: Literal["simulated", "replay", "exchange"] | None = Field(
        description="simulated (the simulated market's own clock), replay (the csv files' "
                    "times) or exchange (Binance's trade times); null before any session")
    time: float | None = Field(description="the newest tick's time, epoch seconds")
    speed: float | None = Field(description="seconds of data time per second of wall time: "
                                            "1 = real time; null = as fast as the engine "
                                            "goes, ahead of the wall clock")


class EngineStatusOut(BaseModel):
    """Where the engine is: its status, the running configuration and the feed's state."""

    status: str = Field(description="stopped, starting, running, paused (no fills: the "
                                    "journal cannot be written), stopping, finished or error")
    message: str = Field(description="why it stopped, when it stopped on an error, or why "
                                     "trading is paused")
    source: str
    coins: list[str]
    workers: int
    rate: float | None = Field(description="simulated ticks/s; null = as fast as possible")
    speed: float | None = Field(description="csv replay speed; null = as fast as possible")
    session_id: int | None
    ticks_processed: int
    ticks_per_second: float | None
    strategies: int = Field(description="registered strategies")
    feed: FeedOut
    clock: ClockOut | None = None
    continued: bool | None = Field(None, description="the session went on from an earlier "
                                                     "start (true) or began new (false)")


# How the start query spells the session request's fields, for the messages.
QUERY_WORDS = Vocabulary({"source": "data_source", "csv_files": "csv", "ticks": "max_ticks"},
                         assign="=")


class StartQuery(BaseModel):
    """``POST /api/engine/start``'s query string: the seed's ``data_source`` and ``coins``,
    and the rest of a session's settings. Omitted fields take the server's defaults."""

    data_source: Literal["simulated", "csv", "binance"] = Field(
        "simulated", description="where prices come from")
    coins: str | None = Field(None, max_length=500, examples=["BTC,ETH"],
                              description="comma-separated coins (default BTC,ETH; for csv, "
                                          "the coins of the files)")
    csv: list[str] | None = Field(None, max_length=50,
                                  description="COIN=PATH of a bar file on the server's disk, "
                                              "repeated per coin (data_source=csv)")
    workers: int = Field(0, ge=0, le=MAX_WORKERS, description="worker processes; 0 = run "
                         "strategies in the engine's thread")
    rate: float = Field(1000.0, gt=0, le=1e6, allow_inf_nan=False,
                        description="simulated: ticks per second, in total")
    speed: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False,
                                description="csv: replay speed, 1 = real time; omit for as "
                                            "fast as possible")
    fee: float | None = Field(None, ge=0, lt=1, allow_inf_nan=False,
                              description="fee fraction per fill (default 0.001 = 0.1%)")
    slippage: float | None = Field(None, ge=0, lt=1, allow_inf_nan=False)
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="simulated: random seed")
    max_ticks: int | None = Field(None, ge=1, le=MAX_ID, description="stop after N ticks")
    duration: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False,
                                   description="stop after S seconds")
    binance_rest_url: str | None = Field(
        None, max_length=300, pattern=r"^https?://[^\s]+$",
        description="binance: the REST base (Binance, its testnet, or a test exchange)")
    binance_ws_url: str | None = Field(None, max_length=300, pattern=r"^wss?://[^\s]+$",
                                       description="binance: the WebSocket base")
    quote_asset: str | None = Field(None, pattern=r"^[A-Za-z0-9]{2,10}$",
                                    description="binance: coins are priced in this "
                                                "(BTC → BTCUSDT)")
    capital: float | None = Field(None, gt=0, le=1e15, allow_inf_nan=False,
                                  description="each strategy's starting capital in the quote "
                                              "currency (default 10000): a position is worth "
                                              "it unless the strategy gives a quantity")
    risk_free_rate: float | None = Field(None, gt=-1, lt=1, allow_inf_nan=False,
                                         description="yearly risk-free rate for Sharpe "
                                                     "(0.04 = 4 %; default 0)")
    session: Literal["auto", "continue", "new"] = Field(
        "auto", description="auto: the last session goes on when its market does (the same "
                            "data_source, not csv), else a new one begins; continue: it goes "
                            "on, or 409 saying why it cannot; new: a new session")
    positions: Literal["close", "carry"] = Field(
        "close", description="a new session: close the last one's open positions at their "
                             "last prices, as its last fills, or carry them over at their "
                             "entry prices")

    def to_request(self) -> SessionRequest:
        """The session request this query asks for (ParameterError for a bad coin or file
        argument)."""
        return SessionRequest(
            source=self.data_source,
            coins=parse_coins(self.coins, QUERY_WORDS) if self.coins else None,
            csv_files=parse_csv_files(self.csv or [], QUERY_WORDS, must_exist=False),
            speed=self.speed, rate=self.rate, workers=self.workers, fee=self.fee,
            slippage=self.slippage, duration=self.duration, ticks=self.max_ticks,
            seed=self.seed, binance_rest_url=self.binance_rest_url,
            binance_ws_url=self.binance_ws_url, quote_asset=self.quote_asset,
            capital=self.capital, risk_free_rate=self.risk_free_rate, session=self.session,
            positions=self.positions)


class RegisterIn(BaseModel):
    """A strategy to run: its catalogue name, coin, parameters (omitted ones take their
    defaults), timeframe and, optionally, an id of your own (default ``<COIN>_<name>``)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "SMA_Crossover", "coin": "BTC", "params": {"fast": 10, "slow": 30}}]})

    name: str = Field(min_length=1, max_length=100, examples=["SMA_Crossover"])
    coin: str = Field(min_length=1, max_length=20, examples=["BTC"])
    params: dict[str, ParamValue] = Field(default_factory=dict)
    timeframe: Timeframe = TICK
    strategy_id: str | None = Field(default=None, pattern=STRATEGY_ID_PATTERN)
    allow_short: bool = False

    def to_spec(self) -> StrategySpec:
        return strategy_spec(self.name, self.coin, self.params, self.timeframe,
                             self.strategy_id, self.allow_short)


class ParamsIn(BaseModel):
    """New parameter values, merged over the current ones."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"params": {"fast": 5}}]})

    params: dict[str, ParamValue]


class StrategyOut(BaseModel):
    strategy_id: str
    name: str
    coin: str
    params: dict[str, Any]
    timeframe: str
    allow_short: bool
    status: str = Field(description="active, paused or error")
    error: str | None


class RemovedOut(BaseModel):
    strategy_id: str
    status: Literal["removed"]


class ParamSchemaOut(BaseModel):
    name: str
    type: str = Field(description="int, float or bool")
    default: ParamValue
    low: float | None
    high: float | None
    step: float | None
    doc: str


class AvailableOut(BaseModel):
    name: str
    description: str
    params: list[ParamSchemaOut]
    constraints: list[str] = Field(description='relations between parameters, e.g. "fast < slow"')
    timeframes: list[str]


# The metrics' meanings, shared by the per-strategy and the global schemas (docs/metrics.md).
FILLS = "fills: every trade record, an opening and a closing fill count two"
ROUND_TRIPS = "round trips: the fills that closed a position"
WIN_RATE = "winning round trips / round trips × 100 (a rate over closed_trades, not fills)"
DRAWDOWN = "largest peak-to-trough fall of equity, in quote currency"
DRAWDOWN_PCT = "largest fall as a percentage of the peak account value (capital + equity)"
SHARPE = ("annualised Sharpe of daily account returns (flat days included, ddof=1, √365); "
          "null below 30 daily returns, with the reason in sharpe_note")
SHARPE_NOTE = "why sharpe_ratio is null (empty when it has a value)"
CAPITAL = "starting capital of the account(s), quote currency"
RETURN_PCT = "equity / capital × 100"
CASH = ("quote currency held: capital + realised P&L − the open positions' cost (entry × "
        "quantity and fee; a short adds its proceeds)")


class StrategyMetricsOut(BaseModel):
    """One strategy's metrics (the seed's shape plus equity, fees, its capital base and its
    current state)."""

    model_config = ConfigDict(extra="allow")

    strategy_id: str
    coin: str
    strategy_name: str
    total_trades: int = Field(description=FILLS)
    closed_trades: int | None = Field(None, description=ROUND_TRIPS)
    winning_trades: int = Field(description="round trips with realised P&L above 0")
    losing_trades: int = Field(description="round trips with realised P&L below 0")
    total_profit: float | None
    total_loss: float | None
    net_pnl: float | None
    current_position: float | None
    entry_price: float | None
    max_drawdown: float | None = Field(description=DRAWDOWN)
    max_drawdown_pct: float | None = Field(None, description=DRAWDOWN_PCT)
    win_rate: float | None = Field(description=WIN_RATE)
    sharpe_ratio: float | None = Field(description=SHARPE)
    sharpe_note: str | None = Field(None, description=SHARPE_NOTE)
    unrealized_pnl: float | None = None
    equity: float | None = Field(None, description="realised + unrealised P&L")
    capital: float | None = Field(None, description=CAPITAL)
    return_pct: float | None = Field(None, description=RETURN_PCT)
    fees: float | None = None
    status: str | None = None
    error: str | None = None
    timeframe: str | None = None
    params: dict[str, Any] | None = None


class GlobalMetricsOut(BaseModel):
    """The whole book: the seed's global metrics plus the engine's throughput and latency.
    Counts and realised P&L cover every fill of the session, a removed strategy's included."""

    model_config = ConfigDict(extra="allow")

    mode: str
    status: str
    total_trades: int = Field(description=FILLS)
    closed_trades: int | None = Field(None, description=ROUND_TRIPS)
    total_profit: float | None
    total_loss: float | None
    net_pnl: float | None
    win_rate: float | None = Field(description=WIN_RATE)
    active_strategies: int
    active_coins: int
    max_drawdown: float | None = Field(description=DRAWDOWN)
    max_drawdown_pct: float | None = Field(None, description=DRAWDOWN_PCT)
    sharpe_ratio: float | None = Field(description=SHARPE)
    sharpe_note: str | None = Field(None, description=SHARPE_NOTE)
    capital: float | None = Field(None, description=CAPITAL + ": each strategy's, added up")
    return_pct: float | None = Field(None, description=RETURN_PCT)
    last_trade_id: int | None = Field(None, description="id of the newest fill these figures "
                                                        "count (null before the first)")
    last_update: str
    ticks_processed: int | None = None
    ticks_per_second: float | None = None


class MetricsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    global_: GlobalMetricsOut = Field(alias="global")
    strategies: dict[str, StrategyMetricsOut]


class TradeOut(BaseModel):
    """One paper fill (the seed's fields plus id, strategy_id and fee)."""

    id: int
    strategy_id: str
    coin: str
    strategy: str
    action: Literal["BUY", "SELL"]
    price: float
    quantity: float
    timestamp: float = Field(description="epoch seconds of the tick it filled on")
    profit_loss: float = Field(description="realised P&L, net of both legs' fees (0 on opening)")
    position_size: float = Field(description="the strategy's position after the fill")
    fee: float


class PositionOut(BaseModel):
    """One strategy's open position."""

    strategy_id: str
    coin: str
    strategy_name: str
    current_position: float = Field(description="units held; negative when short")
    entry_price: float = Field(description="the opening fill's price (slippage applied)")
    last_price: float | None = Field(description="the mark: the last price it was valued at")
    unrealized_pnl: float = Field(description="(mark − entry) × position − entry fee")
    capital: float = Field(description=CAPITAL)
    cash: float = Field(description=CASH)
    carried: bool = Field(description="carried over from the last session at its entry price")


class AccountOut(BaseModel):
    """The paper account (``GET /api/account``): every strategy's accounts added up, with
    the open positions."""

    capital: float = Field(description=CAPITAL + ": each strategy's, added up")
    cash: float = Field(description=CASH)
    equity: float = Field(description="realised + unrealised P&L")
    account_value: float = Field(description="capital + equity = cash + positions at mark")
    return_pct: float = Field(description=RETURN_PCT)
    net_pnl: float = Field(description="realised P&L, fees included")
    unrealized_pnl: float
    fees: float
    positions: list[PositionOut]


class PausedOut(BaseModel):
    paused: list[str] = Field(description="ids of the strategies it paused (those active)")


class PnlPointOut(BaseModel):
    timestamp: float
    strategy_id: str
    pnl: float
    position: float


class SessionOut(BaseModel):
    """A session kept in the engine's journal (``GET /api/sessions``, oldest first)."""

    id: int
    started: float = Field(description="when it began, epoch seconds (wall clock)")
    ended: float | None = Field(description="when it last wrote a fill or P&L sample, epoch "
                                            "seconds; null until its first end is written")
    source: str = Field(description="simulated, csv or binance")
    coins: list[str]
    strategies: list[str] = Field(description="ids of the strategies it ran")
    fills: int
    net_pnl: float = Field(description="sum of its fills' realised P&L, fees included")
    samples: int = Field(description="P&L samples of the equity clock")
    size_bytes: int = Field(description="its share of the journal file on disk")


class CandlesOut(BaseModel):
    """A coin's candles of the current (or last) session, oldest first, as parallel lists."""

    coin: str
    interval: float = Field(description="seconds per bar: 60, or a replayed file's longer bars")
    volume_unit: Literal["ticks", "coin"] = Field(
        description="ticks: prices counted in the bar; coin: a replayed file's volume")
    time: list[float] = Field(description="each bar's open, epoch seconds")
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float]


class LogLineOut(BaseModel):
    """One line of the engine's log (its messages, status and feed changes)."""

    id: int = Field(description="grows by one per line: poll with after_id=<the last seen>")
    time: float = Field(description="epoch seconds (wall clock)")
    level: Literal["info", "warning", "error"]
    message: str
