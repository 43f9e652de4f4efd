"""What the charts ask of the engine, off the Qt thread: earlier candles, P&L history, a strategy's indicators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from velocitas_desktop.catalog import Catalog
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.background import run_in_background
from velocitas_desktop.gui.charts import PriceCharts
from velocitas_desktop.gui.indicators import StrategyStudy, strategy_study
from velocitas_desktop.gui.pnl import PnlChart

# P&L rows read back for the chart when a session ends or is restored: 200,000 is the most
# the engine keeps; unpickling them on the reader thread took ~0.2 s, this many ~0.05 s.
PNL_ROWS = 50_000


class ChartSession:
    """Keeps the charts whole where the live events alone cannot.

    - At a start, each coin's candles from before its first live price (a live feed's
      history) come from the engine's ``candles`` call.
    - When a session ends, and when the window opens on a restored one, the P&L curves are
      drawn from the engine's P&L history, which a replay at full speed outruns in snapshots.
    - The strategy selected in the strategies table has its indicators drawn, with its fills
      alone, on its coin's chart.
    """

    def __init__(self, engine: TradingEngine, charts: PriceCharts, pnl: PnlChart,
                 selected: Callable[[], str | None], catalog: Callable[[], Catalog],
                 show_error: Callable[[str], None]) -> None:
        self.engine = engine
        self.charts = charts
        self.pnl = pnl
        self.selected = selected
        self.catalog = catalog
        self.show_error = show_error
        self.session = 0  # answers that come back after the next start are dropped

    def session_starting(self) -> None:
        """A new session: whatever was asked for the last one no longer applies."""
        self.session += 1

    def _current(self, apply: Callable[[Any], None]) -> Callable[[Any], None]:
        """``apply``, for an answer about the session running when it was asked for."""
        asked = self.session
        return lambda answer: apply(answer) if asked == self.session else None

    def session_started(self, coins: list[str]) -> None:
        engine = self.engine
        run_in_background(lambda: [engine.candles(coin) for coin in coins],
                          self._current(lambda found: self._backfill(found, running=True)),
                          lambda exc: None)  # the live candles come all the same

    def session_ended(self) -> None:
        engine = self.engine
        run_in_background(lambda: engine.pnl_history(limit=PNL_ROWS),
                          self._current(self.pnl.show_history),
                          lambda exc: None)  # the live curves stay

    def window_opened(self, trades: list[dict[str, Any]]) -> None:
        """The window opened on a session (restored, or running): its fills go on the
        charts, its P&L history and whatever candles the engine kept come back."""
        if trades:
            self.charts.add_fills(trades)
        engine = self.engine
        traded = {t["coin"] for t in trades}
        running = engine.status.busy

        def read() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            coins = sorted(traded | set(engine.state().get("coins", [])))
            return [engine.candles(coin) for coin in coins], engine.pnl_history(limit=PNL_ROWS)

        run_in_background(read, self._current(
                              lambda found: self._restored(found[0], found[1], running)),
                          lambda exc: self.show_error(f"Could not read the session's charts: "
                                                      f"{exc}"))

    def _restored(self, candles: list[dict[str, Any]], history: list[dict[str, Any]],
                  running: bool) -> None:
        self._backfill(candles, running)
        self.pnl.show_history(history)

    def _backfill(self, found: list[dict[str, Any]], running: bool) -> None:
        for candles in found:
            self.charts.backfill(candles, running)

    def strategy_selected(self, *_: Any) -> None:
        """Draw the selected strategy's own indicators (None selected: none)."""
        strategy_id = self.selected()
        if strategy_id is None:
            self.charts.show_strategy(None)
            return
        engine = self.engine
        run_in_background(lambda: engine.strategy(strategy_id), self._show_strategy,
                          lambda exc: self.charts.show_strategy(None))

    def _show_strategy(self, described: dict[str, Any]) -> None:
        if described["strategy_id"] != self.selected():
            return  # another row was selected meanwhile
        try:
            strategy = self.catalog().create(StrategySpec.from_dict(described))
            study: StrategyStudy | None = strategy_study(strategy, described["strategy_id"])
        except (VelocitasError, KeyError, ValueError) as exc:
            self.show_error(f"The indicators of {described['strategy_id']} cannot be drawn: "
                            f"{exc}.")
            study = None
        self.charts.show_strategy(study)
