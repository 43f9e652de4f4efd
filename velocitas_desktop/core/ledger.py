"""The paper ledger: turns signals into fills and keeps positions, P&L and metrics per strategy.

Each strategy trades a paper account of ``capital`` quote currency (default 10,000). Fills
(DESIGN.md, "Engine"): a BUY fills at ``price × (1 + slippage)``, a SELL at
``price × (1 − slippage)``; each fill pays ``fee = fill price × quantity × fee_rate``. A signal
without a quantity opens ``capital / fill price`` units: a position worth the account, so a
BTC and an ETH strategy risk the same money. Spot is long-only by default: a BUY when flat
opens a long, a SELL when long closes the whole position, a BUY while long and a SELL while
flat do nothing. With ``allow_short`` a SELL when flat opens a short and a BUY while short
closes it.

Drawdown: per strategy, equity is valued at every price of its coin (``mark``/``mark_values``)
and after each fill, at the fill's market price with both fees paid; the whole ledger's equity
is valued by the engine after each timestamp (``track_total``). Sharpe: every book's account
closes each UTC day on the sampling clock (``sample``), the same clock that records the P&L
history.

P&L: a closing fill realises ``(exit − entry) × qty`` (mirrored for a short) minus the fees of
both legs. Unrealised P&L of an open position is ``(mark − entry) × qty`` minus the entry fee
already paid; equity = realised + unrealised. ``total_profit``/``total_loss`` sum positive /
absolute negative realised P&L; ``net_pnl`` = total_profit − total_loss. Cash is the capital
plus realised P&L less what the open position cost (``entry × qty`` and its fee; a short adds
its proceeds), so the account's value ``capital + equity`` = cash + position × mark.

A position closed by hand (:meth:`Ledger.close_position`) is an ordinary fill at the last
price. A new session may take over the last one's open positions (:meth:`Ledger.carry`): each
comes in at its entry price and entry fee, so its whole round trip is realised where it closes;
the session's drawdown and daily returns are measured from its opening value, capital plus
the carried positions' unrealised P&L.

The ledger is plain data and arithmetic: it has no lock of its own. The engine holds the one
lock around it (DESIGN.md: one writer, readers take copies under the lock).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.metrics import (
    DAY,
    DEFAULT_CAPITAL,
    DailyReturns,
    Drawdown,
    Sharpe,
    win_rate,
)
from velocitas_desktop.core.types import Action, Signal, Trade

_BUY = Action.BUY
_TEXT = {Action.BUY: "BUY", Action.SELL: "SELL"}  # Enum.value is a slow property
DEFAULT_FEE = 0.001  # Binance spot taker fee, 0.1%
DEFAULT_SAMPLE_SECONDS = 60.0
TOTAL = ""  # the key of the whole ledger's figures in a metric state


class Retired:
    """What the strategies removed during the session leave in its totals: their fills stay
    in the blotter and the trades API, so they stay counted, and their realised P&L stays in
    the account. Added up when a book closes, so a fill costs nothing here."""

    __slots__ = ("closed", "fees", "fills", "losing", "realized", "total_loss", "total_profit",
                 "winning")

    def __init__(self) -> None:
        self.fills = 0
        self.closed = 0
        self.winning = 0
        self.losing = 0
        self.total_profit = 0.0
        self.total_loss = 0.0
        self.fees = 0.0
        self.realized = 0.0

    def add(self, book: Book) -> None:
        self.fills += book.total_trades
        self.closed += book.closed
        self.winning += book.winning
        self.losing += book.losing
        self.total_profit += book.total_profit
        self.total_loss += book.total_loss
        self.fees += book.fees
        self.realized += book.realized


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """A strategy's open position as the last session left it: what a new session carries."""

    strategy_id: str
    position: float
    entry_price: float
    entry_fee: float
    last_price: float


