"""The pydantic schemas of the REST API: the documented contract of every request and reply."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from velocitas_desktop.core.types import TICK, TIMEFRAMES

Timeframe = Literal[tuple([TICK, *TIMEFRAMES])]  # type: ignore[valid-type]
ParamValue = bool | int | float | str
STRATEGY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
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


class EngineStatusOut(BaseModel):
    """Where the engine is: its status, the running configuration and the feed's state."""

    status: str = Field(description="stopped, starting, running, stopping, finished or error")
    message: str = Field(description="why it stopped, when it stopped on an error")
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


class StrategyMetricsOut(BaseModel):
    """One strategy's metrics (the seed's shape plus equity, fees and its current state)."""

    model_config = ConfigDict(extra="allow")

    strategy_id: str
    coin: str
    strategy_name: str
    total_trades: int
    winning_trades: int
    losing_trades: int
    total_profit: float | None
    total_loss: float | None
    net_pnl: float | None
    current_position: float | None
    entry_price: float | None
    max_drawdown: float | None
    win_rate: float | None
    sharpe_ratio: float | None
    unrealized_pnl: float | None = None
    equity: float | None = None
    fees: float | None = None
    status: str | None = None
    error: str | None = None
    timeframe: str | None = None
    params: dict[str, Any] | None = None


class GlobalMetricsOut(BaseModel):
    """The whole book: the seed's global metrics plus the engine's throughput and latency."""

    model_config = ConfigDict(extra="allow")

    mode: str
    status: str
    total_trades: int
    total_profit: float | None
    total_loss: float | None
    net_pnl: float | None
    win_rate: float | None
    active_strategies: int
    active_coins: int
    max_drawdown: float | None
    sharpe_ratio: float | None
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


class PnlPointOut(BaseModel):
    timestamp: float
    strategy_id: str
    pnl: float
    position: float
