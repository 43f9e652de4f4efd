"""The backtester: the live strategy code and the live ledger, replayed over a file of bars.

Each bar is one price, its close, at its close time (exactly what ``velocitas run --source csv``
feeds the engine). A signal fills at the close of the bar that produced it, through
:meth:`Ledger.fill`, so fees, slippage and P&L follow the live rules to the last bit. Only the
signal bars touch the ledger; the equity curve between fills is computed in one numpy pass.
Assumptions and formulas: docs/backtesting.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from velocitas_desktop.core import metrics
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.ledger import DEFAULT_FEE, Ledger
from velocitas_desktop.core.strategy import Strategy
from velocitas_desktop.core.types import Action, Signal, Trade

DEFAULT_CASH = metrics.DEFAULT_CAPITAL  # the starting capital, as a live strategy's account
DEFAULT_COIN = "BTC"
MIN_BARS = 2  # one change of price: the least a report (and a bar interval) needs


class BacktestError(VelocitasError, ValueError):
    """A backtest cannot run as asked (bad data, bad settings); the message says why."""


@dataclass(frozen=True, slots=True, eq=False)
class BarSeries:
    """The prices a backtest replays: bar closes at bar close times, and the bar interval."""

    prices: np.ndarray
    stamps: np.ndarray
    interval: float
    path: str = ""

    def __len__(self) -> int:
        return int(self.prices.shape[0])

    def slice(self, start: int, stop: int) -> BarSeries:
        return BarSeries(self.prices[start:stop], self.stamps[start:stop], self.interval,
                         self.path)

    @classmethod
    def from_arrays(cls, prices: np.ndarray, stamps: np.ndarray,
                    interval: float | None = None, path: str = "") -> BarSeries:
        prices = np.ascontiguousarray(prices, dtype=np.float64)
        stamps = np.ascontiguousarray(stamps, dtype=np.float64)
        if prices.shape != stamps.shape or prices.ndim != 1:
            raise BacktestError("prices and timestamps must be 1-D arrays of the same length")
        if prices.shape[0] < MIN_BARS:
            raise BacktestError(f"only {prices.shape[0]} bars; a backtest needs at least "
                                f"{MIN_BARS}")
        if interval is None:
            interval = float(np.median(np.diff(stamps)))
        if not interval > 0:
            raise BacktestError("the bars' timestamps must increase")
        return cls(prices, stamps, float(interval), path)


def load_bars(path: str | os.PathLike[str], min_bars: int = MIN_BARS) -> BarSeries:
    """Read a bar file (any layout load_ohlcv reads) as closes at close times.

    Raises BacktestError with one clear line for a missing, unreadable or too short file.
    """
    from velocitas_desktop.feeds.csvdata import DataFileError, load_ohlcv

    try:
        bars = load_ohlcv(path, min_bars=max(min_bars, MIN_BARS))
    except DataFileError as exc:
        raise BacktestError(str(exc)) from None
    except OSError as exc:
        raise BacktestError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    assert bars.interval is not None  # two or more bars always give an interval
    return BarSeries(bars.close, bars.close_time, bars.interval, bars.path)


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """The report of one backtest: stats, the ledger's trades and the equity curve."""

    strategy_id: str
    params: dict[str, Any]
    stats: dict[str, Any]
    fills: Fills
    equity: np.ndarray  # quote currency at each bar close: cash + realised + unrealised
    stamps: np.ndarray

    @property
    def trades(self) -> list[Trade]:
        """The ledger's trade records, in order."""
        return self.fills.trades

    @property
    def fill_bars(self) -> np.ndarray:
        return self.fills.bars

    def trade_dicts(self) -> list[dict[str, Any]]:
        return [trade.to_dict() for trade in self.trades]

    def to_json(self) -> dict[str, Any]:
        """``{"stats": {...}, "trades": [...]}`` with non-finite numbers as null."""
        return {"stats": finite_or_none(self.stats), "trades": self.trade_dicts()}


def resolve_strategy(strategy: type[Strategy] | str, catalog: Any = None) -> type[Strategy]:
    """A strategy class from a class or a catalog name (UnknownStrategyError if unknown)."""
    if isinstance(strategy, str):
        if catalog is None:
            from velocitas_desktop.catalog import load_catalog

            catalog = load_catalog()
        return catalog.get(strategy)
    return strategy


