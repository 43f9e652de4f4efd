"""The paper ledger: turns signals into fills and keeps positions, P&L and metrics per strategy.

Fills (DESIGN.md, "Engine"): a BUY fills at ``price × (1 + slippage)``, a SELL at
``price × (1 − slippage)``; each fill pays ``fee = fill price × quantity × fee_rate``.
Spot is long-only by default: a BUY when flat opens a long of the signal's quantity, a SELL when
long closes the whole position, a BUY while long and a SELL while flat do nothing. With
``allow_short`` a SELL when flat opens a short and a BUY while short closes it.

Drawdown: per strategy, equity is valued at every price of its coin (``mark``/``mark_values``);
for the whole ledger, the total equity is valued at every tick of the sampling clock
(``sample``), the same clock that feeds the Sharpe ratio.

P&L: a closing fill realises ``(exit − entry) × qty`` (mirrored for a short) minus the fees of
both legs. Unrealised P&L of an open position is ``(mark − entry) × qty`` minus the entry fee
already paid; equity = realised + unrealised. ``total_profit``/``total_loss`` sum positive /
absolute negative realised P&L; ``net_pnl`` = total_profit − total_loss.

The ledger is plain data and arithmetic: it has no lock of its own. The engine holds the one
lock around it (DESIGN.md: one writer, readers take copies under the lock).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

from velocitas_desktop.core.finite import finite_or_none
from velocitas_desktop.core.metrics import (
    ChangeStats,
    DrawdownTracker,
    periods_per_year,
    win_rate,
)
from velocitas_desktop.core.types import Action, Signal, Trade

_BUY = Action.BUY
_TEXT = {Action.BUY: "BUY", Action.SELL: "SELL"}  # Enum.value is a slow property
DEFAULT_FEE = 0.001  # Binance spot taker fee, 0.1%
DEFAULT_SAMPLE_SECONDS = 60.0


class Book:
    """One strategy's account: position, entry, realised P&L, counters and equity tracking."""

    __slots__ = (
        "allow_short", "closed", "coin", "drawdown", "entry_fee", "entry_price", "fees", "last_price", "losing", "position", "realized", "returns", "strategy_id",
        "strategy_name", "total_loss", "total_profit", "total_trades", "winning",
    )

    def __init__(self, strategy_id: str, coin: str, strategy_name: str,
                 allow_short: bool = False) -> None:
        self.strategy_id = strategy_id
        self.coin = coin
        self.strategy_name = strategy_name
        self.allow_short = allow_short
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
        self.drawdown = DrawdownTracker()
        self.drawdown.update(0.0)
        self.returns = ChangeStats()
        self.returns.add(0.0)

    @property
    def unrealized(self) -> float:
        if self.position == 0.0 or self.last_price != self.last_price:
            return 0.0
        return self.position * (self.last_price - self.entry_price) - self.entry_fee

    @property
    def equity(self) -> float:
        return self.realized + self.unrealized

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

    def metrics(self, sample_periods: float) -> dict[str, Any]:
        """This strategy's metrics in the seed's shape, plus equity and fees."""
        return {
            "strategy_id": self.strategy_id,
            "coin": self.coin,
            "strategy_name": self.strategy_name,
            "total_trades": self.total_trades,
            "winning_trades": self.winning,
            "losing_trades": self.losing,
            "total_profit": self.total_profit,
            "total_loss": self.total_loss,
            "net_pnl": self.total_profit - self.total_loss,
            "current_position": self.position,
            "entry_price": self.entry_price if self.position else 0.0,
            "max_drawdown": self.drawdown.max_drawdown,
            "win_rate": win_rate(self.winning, self.closed),
            "sharpe_ratio": self.returns.sharpe(sample_periods),
            "unrealized_pnl": self.unrealized,
            "equity": self.equity,
            "fees": self.fees,
            "last_price": finite_or_none(self.last_price),
        }


