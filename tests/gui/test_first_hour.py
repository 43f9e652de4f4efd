"""The window a trader meets first: what the Add-strategy form proposes, and the welcome that
sets up a ready set of strategies in one click."""

from __future__ import annotations

from gui_helpers import WAIT_MS, add_strategy, click, table_column

from velocitas_desktop.engine.request import DEFAULT_TIMEFRAME


def test_the_add_strategy_form_proposes_one_minute_bars(qtbot, window):
    form = add_strategy(qtbot, window, "SMA", "BTC", timeframe=None, press_ok=False)
    assert form.timeframe_box.currentText() == DEFAULT_TIMEFRAME == "1m"
    click(qtbot, form.ok_button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    assert window.engine.strategy("BTC_SMA_Crossover")["timeframe"] == "1m"
    assert table_column(window.strategies_panel.table, "strategy_id") == ["BTC_SMA_Crossover"]


def test_tick_can_still_be_chosen_in_the_form(qtbot, window):
    add_strategy(qtbot, window, "RSI", "ETH", timeframe="tick")
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 1, timeout=WAIT_MS)
    assert window.engine.strategy("ETH_RSI")["timeframe"] == "tick"