class Book:
    """One strategy's account: position, entry, realised P&L, counters and equity tracking."""

    __slots__ = (
        "allow_short", "capital", "carried", "closed", "coin", "daily", "drawdown", "entry_fee",
        "entry_price", "fees", "last_price", "losing", "position", "realized", "strategy_id",
        "strategy_name", "total_loss", "total_profit", "total_trades", "winning",
    )

    def __init__(self, strategy_id: str, coin: str, strategy_name: str,
                 allow_short: bool = False, capital: float = DEFAULT_CAPITAL) -> None:
        self.strategy_id = strategy_id
        self.coin = coin
        self.strategy_name = strategy_name
        self.allow_short = allow_short
        self.capital = capital
        self.position = 0.0
        self.entry_price = 0.0
        self.entry_fee = 0.0
        self.realized = 0.0
        self.fees = 0.0
        self.total_trades = 0
        self.winning = 0
        self.losing = 0
        self.closed = 0
        self.total_profit = 0.0
        self.total_loss = 0.0
        self.last_price = math.nan
        self.drawdown = Drawdown(capital)
        self.daily = DailyReturns(capital)
        self.carried: OpenPosition | None = None  # the position the session began with

    @property
    def unrealized(self) -> float:
        if self.position == 0.0 or self.last_price != self.last_price:
            return 0.0
        return self.position * (self.last_price - self.entry_price) - self.entry_fee

    @property
    def equity(self) -> float:
        return self.realized + self.unrealized

    @property
    def base(self) -> float:
        """Equity less the position's market value: equity = base + position × price."""
        if self.position == 0.0:
            return self.realized
        return self.realized - self.entry_fee - self.position * self.entry_price

    @property
    def cash(self) -> float:
        """Quote currency held: the capital, realised P&L, less the open position's cost."""
        return self.capital + self.base

    def mark(self, price: float) -> None:
        """Value the position at ``price`` and track the drawdown of equity."""
        self.last_price = price
        if self.position != 0.0:
            self.drawdown.update(self.equity)

    def mark_values(self, prices: list[float]) -> None:
        """:meth:`mark` every price of a list in order (the engine's form)."""
        if not prices:
            return
        self.last_price = prices[-1]
        position = self.position
        if position != 0.0:
            base = self.realized - self.entry_fee - position * self.entry_price
            self.drawdown.update_values([base + position * price for price in prices])

    def sharpe(self, risk_free: float = 0.0) -> Sharpe:
        return self.daily.sharpe(self.capital + self.equity, risk_free)

    def metrics(self, risk_free: float = 0.0) -> dict[str, Any]:
        """This strategy's metrics in the seed's shape, plus equity, fees and the capital
        base's figures."""
        sharpe = self.sharpe(risk_free)
        equity = self.equity
        return {
            "strategy_id": self.strategy_id,
            "coin": self.coin,
            "strategy_name": self.strategy_name,
            "total_trades": self.total_trades,
            "closed_trades": self.closed,
            "winning_trades": self.winning,
            "losing_trades": self.losing,
            "total_profit": self.total_profit,
            "total_loss": self.total_loss,
            "net_pnl": self.total_profit - self.total_loss,
            "current_position": self.position,
            "entry_price": self.entry_price if self.position else 0.0,
            "max_drawdown": self.drawdown.max_drawdown,
            "max_drawdown_pct": self.drawdown.max_drawdown_pct,
            "win_rate": win_rate(self.winning, self.closed),
            "sharpe_ratio": sharpe.value,
            "sharpe_note": sharpe.note,
            "unrealized_pnl": self.unrealized,
            "equity": equity,
            "capital": self.capital,
            "return_pct": equity / self.capital * 100.0,
            "fees": self.fees,
            "last_price": finite_or_none(self.last_price),
            "cash": self.cash,
            "account_value": self.capital + equity,
            "carried": self.carried is not None and self.position != 0.0,
        }

    def state(self) -> dict[str, Any]:
        """What the trades cannot tell of this account after a restart (the journal keeps
        it): its capital, the last price it was valued at, its drawdown and daily returns,
        and the position it was carried into the session with."""
        state = {"capital": self.capital, "last_price": finite_or_none(self.last_price),
                 "drawdown": self.drawdown.state(), "daily": self.daily.state()}
        if self.carried is not None:
            carried = self.carried
            state["carried"] = {"position": carried.position, "entry_price": carried.entry_price,
                                "entry_fee": carried.entry_fee}
        return state

    def take_over(self, held: OpenPosition) -> None:
        """Begin with ``held``, an open position of the last session, at its entry price and
        fee: the account's opening value is its capital plus that position's unrealised P&L
        at the last price, and drawdown and daily returns are measured from there."""
        self.position, self.entry_price, self.entry_fee = (held.position, held.entry_price,
                                                           held.entry_fee)
        self.last_price = held.last_price
        self.carried = held
        opening = self.equity
        self.drawdown = Drawdown(self.capital, start=opening)
        self.daily = DailyReturns(self.capital + opening)

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.capital = float(state["capital"])
        last = state.get("last_price")
        self.last_price = math.nan if last is None else float(last)
        self.drawdown = Drawdown.from_state(state["drawdown"])
        self.daily = DailyReturns.from_state(state["daily"])


