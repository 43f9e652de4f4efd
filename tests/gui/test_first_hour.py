"""The window a trader meets first: what the Add-strategy form proposes, and the welcome that
sets up a ready set of strategies in one click."""

from __future__ import annotations

from gui_helpers import WAIT_MS, add_strategy, click, click_row, stop, table_column

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


BUILTINS = ["MACD", "Momentum", "RSI", "SMA_Crossover"]


def test_a_window_without_strategies_welcomes_with_a_ready_set(qtbot, window):
    assert window.welcome.isVisible()
    assert window.welcome.button.text() == "Add one of each built-in on BTC and ETH (1m bars)"
    assert "velocitas gui --demo" in window.welcome.message.text()
    assert "nothing trades" in window.findChild(type(window.welcome.message),
                                                "welcomeTitle").text()


def test_one_click_adds_the_ready_set_and_start_makes_it_trade(qtbot, any_window):
    window = any_window
    click(qtbot, window.welcome.button)
    qtbot.waitUntil(lambda: window.strategies_panel.model.rowCount() == 8, timeout=WAIT_MS)
    ids = table_column(window.strategies_panel.table, "strategy_id")
    assert sorted(ids) == sorted(f"{coin}_{name}" for coin in ("BTC", "ETH")
                                 for name in BUILTINS)
    assert {s["timeframe"] for s in window.engine.strategies()} == {"1m"}
    qtbot.waitUntil(lambda: not window.welcome.isVisible(), timeout=WAIT_MS)
    # the toolbar is set for bars that close quickly: the simulated market at full speed
    assert window.source_box.currentData() == "simulated"
    assert window.coins_edit.text() == "BTC,ETH" and window.rate_edit.text() == "max"

    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: window.blotter.model.rowCount() > 0, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.kpis.values["total_trades"].text() != "0", timeout=WAIT_MS)
    stop(qtbot, window)


def test_the_welcome_goes_when_a_strategy_is_added_and_comes_back_when_none_is_left(
        qtbot, window):
    add_strategy(qtbot, window, "RSI", "BTC")
    qtbot.waitUntil(lambda: not window.welcome.isVisible(), timeout=WAIT_MS)
    click_row(qtbot, window.strategies_panel.table, 0)
    click(qtbot, window.strategies_panel.remove_button)
    qtbot.waitUntil(window.welcome.isVisible, timeout=WAIT_MS)


def test_a_restored_session_with_strategies_opens_without_the_welcome(qtbot, make_window):
    first = make_window()
    click(qtbot, first.welcome.button)
    qtbot.waitUntil(lambda: first.strategies_panel.model.rowCount() == 8, timeout=WAIT_MS)
    click(qtbot, first.start_button)  # a session is what the journal restores
    qtbot.waitUntil(lambda: first.engine.status == "running" and not first.busy,
                    timeout=WAIT_MS)
    stop(qtbot, first)
    first.close()
    again = make_window(restore=True)
    assert again.strategies_panel.model.rowCount() == 8
    assert not again.welcome.isVisible()


def test_the_welcome_renders(qtbot, window, tmp_path):
    path = tmp_path / "welcome.png"
    assert window.grab().save(str(path))
    assert path.stat().st_size > 10_000