def decide(strategy: Strategy, prices: np.ndarray, stamps: np.ndarray,
           fast: bool = True) -> list[tuple[int, Signal]]:
    """The strategy's signals over the series: ``(bar index, signal)`` in order.

    ``fast`` calls :meth:`Strategy.run` once on the whole series (a built-in's vectorised
    form); otherwise :meth:`Strategy.update` is called on each price, as a live tick would be.
    """
    if fast:
        return strategy.run(prices, stamps)
    out: list[tuple[int, Signal]] = []
    update = strategy.update
    for i, (price, stamp) in enumerate(zip(prices.tolist(), stamps.tolist(), strict=True)):
        signal = update(price, stamp)
        if signal is not None:
            out.append((i, signal))
    return out


def backtest(strategy: type[Strategy] | str, bars: BarSeries,
             params: Mapping[str, Any] | None = None, *, fee: float = DEFAULT_FEE,
             slippage: float = 0.0, cash: float = DEFAULT_CASH, coin: str = DEFAULT_COIN,
             allow_short: bool = False, fast: bool = True, vectorised_fills: bool | None = None,
             catalog: Any = None, risk_free: float = 0.0) -> BacktestResult:
    """Run ``strategy`` with ``params`` over ``bars`` and report (see docs/backtesting.md).

    ``cash`` is the starting capital: a BUY without a quantity opens a position worth it, as
    a live strategy's account does; ``risk_free`` is the annual rate Sharpe is taken over.

    ``fast`` decides on the whole series at once (:func:`decide`). Fills go through
    :meth:`Ledger.fill` one signal at a time, or, when ``vectorised_fills`` (default: ``fast``)
    and the rules allow it (long-only, positive quantities), through :func:`vector_fills`,
    the same arithmetic on arrays (a test shows both give identical trades).
    Raises ParameterError for bad parameters, BacktestError for bad settings.
    """
    cls = resolve_strategy(strategy, catalog)
    if not cash > 0 or not math.isfinite(cash):
        raise BacktestError(f"the starting cash must be a positive number (got {cash})")
    if not (0.0 <= fee < 1.0 and 0.0 <= slippage < 1.0):
        raise BacktestError(f"fee and slippage must be fractions from 0 to 1 (got {fee}, "
                            f"{slippage})")
    if not -1.0 < risk_free < 1.0:
        raise BacktestError(f"the risk-free rate must be a yearly fraction, like 0.04 (got "
                            f"{risk_free})")
    instance = cls(coin=coin, **dict(params or {}))
    strategy_id = f"{coin}_{cls.name}"
    where = (strategy_id, coin, cls.name)
    costs = Costs(fee, slippage, cash)
    vectorised = (fast if vectorised_fills is None else vectorised_fills) and not allow_short
    fills = None
    array = instance.signal_array(bars.prices, bars.stamps) if fast else None
    if array is not None and vectorised:
        # the vectorised decisions straight into the vectorised fills: no per-signal objects
        index = np.flatnonzero(array)
        quantity = np.full(index.shape[0], float(instance.quantity or math.nan))
        fills = vector_fills_arrays(index, array[index] > 0, quantity, bars, costs, *where)
    else:
        signals = (instance._signals(array, bars.prices, bars.stamps) if array is not None
                   else decide(instance, bars.prices, bars.stamps, fast))
        if vectorised:
            fills = vector_fills(signals, bars, costs, *where)
    if fills is None:
        fills = ledger_fills(signals, bars, costs, *where, allow_short=allow_short)
    equity, exposed = _equity_curve(bars.prices, cash, fills)
    stats = _stats(bars, equity, exposed, cash, fills, instance, risk_free)
    return BacktestResult(strategy_id, instance.param_values, stats, fills, equity, bars.stamps)


@dataclass(frozen=True, slots=True)
class Costs:
    """What a fill costs and how large an unsized one is: the fee and slippage fractions and
    the capital a position is worth when its signal names no quantity."""

    fee: float
    slippage: float
    capital: float = DEFAULT_CASH


class Fills:
    """The fills of a backtest and the book after each one (for the vectorised equity).

    ``trades`` is built on first use: an optimisation that only ranks stats never pays for
    thousands of trade records.
    """

    __slots__ = ("_make_trades", "_trades", "bars", "bases", "closed_pnl", "count", "durations",
                 "fees", "position", "positions", "realized")

    def __init__(self, trades: list[Trade] | Callable[[], list[Trade]], bars: np.ndarray,
                 positions: np.ndarray, bases: np.ndarray, closed_pnl: np.ndarray,
                 durations: np.ndarray, realized: float, fees: float, position: float) -> None:
        self._trades = trades if isinstance(trades, list) else None
        self._make_trades = None if isinstance(trades, list) else trades
        self.bars = bars  # bar index of each fill
        self.positions = positions  # position after each fill
        self.bases = bases  # equity after fill k at bar i = cash + bases[k] + positions[k] × close_i
        self.closed_pnl = closed_pnl  # P&L of each closing fill
        self.durations = durations  # seconds from opening to closing fill, per closing fill
        self.realized = realized
        self.fees = fees
        self.position = position
        self.count = int(bars.shape[0])

    @property
    def trades(self) -> list[Trade]:
        if self._trades is None:
            self._trades = self._make_trades()  # type: ignore[misc]
        return self._trades