class Ledger:
    """All books, the trade list and the P&L history of one session."""

    def __init__(self, fee_rate: float = DEFAULT_FEE, slippage: float = 0.0,
                 sample_seconds: float = DEFAULT_SAMPLE_SECONDS, keep_trades: bool = True,
                 max_history: int = 200_000, capital: float = DEFAULT_CAPITAL,
                 risk_free: float = 0.0) -> None:
        if not 0.0 <= fee_rate < 1.0:
            raise ValueError(f"the fee must be a fraction between 0 and 1 (got {fee_rate})")
        if not 0.0 <= slippage < 1.0:
            raise ValueError(f"slippage must be a fraction between 0 and 1 (got {slippage})")
        if not sample_seconds > 0:
            raise ValueError("the equity sampling clock must be positive")
        if not (DAY / sample_seconds).is_integer():
            raise ValueError("the equity sampling clock must divide a day evenly (60 s, 300 s, "
                             f"3600 s...; got {sample_seconds:g} s)")
        if not (capital > 0 and math.isfinite(capital)):
            raise ValueError(f"the starting capital must be a positive amount (got {capital})")
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.sample_seconds = sample_seconds
        self.capital = capital
        self.risk_free = risk_free
        self.keep_trades = keep_trades
        self.books: dict[str, Book] = {}
        self.trades: list[Trade] = []
        self.retired = Retired()
        self.last_trade_id: int | None = None  # the newest fill of the session
        # recent P&L points (each fill, each clock sample), bounded for long sessions
        self.pnl_history: deque[dict[str, Any]] = deque(maxlen=max_history)
        # clock samples not yet handed to the journal (fills are journaled as trades)
        self.pending_samples: list[dict[str, Any]] = []
        self.state_changed = False  # a sample since the metric state was last taken
        self.next_trade_id = 1
        self.next_sample = math.nan
        # the whole ledger's account: every book's capital joins it when the book opens
        self.total_drawdown = Drawdown(0.0)
        self.total_daily = DailyReturns(0.0)
        self.last_timestamp = math.nan

    # --- books ---------------------------------------------------------------------------

    def open_book(self, strategy_id: str, coin: str, strategy_name: str,
                  allow_short: bool = False) -> Book:
        book = self.books.get(strategy_id)
        if book is None:
            book = Book(strategy_id, coin, strategy_name, allow_short, self.capital)
            self.books[strategy_id] = book
            self.total_drawdown.deposit(book.capital)
            self.total_daily.deposit(book.capital)
        else:
            book.allow_short = allow_short
        return book

    def close_book(self, strategy_id: str) -> None:
        """The strategy is removed: its book goes, its realised P&L and its capital stay in
        the whole ledger's account (an open position is dropped with it)."""
        book = self.books.pop(strategy_id, None)
        if book is not None:
            self.retired.add(book)

    @property
    def total_capital(self) -> float:
        return self.total_drawdown.capital

    @property
    def total_cash(self) -> float:
        """The whole ledger's cash: every book's, and the realised P&L of removed ones."""
        return (self.total_capital + self.retired.realized
                + sum(book.base for book in self.books.values()))

    # --- positions taken over, closed by hand --------------------------------------------

    def open_positions(self) -> list[OpenPosition]:
        """Every open position, as a new session would carry it."""
        return [OpenPosition(sid, book.position, book.entry_price, book.entry_fee,
                             book.last_price if book.last_price == book.last_price
                             else book.entry_price)
                for sid, book in self.books.items() if book.position != 0.0]

    def carry(self, positions: Iterable[OpenPosition], timestamp: float) -> None:
        """Begin this (new) ledger with ``positions`` of the last session, valued at their
        last prices as of ``timestamp`` (the books must be open; others are skipped). The
        whole account's drawdown and daily returns start from its opening value too."""
        opening = 0.0
        for held in positions:
            book = self.books.get(held.strategy_id)
            if book is None:
                continue
            book.take_over(held)
            opening += book.equity
        self.total_drawdown = Drawdown(self.total_capital, start=opening)
        self.total_daily.deposit(opening)  # the opening value, not a return of this session
        if timestamp == timestamp:
            self.last_timestamp = timestamp
        self.state_changed = True

    def close_position(self, strategy_id: str) -> Trade | None:
        """Close the strategy's whole position at its last price (slippage and the fee as
        any fill) at the last price's time; None when it holds none. KeyError: no book."""
        book = self.books[strategy_id]
        if book.position == 0.0:
            return None
        price = book.last_price if book.last_price == book.last_price else book.entry_price
        action = Action.SELL if book.position > 0.0 else _BUY
        stamp = self.last_timestamp if self.last_timestamp == self.last_timestamp else 0.0
        trade = self.fill(strategy_id, Signal(action), price, stamp)
        self.total_drawdown.update(self.total_equity)
        self.state_changed = True
        return trade

    @property
    def total_equity(self) -> float:
        """The whole ledger's equity: every book's, and the realised P&L of removed ones."""
        return self.retired.realized + sum(book.equity for book in self.books.values())

    # --- fills -----------------------------------------------------------------------------

    def accepts(self, strategy_id: str, signal: Signal) -> bool:
        """Whether :meth:`fill` would act on ``signal`` (long-only rules, shorting option)."""
        book = self.books.get(strategy_id)
        if book is None:
            return False
        position = book.position
        if position == 0.0:  # opening needs a size; closing uses the position's own
            quantity = signal.quantity
            return ((quantity is None or quantity > 0.0)
                    and (signal.action is _BUY or book.allow_short))
        return position < 0.0 if signal.action is _BUY else position > 0.0

    def take_pending_samples(self) -> list[dict[str, Any]]:
        rows, self.pending_samples = self.pending_samples, []
        return rows

    def fill(self, strategy_id: str, signal: Signal, price: float, timestamp: float) -> Trade | None:
        """Apply ``signal`` at market ``price``; the trade, or None when the rules ignore it."""
        book = self.books[strategy_id]
        book.last_price = price
        position = book.position
        asked = signal.quantity  # None: a position worth the account
        if position == 0.0 and asked is not None and not asked > 0.0:
            return None
        if signal.action is _BUY:
            if position > 0.0:
                return None
            fill_price = price * (1.0 + self.slippage)
            quantity = -position if position < 0.0 else _size(asked, book, fill_price)
            new_position = position + quantity
        else:
            if position < 0.0 or (position == 0.0 and not book.allow_short):
                return None
            fill_price = price * (1.0 - self.slippage)
            quantity = position if position > 0.0 else _size(asked, book, fill_price)
            new_position = position - quantity
        fee = fill_price * quantity * self.fee_rate
        profit_loss = 0.0
        if position == 0.0:  # opening
            book.entry_price = fill_price
            book.entry_fee = fee
        else:  # closing the whole position
            direction = 1.0 if position > 0.0 else -1.0
            profit_loss = (direction * (fill_price - book.entry_price) * quantity
                           - book.entry_fee - fee)
            book.realized += profit_loss
            book.closed += 1
            if profit_loss > 0.0:
                book.winning += 1
                book.total_profit += profit_loss
            elif profit_loss < 0.0:
                book.losing += 1
                book.total_loss -= profit_loss
            book.entry_fee = 0.0
        book.position = new_position
        book.fees += fee
        book.total_trades += 1
        equity = book.realized
        if new_position != 0.0:
            equity += new_position * (price - book.entry_price) - book.entry_fee
        # the fill's price is valued after the fill, both fees paid, as a backtest values it
        book.drawdown.update(equity)
        trade = Trade(
            id=self.next_trade_id, strategy_id=strategy_id, coin=book.coin,
            strategy=book.strategy_name, action=_TEXT[signal.action], price=fill_price,
            quantity=quantity, timestamp=timestamp, profit_loss=profit_loss,
            position_size=new_position, fee=fee,
        )
        self.next_trade_id += 1
        self.last_trade_id = trade.id
        if self.keep_trades:
            self.trades.append(trade)
        self.pnl_history.append(_fill_point(trade, book))
        self.last_timestamp = timestamp
        return trade

    def restore(self, trades: Iterable[Trade], pnl_rows: Iterable[dict[str, Any]] = (),
                state: Mapping[str, Any] | None = None) -> None:
        """Rebuild books from a journal's trades (positions, P&L, counters), its clock samples
        (the P&L history) and its metric state (:meth:`metric_state`: last prices, drawdowns,
        daily returns), so every figure equals what it was when the state was taken. Without
        a state (an older journal), drawdowns are rebuilt from the samples and Sharpe starts
        afresh. The P&L history is the fill points, rebuilt from the trades, and the samples,
        in time order (samples first, then fills in trade order, at equal times)."""
        if state:
            self._restore_carried(state)
        points = [self._restore_trade(trade) for trade in trades]
        samples = [dict(row) for row in pnl_rows]
        if state:
            self._restore_state(state)
        else:
            for row in samples:
                book = self.books.get(row["strategy_id"])
                if book is not None:
                    book.drawdown.update(row["pnl"])
        # samples first at equal times: a sample is taken before the tick that reaches it
        merged = sorted([(row["timestamp"], 0, row) for row in samples]
                        + [(row["timestamp"], 1, row) for row in points],
                        key=lambda item: (item[0], item[1]))
        self.pnl_history.extend(row for _, _, row in merged)

    def _restore_trade(self, trade: Trade) -> dict[str, Any]:
        if self.keep_trades:
            self.trades.append(trade)
        book = self.open_book(trade.strategy_id, trade.coin, trade.strategy)
        book.total_trades += 1
        book.fees += trade.fee
        book.last_price = trade.price
        opening = trade.position_size != 0.0 and book.position == 0.0
        if opening:
            book.entry_price, book.entry_fee = trade.price, trade.fee
        else:
            book.realized += trade.profit_loss
            book.closed += 1
            if trade.profit_loss > 0.0:
                book.winning += 1
                book.total_profit += trade.profit_loss
            elif trade.profit_loss < 0.0:
                book.losing += 1
                book.total_loss -= trade.profit_loss
            book.entry_fee = 0.0
        book.position = trade.position_size
        self.last_trade_id = max(self.last_trade_id or 0, trade.id)
        self.next_trade_id = max(self.next_trade_id, trade.id + 1)
        self.last_timestamp = trade.timestamp
        return _fill_point(trade, book)

    def metric_state(self) -> dict[str, Any]:
        """Every book's :meth:`Book.state` by strategy id, and the whole ledger's under
        :data:`TOTAL`: what a restart needs beside the trades."""
        state: dict[str, Any] = {sid: book.state() for sid, book in self.books.items()}
        state[TOTAL] = {"drawdown": self.total_drawdown.state(),
                        "daily": self.total_daily.state(), "risk_free": self.risk_free,
                        "time": finite_or_none(self.last_timestamp)}
        return state

    def take_metric_state(self) -> dict[str, Any] | None:
        """The metric state if a sample was taken since it was last asked for, else None."""
        if not self.state_changed:
            return None
        self.state_changed = False
        return self.metric_state()

    def _restore_carried(self, state: Mapping[str, Any]) -> None:
        """The positions the session began with, before its trades are replayed over them."""
        for sid, saved in state.items():
            book = self.books.get(sid)
            carried = saved.get("carried") if sid != TOTAL else None
            if book is not None and carried:
                held = OpenPosition(sid, float(carried["position"]),
                                    float(carried["entry_price"]), float(carried["entry_fee"]),
                                    float(carried["entry_price"]))
                book.position, book.entry_price, book.entry_fee = (
                    held.position, held.entry_price, held.entry_fee)
                book.carried = held

    def _restore_state(self, state: Mapping[str, Any]) -> None:
        for sid, saved in state.items():
            book = self.books.get(sid)
            if book is not None:
                book.set_state(saved)
        total = state.get(TOTAL)
        if total is not None:
            self.total_drawdown = Drawdown.from_state(total["drawdown"])
            self.total_daily = DailyReturns.from_state(total["daily"])
            self.risk_free = float(total.get("risk_free", self.risk_free))
            if total.get("time") is not None:
                self.last_timestamp = float(total["time"])

    # --- the equity clock ----------------------------------------------------------------

    def continue_clock(self) -> None:
        """A session goes on after a pause (a restart, a Stop then Start): the sampling clock
        resumes at the first sampling time after its last price, so the days without prices
        in between close as flat days, as any gap in the data does."""
        if self.next_sample != self.next_sample and self.last_timestamp == self.last_timestamp:
            step = self.sample_seconds
            self.next_sample = (math.floor(self.last_timestamp / step) + 1) * step

    def due_samples(self, timestamp: float) -> bool:
        """True when ``timestamp`` reaches the next sampling time (starting the clock if new)."""
        if self.next_sample != self.next_sample:
            self.next_sample = (math.floor(timestamp / self.sample_seconds) + 1) * self.sample_seconds
            return False
        return timestamp >= self.next_sample

    def sample(self, timestamp: float) -> None:
        """Record every book's equity at the sampling time just reached (the P&L chart and
        the journal) and close the accounts' days at each midnight it passes (Sharpe)."""
        boundary = self.next_sample
        if boundary != boundary:
            return
        step = self.sample_seconds
        steps = math.floor((timestamp - boundary) / step) + 1
        # the sampling times reached: boundary, boundary + step, ... (a gap reaches several);
        # the clock divides a day, so every midnight is one of them
        last = boundary + (max(steps, 1) - 1) * step
        days = math.floor(last / DAY) - math.ceil(boundary / DAY) + 1
        total = self.retired.realized
        for book in self.books.values():
            equity = book.equity
            total += equity
            if days > 0:
                book.daily.close_days(book.capital + equity, days)
            row = {"timestamp": boundary, "strategy_id": book.strategy_id, "pnl": equity,
                   "position": book.position}
            self.pnl_history.append(row)
            self.pending_samples.append(row)
        if days > 0:
            self.total_daily.close_days(self.total_capital + total, days)
        self.state_changed = True
        self.next_sample = last + step

    def finish(self, timestamp: float) -> None:
        """The session's last state: every book's equity recorded at ``timestamp`` (the last
        price's time), so the chart, the journal and a restart end where the session did."""
        for book in self.books.values():
            row = {"timestamp": timestamp, "strategy_id": book.strategy_id,
                   "pnl": book.equity, "position": book.position}
            self.pnl_history.append(row)
            self.pending_samples.append(row)
        self.state_changed = True

    def track_total(self, equity: np.ndarray) -> None:
        """The whole ledger's equity after each timestamp of a batch, for its drawdown."""
        self.total_drawdown.update_array(equity)

    # --- reading -------------------------------------------------------------------------

    def strategy_metrics(self) -> dict[str, dict[str, Any]]:
        risk_free = self.risk_free
        return {sid: book.metrics(risk_free) for sid, book in self.books.items()}

    def global_metrics(self, books: Iterable[Book] | None = None) -> dict[str, Any]:
        """The seed's global aggregates (mode/status are the engine's): counts and realised
        P&L over every fill of the session, removed strategies' included; unrealised P&L
        over the books open now. ``books`` restricts the figures to those books."""
        if books is not None:
            return _aggregate(list(books), Retired())
        figures = _aggregate(list(self.books.values()), self.retired)
        capital = self.total_capital
        equity = figures["equity"]
        sharpe = (self.total_daily.sharpe(capital + equity, self.risk_free) if capital > 0
                  else Sharpe(None, "no strategy has traded in this session"))
        figures.update({
            "capital": capital,
            "cash": self.total_cash,
            "account_value": capital + equity,
            "return_pct": equity / capital * 100.0 if capital > 0 else 0.0,
            "max_drawdown": self.total_drawdown.max_drawdown,
            "max_drawdown_pct": self.total_drawdown.max_drawdown_pct,
            "sharpe_ratio": sharpe.value,
            "sharpe_note": sharpe.note,
            "last_trade_id": self.last_trade_id,
        })
        return figures