class Ledger:
    """All books, the trade list and the P&L history of one session."""

    def __init__(self, fee_rate: float = DEFAULT_FEE, slippage: float = 0.0,
                 sample_seconds: float = DEFAULT_SAMPLE_SECONDS, keep_trades: bool = True,
                 max_history: int = 200_000) -> None:
        if not 0.0 <= fee_rate < 1.0:
            raise ValueError(f"the fee must be a fraction between 0 and 1 (got {fee_rate})")
        if not 0.0 <= slippage < 1.0:
            raise ValueError(f"slippage must be a fraction between 0 and 1 (got {slippage})")
        if not sample_seconds > 0:
            raise ValueError("the equity sampling clock must be positive")
        self.fee_rate = fee_rate
        self.slippage = slippage
        self.sample_seconds = sample_seconds
        self.sample_periods = periods_per_year(sample_seconds)
        self.keep_trades = keep_trades
        self.books: dict[str, Book] = {}
        self.trades: list[Trade] = []
        # recent P&L points (each fill, each clock sample), bounded for long sessions
        self.pnl_history: deque[dict[str, Any]] = deque(maxlen=max_history)
        # clock samples not yet handed to the journal (fills are journaled as trades)
        self.pending_samples: list[dict[str, Any]] = []
        self.next_trade_id = 1
        self.next_sample = math.nan
        self.total_drawdown = DrawdownTracker()
        self.total_drawdown.update(0.0)
        self.total_returns = ChangeStats()
        self.total_returns.add(0.0)
        self.last_timestamp = math.nan

    # --- books ---------------------------------------------------------------------------

    def open_book(self, strategy_id: str, coin: str, strategy_name: str,
                  allow_short: bool = False) -> Book:
        book = self.books.get(strategy_id)
        if book is None:
            book = Book(strategy_id, coin, strategy_name, allow_short)
            self.books[strategy_id] = book
        else:
            book.allow_short = allow_short
        return book

    def close_book(self, strategy_id: str) -> None:
        self.books.pop(strategy_id, None)

    # --- fills -----------------------------------------------------------------------------

    def accepts(self, strategy_id: str, signal: Signal) -> bool:
        """Whether :meth:`fill` would act on ``signal`` (long-only rules, shorting option)."""
        book = self.books.get(strategy_id)
        if book is None:
            return False
        position = book.position
        if position == 0.0:  # opening needs a size; closing uses the position's own
            return signal.quantity > 0.0 and (signal.action is _BUY or book.allow_short)
        return position < 0.0 if signal.action is _BUY else position > 0.0

    def take_pending_samples(self) -> list[dict[str, Any]]:
        rows, self.pending_samples = self.pending_samples, []
        return rows

    def fill(self, strategy_id: str, signal: Signal, price: float, timestamp: float) -> Trade | None:
        """Apply ``signal`` at market ``price``; the trade, or None when the rules ignore it."""
        book = self.books[strategy_id]
        book.last_price = price
        position = book.position
        if signal.action is _BUY:
            if position > 0.0 or (position == 0.0 and signal.quantity <= 0.0):
                return None
            quantity = -position if position < 0.0 else signal.quantity
            fill_price = price * (1.0 + self.slippage)
            new_position = position + quantity
        else:
            if position < 0.0 or (position == 0.0 and not book.allow_short):
                return None
            quantity = position if position > 0.0 else signal.quantity
            if quantity <= 0.0:
                return None
            fill_price = price * (1.0 - self.slippage)
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
        book.drawdown.update(equity)
        trade = Trade(
            id=self.next_trade_id, strategy_id=strategy_id, coin=book.coin,
            strategy=book.strategy_name, action=_TEXT[signal.action], price=fill_price,
            quantity=quantity, timestamp=timestamp, profit_loss=profit_loss,
            position_size=new_position, fee=fee,
        )
        self.next_trade_id += 1
        if self.keep_trades:
            self.trades.append(trade)
        self.pnl_history.append(_fill_point(trade, book))
        self.last_timestamp = timestamp
        return trade

    def restore(self, trades: Iterable[Trade], pnl_rows: Iterable[dict[str, Any]] = ()) -> None:
        """Rebuild books from a journal's trades (positions, P&L, counters) and its clock
        samples (drawdowns). The P&L history is the fill points, rebuilt from the trades, and
        the samples, in time order (samples first, then fills in trade order, at equal times). Sharpe starts
        afresh: the running moments of the clock are not journaled."""
        last_id = 0
        points: list[dict[str, Any]] = []
        for trade in trades:
            if self.keep_trades:
                self.trades.append(trade)
            book = self.open_book(trade.strategy_id, trade.coin, trade.strategy)
            book.total_trades += 1
            book.fees += trade.fee
            book.last_price = trade.price
            if trade.position_size != 0.0 and book.position == 0.0:
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
            points.append(_fill_point(trade, book))
            last_id = max(last_id, trade.id)
            self.last_timestamp = trade.timestamp
        self.next_trade_id = max(self.next_trade_id, last_id + 1)
        samples = [dict(row) for row in pnl_rows]
        for row in samples:
            book = self.books.get(row["strategy_id"])
            if book is not None:
                book.drawdown.update(row["pnl"])
        # samples first at equal times: a sample is taken before the tick that reaches it
        merged = sorted([(row["timestamp"], 0, row) for row in samples]
                        + [(row["timestamp"], 1, row) for row in points],
                        key=lambda item: (item[0], item[1]))
        self.pnl_history.extend(row for _, _, row in merged)

    # --- the equity clock ----------------------------------------------------------------

    def due_samples(self, timestamp: float) -> bool:
        """True when ``timestamp`` reaches the next sampling time (starting the clock if new)."""
        if self.next_sample != self.next_sample:
            self.next_sample = (math.floor(timestamp / self.sample_seconds) + 1) * self.sample_seconds
            return False
        return timestamp >= self.next_sample

    def sample(self, timestamp: float) -> None:
        """Record every book's equity at the sampling time just reached (Sharpe, P&L chart)."""
        boundary = self.next_sample
        if boundary != boundary:
            return
        steps = math.floor((timestamp - boundary) / self.sample_seconds) + 1
        total = 0.0
        for book in self.books.values():
            equity = book.equity
            total += equity
            book.returns.add(equity)
            # clock ticks skipped by a gap in the data saw no price move: zero changes
            book.returns.add_flat(steps - 1)
            row = {"timestamp": boundary, "strategy_id": book.strategy_id, "pnl": equity,
                   "position": book.position}
            self.pnl_history.append(row)
            self.pending_samples.append(row)
        self.total_returns.add(total)
        self.total_returns.add_flat(steps - 1)
        self.total_drawdown.update(total)
        self.next_sample = boundary + max(steps, 1) * self.sample_seconds

    # --- reading -------------------------------------------------------------------------

    def strategy_metrics(self) -> dict[str, dict[str, Any]]:
        return {sid: book.metrics(self.sample_periods) for sid, book in self.books.items()}

    def global_metrics(self, books: Iterable[Book] | None = None) -> dict[str, Any]:
        """The seed's global aggregates over all books (mode/status are the engine's)."""
        books = list(self.books.values() if books is None else books)
        winning = sum(b.winning for b in books)
        closed = sum(b.closed for b in books)
        total_profit = sum(b.total_profit for b in books)
        total_loss = sum(b.total_loss for b in books)
        unrealized = sum(b.unrealized for b in books)
        return {
            "total_trades": sum(b.total_trades for b in books),
            "winning_trades": winning,
            "losing_trades": sum(b.losing for b in books),
            "total_profit": total_profit,
            "total_loss": total_loss,
            "net_pnl": total_profit - total_loss,
            "unrealized_pnl": unrealized,
            "equity": total_profit - total_loss + unrealized,
            "fees": sum(b.fees for b in books),
            "win_rate": win_rate(winning, closed),
            "max_drawdown": self.total_drawdown.max_drawdown,
            "sharpe_ratio": self.total_returns.sharpe(self.sample_periods),
            "active_coins": len({b.coin for b in books}),
        }


def _fill_point(trade: Trade, book: Book) -> dict[str, Any]:
    """The P&L point a fill records: equity with the position valued at its fill price
    (realised P&L less the open position's entry fee), rebuildable from the trade alone."""
    return {"timestamp": trade.timestamp, "strategy_id": trade.strategy_id,
            "pnl": book.realized - book.entry_fee, "position": trade.position_size}