def ledger_fills(signals: list[tuple[int, Signal]], bars: BarSeries, costs: Costs,
                 strategy_id: str, coin: str, name: str, allow_short: bool = False) -> Fills:
    """Fill each signal through the live :meth:`Ledger.fill`, at its bar's close."""
    ledger = Ledger(fee_rate=costs.fee, slippage=costs.slippage, capital=costs.capital)
    book = ledger.open_book(strategy_id, coin, name, allow_short)
    prices, stamps = bars.prices, bars.stamps
    fill_bars: list[int] = []
    bases: list[float] = []
    positions: list[float] = []
    trades: list[Trade] = []
    opened_at = math.nan
    durations: list[float] = []
    closed_pnl: list[float] = []
    for i, signal in signals:
        was_flat = book.position == 0.0
        trade = ledger.fill(strategy_id, signal, float(prices[i]), float(stamps[i]))
        if trade is None:
            continue
        trades.append(trade)
        if was_flat:
            opened_at = trade.timestamp
        else:  # a closing fill always closes the whole position
            durations.append(trade.timestamp - opened_at)
            closed_pnl.append(trade.profit_loss)
        fill_bars.append(i)
        positions.append(book.position)
        bases.append(book.realized - book.entry_fee - book.position * book.entry_price
                     if book.position != 0.0 else book.realized)
    return Fills(trades, np.asarray(fill_bars, dtype=np.int64), np.asarray(positions, float),
                 np.asarray(bases, float), np.asarray(closed_pnl, float),
                 np.asarray(durations, float), book.realized, book.fees, book.position)


def vector_fills(signals: list[tuple[int, Signal]], bars: BarSeries, costs: Costs,
                 strategy_id: str, coin: str, name: str) -> Fills | None:
    """:func:`ledger_fills` for a long-only book, computed on arrays; None if it cannot be.

    Long-only, a BUY counts only when flat and a SELL only when long, so the fills are the
    signals whose action differs from the signal before (a leading SELL dropped): they
    alternate BUY, SELL, BUY... Each figure is then the ledger's own expression, evaluated
    in the same order (running sums with ``cumsum``, which adds in sequence), so every bit
    agrees with :meth:`Ledger.fill`.
    """
    index = np.fromiter((i for i, _ in signals), dtype=np.int64, count=len(signals))
    is_buy = np.fromiter((s.action is Action.BUY for _, s in signals), dtype=bool,
                         count=len(signals))
    quantity = np.fromiter((math.nan if s.quantity is None else s.quantity for _, s in signals),
                           dtype=float, count=len(signals))
    return vector_fills_arrays(index, is_buy, quantity, bars, costs, strategy_id, coin, name)