def _aggregate(books: list[Book], retired: Retired) -> dict[str, Any]:
    """Counts and P&L summed over ``books`` and what removed ones left in ``retired``."""
    winning = retired.winning + sum(b.winning for b in books)
    closed = retired.closed + sum(b.closed for b in books)
    total_profit = retired.total_profit + sum(b.total_profit for b in books)
    total_loss = retired.total_loss + sum(b.total_loss for b in books)
    unrealized = sum(b.unrealized for b in books)
    return {
        "total_trades": retired.fills + sum(b.total_trades for b in books),
        "closed_trades": closed,
        "winning_trades": winning,
        "losing_trades": retired.losing + sum(b.losing for b in books),
        "total_profit": total_profit,
        "total_loss": total_loss,
        "net_pnl": total_profit - total_loss,
        "unrealized_pnl": unrealized,
        "equity": total_profit - total_loss + unrealized,
        "fees": retired.fees + sum(b.fees for b in books),
        "win_rate": win_rate(winning, closed),
        "active_coins": len({b.coin for b in books}),
    }


def _size(quantity: float | None, book: Book, fill_price: float) -> float:
    """Units an opening fill takes: the signal's quantity, or the account's capital at the
    fill price (``capital / fill price``) when the signal names none."""
    return book.capital / fill_price if quantity is None else quantity


def _fill_point(trade: Trade, book: Book) -> dict[str, Any]:
    """The P&L point a fill records: equity with the position valued at its fill price
    (realised P&L less the open position's entry fee), rebuildable from the trade alone."""
    return {"timestamp": trade.timestamp, "strategy_id": trade.strategy_id,
            "pnl": book.realized - book.entry_fee, "position": trade.position_size}