def vector_fills_arrays(index: np.ndarray, is_buy: np.ndarray, quantity: np.ndarray,
                        bars: BarSeries, costs: Costs, strategy_id: str, coin: str,
                        name: str) -> Fills | None:
    """:func:`vector_fills` on arrays of the signals' bar indices, sides and quantities (nan:
    a position worth the capital, ``capital / fill price`` as the ledger sizes it)."""
    nothing = Fills([], np.empty(0, np.int64), np.empty(0), np.empty(0), np.empty(0),
                    np.empty(0), 0.0, 0.0, 0.0)
    if index.shape[0] == 0:
        return nothing
    if not np.all(np.isnan(quantity) | (quantity > 0.0)):
        return None  # a BUY of nothing is skipped by the ledger: leave it to the ledger
    keep = np.empty(index.shape[0], dtype=bool)
    keep[0] = is_buy[0]
    np.not_equal(is_buy[1:], is_buy[:-1], out=keep[1:])
    index, is_buy, quantity = index[keep], is_buy[keep], quantity[keep]
    count = index.shape[0]
    if count == 0:  # only SELLs while flat: the ledger ignores every one
        return nothing
    buys = slice(0, count, 2)  # fills alternate, starting with a BUY
    sells = slice(1, count, 2)
    fee, slippage = costs.fee, costs.slippage
    market = bars.prices[index]
    price = np.where(is_buy, market * (1.0 + slippage), market * (1.0 - slippage))
    unsized = np.isnan(quantity)
    quantity[unsized] = costs.capital / price[unsized]  # the ledger's own expression
    quantity[sells] = quantity[buys][: (count // 2)]  # a SELL closes what the BUY opened
    fees = price * quantity * fee
    entry_price, entry_fee = price[buys], fees[buys]
    closes = count // 2
    pnl = np.zeros(count)
    pnl[sells] = ((price[sells] - entry_price[:closes]) * quantity[sells]
                  - entry_fee[:closes] - fees[sells])
    realized_after = np.cumsum(pnl)  # 0 + 0 on a BUY is exact, so only the SELLs add
    position = np.where(is_buy, quantity, 0.0)
    realized_before = np.concatenate(([0.0], realized_after[:-1]))
    bases = np.where(is_buy, realized_before - fees - position * price, realized_after)
    stamps = bars.stamps[index]

    def trades() -> list[Trade]:
        return list(map(Trade._make, zip(
            range(1, count + 1), repeat(strategy_id), repeat(coin), repeat(name),
            np.where(is_buy, "BUY", "SELL").tolist(), price.tolist(), quantity.tolist(),
            stamps.tolist(), pnl.tolist(), position.tolist(), fees.tolist(), strict=False)))

    return Fills(trades, index, position, bases, pnl[sells],
                 stamps[sells] - stamps[buys][:closes], float(realized_after[-1]),
                 float(np.cumsum(fees)[-1]), float(position[-1]))


def _equity_curve(prices: np.ndarray, cash: float, fills: Fills) -> tuple[np.ndarray, int]:
    """Equity at every bar close and the number of bars a position was held, vectorised.

    State ``k`` (after the k-th fill) holds from the fill's bar up to the bar before the next
    fill; the bar of a fill is valued after it, as the live ledger marks it.
    """
    n = prices.shape[0]
    edges = np.concatenate(([0], fills.bars, [n]))
    lengths = np.diff(edges)
    base = np.repeat(np.concatenate(([0.0], fills.bases)), lengths)
    position = np.repeat(np.concatenate(([0.0], fills.positions)), lengths)
    equity = cash + base + position * prices
    exposed = int(np.count_nonzero(position))
    return equity, exposed


def _stats(bars: BarSeries, equity: np.ndarray, exposed: int, cash: float, fills: Fills,
           instance: Strategy, risk_free: float = 0.0) -> dict[str, Any]:
    final = float(equity[-1])
    closes = fills.closed_pnl
    closed = int(closes.shape[0])
    winning = int(np.count_nonzero(closes > 0))
    # the account before the first bar is part of the curve: a fill on the first bar falls
    # from it, as a live account falls from its starting capital
    account = np.concatenate(([cash], equity))
    days = metrics.daily_closes(bars.stamps, equity, cash)
    sharpe = metrics.sharpe_ratio(days, risk_free)
    drawdown_pct = metrics.max_drawdown_pct(account)
    return {
        "strategy": type(instance).name,
        "params": instance.param_values,
        "bars": len(bars),
        "start": float(bars.stamps[0]),
        "end": float(bars.stamps[-1]),
        "bar_seconds": bars.interval,
        "starting_cash": cash,
        "final_equity": final,
        "total_return_pct": (final - cash) / cash * 100.0,
        "net_pnl": fills.realized,
        "unrealized_pnl": final - cash - fills.realized,
        "fees": fills.fees,
        "total_trades": fills.count,
        "closed_trades": closed,
        "winning_trades": winning,
        "losing_trades": int(np.count_nonzero(closes < 0)),
        "win_rate": metrics.win_rate(winning, closed),
        "max_drawdown": metrics.max_drawdown(account),
        "max_drawdown_pct": drawdown_pct,
        "daily_returns": int(days.shape[0] - 1),
        "sharpe_ratio": sharpe.value,
        "sharpe_note": sharpe.note,
        "sortino_ratio": metrics.sortino_ratio(days, risk_free),
        "calmar_ratio": metrics.calmar_ratio(days, drawdown_pct),
        "profit_factor": metrics.profit_factor(closes),
        "expectancy": metrics.expectancy(closes),
        "exposure_pct": exposed / len(bars) * 100.0,
        "best_trade": float(closes.max()) if closes.size else None,
        "worst_trade": float(closes.min()) if closes.size else None,
        "avg_trade_duration_s": float(np.mean(fills.durations)) if closed else None,
        "open_position": fills.position,
    }
