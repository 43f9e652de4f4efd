"""The Optimisation tab driven as a trader would: file, strategy, ranges, Run, rows, Apply."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from gui.gui_helpers import retype
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QLineEdit

from velocitas_desktop.gui.optimization.helpers import combinations_text
from velocitas_desktop.gui.optimization_tab import OptimizationTab
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.backtest import backtest, load_bars
from velocitas_desktop.research.jobs import JobStateError, OptimizationService
from velocitas_desktop.research.optimize import (
    MAX_COMBINATIONS,
    JobStatus,
    OptimizationJob,
    OptimizeSettings,
)
from velocitas_desktop.research.ranking import METRICS

WAIT_MS = 30_000  # generous: other engineers' tests share the two cores
SAMPLE = "BTCUSD-1h-sample.csv"


def tick(qtbot, box) -> None:  # type: ignore[no-untyped-def]
    """Click a checkbox on its indicator, as a person aims for the little box."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def type_range(qtbot, tab: OptimizationTab, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    row = tab.range_row(name)
    if not row.vary.isChecked():
        tick(qtbot, row.vary)
    row.edit.selectAll()
    qtbot.keyClick(row.edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(row.edit, text)


def type_file(qtbot, tab: OptimizationTab, text: str) -> None:  # type: ignore[no-untyped-def]
    edit: QLineEdit = tab.file_box.lineEdit()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def click(qtbot, widget) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot, view, row: int) -> None:  # type: ignore[no-untyped-def]
    rect = view.visualRect(view.model().index(row, 1))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def set_up_small_grid(qtbot, tab: OptimizationTab) -> None:  # type: ignore[no-untyped-def]
    tab.file_box.setCurrentIndex(tab.file_box.findText(SAMPLE))
    tab.strategy_box.setCurrentText("RSI")  # another strategy first: the form is rebuilt
    tab.strategy_box.setCurrentText("SMA_Crossover")
    type_range(qtbot, tab, "fast", "5:15:5")
    type_range(qtbot, tab, "slow", "20:40:10")
    tab.workers_box.setValue(0)  # one background thread: quick for nine backtests


def wait_for_results(qtbot, tab: OptimizationTab, rows: int) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: not tab.running and tab.results_model.rowCount() == rows,
                    timeout=WAIT_MS)


def set_up_long_grid(qtbot, tab: OptimizationTab) -> None:  # type: ignore[no-untyped-def]
    """Thousands of combinations on one thread: still running when the test acts on it."""
    set_up_small_grid(qtbot, tab)
    type_range(qtbot, tab, "fast", "2:80:1")
    type_range(qtbot, tab, "slow", "20:300:2")


def test_the_ranges_form_is_generated_from_the_strategy_declaration(qtbot, tab):
    tab.strategy_box.setCurrentText("SMA_Crossover")
    assert [r.param.name for r in tab.range_rows] == ["fast", "slow", "quantity"]
    # around the default (fast=10, slow=30), not the declared 2:500 and 3:2000
    assert tab.range_row("fast").edit.text() == "6:20:2"
    assert tab.range_row("slow").edit.text() == "15:60:5"
    assert "from 2:500:1" in tab.range_row("fast").edit.toolTip()  # the declared bounds
    assert tab.range_row("fast").vary.isChecked()
    assert not tab.range_row("quantity").vary.isChecked()  # no step: held at its default
    assert tab.count_label.text() == "8 × 10 = 80 combinations before the rule fast < slow"
    tab.strategy_box.setCurrentText("RSI")
    assert [r.param.name for r in tab.range_rows] == ["period", "oversold", "overbought",
                                                       "quantity"]
    assert tab.range_row("oversold").edit.text() == "15:60:5"


def test_every_built_in_opens_with_a_search_the_tab_can_run(qtbot, tab):
    sizes = {}
    for name in tab.engine.catalog.names():
        tab.strategy_box.setCurrentText(name)
        grid = tab.read_grid()
        sizes[name] = math.prod(len(values) for values in grid.values())
        assert tab.count_label.text().startswith(combinations_text(grid).split(" before")[0])
        assert "limit" not in tab.count_label.text()
    assert sizes == {"MACD": 560, "Momentum": 80, "RSI": 490, "SMA_Crossover": 80}
    assert max(sizes.values()) <= MAX_COMBINATIONS // 100


def test_the_default_search_runs_to_its_ranked_results(qtbot, tab):
    tab.file_box.setCurrentIndex(tab.file_box.findText(SAMPLE))
    tab.strategy_box.setCurrentText("SMA_Crossover")
    tab.workers_box.setValue(0)
    click(qtbot, tab.run_button)
    # the 80 pairs of fast 6:20:2 and slow 15:60:5, less those the rule fast < slow rules out
    valid = sum(1 for fast in range(6, 21, 2) for slow in range(15, 61, 5) if fast < slow)
    assert valid == 76
    wait_for_results(qtbot, tab, valid)
    assert tab.result is not None and tab.result["completed"] == valid


def test_walk_forward_folds_show_each_folds_best_parameters_and_scores(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    assert not tab.walk_view.isVisible()
    retype(qtbot, tab.walk_forward_box, "99")  # over the 50 folds a search may have
    click(qtbot, tab.run_button)
    assert "walk-forward folds" in tab.message.text() and not tab.running
    retype(qtbot, tab.walk_forward_box, "3")
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    assert tab.walk_view.isVisible() and tab.walk_label.isVisible()
    folds = tab.result["walk_forward"]
    # what the optimiser says of the same search, fold by fold
    job = OptimizationJob(OptimizeSettings(
        strategy="SMA_Crossover", grid={"fast": [5, 10, 15], "slow": [20, 30, 40]},
        workers=0, in_sample=0.7, walk_forward=3), load_bars(sample_data_dir() / SAMPLE))
    assert folds == job.run()["walk_forward"] and len(folds) == 3
    model = tab.walk_model
    assert model.rowCount() == 3
    bars = len(load_bars(sample_data_dir() / SAMPLE))
    size = bars // 4
    assert [model.value(r, "fold") for r in range(3)] == [1, 2, 3]
    assert model.value(0, "in_bars") == f"0–{size - 1:,}"
    assert model.value(2, "out_bars") == f"{3 * size:,}–{bars - 1:,}"
    best = folds[0]["params"]
    assert model.value(0, "params") == f"fast={best['fast']}  slow={best['slow']}"
    assert model.value(1, "out_score") == pytest.approx(folds[1]["out_of_sample_score"])
    text = tab.walk_label.text()
    assert text.startswith("Walk-forward, 3 folds: each ranked on one window and scored its "
                           "best on the next. Sharpe ratio out of sample ")
    # a search without folds hides them again
    retype(qtbot, tab.walk_forward_box, "0")
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and "walk_forward" not in (tab.result or {}),
                    timeout=WAIT_MS)
    assert not tab.walk_view.isVisible()


def test_rank_by_offers_each_research_metric_under_its_title(qtbot, tab):
    box = tab.metric_box
    offered = [(box.itemText(i), box.itemData(i)) for i in range(box.count())]
    assert offered == [(m.title, m.key) for m in METRICS.values()]
    assert box.currentText() == "Sharpe ratio"


def test_trader_optimises_inspects_the_best_row_and_applies_it_live(qtbot, tab, engine):
    set_up_small_grid(qtbot, tab)
    assert tab.count_label.text().startswith("3 × 3 = 9 combinations")

    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)

    assert tab.progress.maximum() == 9 and tab.progress.value() == 9  # 100 %
    assert tab.message.text().startswith("Finished: 9 of 9 combinations")
    model = tab.results_model
    assert [model.value(r, "rank") for r in range(9)] == list(range(1, 10))
    scores = [model.value(r, "score") for r in range(9)]
    assert scores == sorted(scores, reverse=True)  # Sharpe: higher ranks first
    titles = [c.title for c in model.columns]
    assert titles[:3] == ["#", "fast", "slow"]
    assert "Sharpe ratio (out)" in titles  # out-of-sample side by side (in-sample 0.7)

    # the same search run directly by the research layer ranks the same rows
    bars = load_bars(sample_data_dir() / SAMPLE)
    direct = OptimizationJob(OptimizeSettings("SMA_Crossover",
                                              grid={"fast": [5, 10, 15], "slow": [20, 30, 40]},
                                              workers=0, in_sample=0.7), bars).run()
    shown = [(model.value(r, "p_fast"), model.value(r, "p_slow")) for r in range(9)]
    assert shown == [(d["params"]["fast"], d["params"]["slow"]) for d in direct["results"]]
    assert math.isclose(model.value(0, "score"), direct["results"][0]["score"])

    # heatmap: fast across, slow up, each cell the row's score
    assert (tab.x_box.currentText(), tab.y_box.currentText()) == ("fast", "slow")
    assert tab.heatmap.xs == [5, 10, 15] and tab.heatmap.ys == [20, 30, 40]
    for item in direct["results"]:
        i = tab.heatmap.xs.index(item["params"]["fast"])
        j = tab.heatmap.ys.index(item["params"]["slow"])
        assert math.isclose(tab.heatmap.grid[i, j], item["score"])

    # the top row's equity curve and trades, backtested off the Qt thread
    click_row(qtbot, tab.results_view, 0)
    top = direct["results"][0]["params"]
    expected = backtest("SMA_Crossover", bars, top)
    qtbot.waitUntil(lambda: tab.trades_model.rowCount() == len(expected.trades),
                    timeout=WAIT_MS)
    assert tab.equity.points == len(bars)
    assert np.allclose(tab.equity.curve.getData()[1], expected.equity)
    assert tab.trades_model.value(0, "price") == expected.trades[0].price
    assert tab.apply_button.isEnabled()

    # Apply to live twice: the second gets a unique id
    click(qtbot, tab.apply_button)
    click(qtbot, tab.apply_button)
    registered = {s["strategy_id"]: s for s in engine.strategies()}
    assert set(registered) == {"BTC_SMA_Crossover", "BTC_SMA_Crossover_2"}
    assert registered["BTC_SMA_Crossover"]["params"]["fast"] == top["fast"]
    assert registered["BTC_SMA_Crossover"]["params"]["slow"] == top["slow"]
    assert tab.apply_message.text().startswith("Registered BTC_SMA_Crossover_2")


def test_apply_to_live_uses_the_chosen_coin(qtbot, tab, engine):
    set_up_small_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    click_row(qtbot, tab.results_view, 2)
    tab.coin_box.setCurrentText("")
    qtbot.keyClicks(tab.coin_box.lineEdit(), "eth")
    click(qtbot, tab.apply_button)
    third = tab.results[2]["params"]
    (only,) = engine.strategies()
    assert only["strategy_id"] == "ETH_SMA_Crossover" and only["coin"] == "ETH"
    assert (only["params"]["fast"], only["params"]["slow"]) == (third["fast"], third["slow"])


def test_clicking_a_heatmap_cell_selects_its_row(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    plot = tab.heatmap.plot
    scene_point = plot.getPlotItem().vb.mapViewToScene(QPointF(2.5, 0.5))  # fast 15, slow 20
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=plot.mapFromScene(scene_point))
    item = tab.selected_result()
    assert item is not None
    assert (item["params"]["fast"], item["params"]["slow"]) == (15, 20)


def test_ranking_by_drawdown_puts_the_smallest_first_under_its_title(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    tab.metric_box.setCurrentIndex(tab.metric_box.findData("max_drawdown_pct"))
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    model = tab.results_model
    scores = [model.value(r, "score") for r in range(9)]
    assert scores == sorted(scores)  # lower is better: the smallest drawdown ranks first
    assert [c.title for c in model.columns][3:5] == ["Max drawdown %", "Max drawdown % (out)"]
    assert tab.summary.text().startswith("Ranked results: SMA_Crossover by Max drawdown %")
    assert tab.heat_note.text().startswith("Max drawdown % in sample")


def test_a_range_with_low_above_high_is_explained_and_nothing_runs(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    type_range(qtbot, tab, "fast", "50:5:5")
    assert "low 50 is above high 5" in tab.count_label.text()
    click(qtbot, tab.run_button)
    assert "low 50 is above high 5" in tab.message.text()
    assert tab.message.property("error") is True
    assert tab.job is None and tab.results_model.rowCount() == 0
    assert tab.run_button.isEnabled()


def type_and_leave(qtbot, field, text: str) -> None:  # type: ignore[no-untyped-def]
    retype(qtbot, field, text)
    field.clearFocus()  # leaving the field is when it checks itself


@pytest.mark.parametrize(("field", "typed", "reason"), [
    ("in_sample", "0.05", "0.05 is below the lowest in-sample share, 0.1"),
    ("fee_box", "12", "12 is above the highest fee, 5"),
    ("workers_box", "999", "999 is above the highest number of workers"),
    ("random_box", "2.5", "the number of random combinations is a whole number, not 2.5"),
])
def test_an_out_of_range_setting_is_refused_with_its_reason_and_kept_as_typed(
        qtbot, tab, field, typed, reason):
    set_up_small_grid(qtbot, tab)
    box = getattr(tab, field)
    type_and_leave(qtbot, box, typed)
    assert box.message.isVisible() and reason in box.message.text()  # said at the field
    click(qtbot, tab.run_button)
    assert reason in tab.message.text() and tab.message.property("error") is True
    assert tab.job is None and not tab.running
    assert box.text() == typed  # kept, never clamped or put back


def test_random_search_and_workers_read_their_words_and_numbers(qtbot, tab):
    assert tab.random_box.text() == "full grid" and tab.workers_box.text() == "auto"
    type_and_leave(qtbot, tab.random_box, "")
    type_and_leave(qtbot, tab.workers_box, "")
    settings = tab.settings()
    assert settings.random is None and settings.workers is None  # empty reads as the word
    type_and_leave(qtbot, tab.random_box, "40")
    type_and_leave(qtbot, tab.workers_box, "0")
    type_and_leave(qtbot, tab.fee_box, "0.075")
    type_and_leave(qtbot, tab.in_sample, "0.8")
    settings = tab.settings()
    assert (settings.random, settings.workers) == (40, 0)
    assert settings.fee == pytest.approx(0.00075) and settings.in_sample == 0.8


def test_an_empty_grid_is_explained(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    tick(qtbot, tab.range_row("fast").vary)
    tick(qtbot, tab.range_row("slow").vary)
    assert not tab.range_row("fast").edit.isEnabled()
    click(qtbot, tab.run_button)
    assert "the grid is empty" in tab.message.text()
    type_range(qtbot, tab, "fast", "")
    assert "range of fast is empty" in tab.count_label.text()


def test_an_unreadable_file_is_explained(qtbot, tab, tmp_path: Path):
    set_up_small_grid(qtbot, tab)
    broken = tmp_path / "broken.csv"
    broken.write_text("this is not a price file\nat all\n", encoding="utf-8")
    type_file(qtbot, tab, str(broken))
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and tab.message.property("error") is True,
                    timeout=WAIT_MS)
    assert "broken.csv" in tab.message.text()
    assert "Traceback" not in tab.message.text()
    missing = tmp_path / "nowhere.csv"
    type_file(qtbot, tab, str(missing))
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and "nowhere.csv" in tab.message.text(),
                    timeout=WAIT_MS)
    assert tab.results_model.rowCount() == 0 and tab.run_button.isEnabled()


def test_too_many_combinations_are_refused_before_any_work(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    type_range(qtbot, tab, "fast", "2:500:1")
    type_range(qtbot, tab, "slow", "3:2000:1")
    assert "over the 100,000 limit" in tab.count_label.text()
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: not tab.running and "limit" in tab.message.text(), timeout=WAIT_MS)
    assert "combinations" in tab.message.text()
    assert tab.job is None


def test_random_search_backtests_n_combinations(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    type_range(qtbot, tab, "fast", "5:50:5")
    type_range(qtbot, tab, "slow", "20:200:20")
    tab.random_box.setValue(7)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 7)
    assert tab.progress.value() == tab.progress.maximum() == 7


def test_cancel_stops_a_long_search_and_keeps_the_rows_done(qtbot, tab):
    set_up_long_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: tab.job is not None, timeout=WAIT_MS)
    click(qtbot, tab.cancel_button)
    qtbot.waitUntil(lambda: not tab.running and tab.message.text().startswith("Cancelled"),
                    timeout=WAIT_MS)
    assert tab.result is not None and tab.result["cancelled"]
    assert tab.result["completed"] < tab.result["combinations"]
    assert tab.results_model.rowCount() == tab.result["completed"]
    assert tab.run_button.isEnabled() and not tab.cancel_button.isEnabled()


def test_the_search_is_a_job_of_the_tabs_optimisation_service(qtbot, tab):
    set_up_small_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    first = tab.job
    assert first is not None and tab.service.jobs() == [first]
    assert first.status is JobStatus.FINISHED and first.progress == (9, 9)
    assert first.describe()["data"] == SAMPLE  # the chosen file's name labels the job
    ranked = tab.service.results(first.id)["results"]
    model = tab.results_model
    assert [(model.value(r, "p_fast"), model.value(r, "p_slow")) for r in range(9)] == [
        (row["params"]["fast"], row["params"]["slow"]) for row in ranked]

    click(qtbot, tab.run_button)  # a second run replaces the first job in the service
    qtbot.waitUntil(lambda: tab.job is not first and not tab.running, timeout=WAIT_MS)
    assert tab.service.jobs() == [tab.job] and tab.job.status is JobStatus.FINISHED


def test_progress_shows_while_the_job_runs_and_cancel_reaches_the_service(qtbot, tab):
    set_up_long_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: tab.job is not None
                    and 0 < tab.progress.value() < tab.progress.maximum(), timeout=WAIT_MS)
    assert tab.progress.maximum() == tab.job.progress[1]
    assert tab.running and not tab.run_button.isEnabled() and tab.cancel_button.isEnabled()
    click(qtbot, tab.cancel_button)
    qtbot.waitUntil(lambda: tab.message.text().startswith("Cancelled"), timeout=WAIT_MS)
    assert tab.service.get(tab.job.id).status is JobStatus.CANCELLED
    done, total = tab.job.progress
    assert tab.progress.value() == done < total == tab.progress.maximum()
    shown = tab.service.results(tab.job.id)["results"]
    assert tab.results_model.rowCount() == len(shown) == done


def test_closing_the_tab_cancels_its_job_and_starts_no_other(qtbot, tab):
    set_up_long_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    qtbot.waitUntil(lambda: tab.job is not None, timeout=WAIT_MS)
    tab.shutdown()
    assert tab.job.status is JobStatus.CANCELLED
    with pytest.raises(JobStateError, match="shutting down"):
        tab.service.submit_bars(tab.run_settings, tab.bars, SAMPLE)


def test_a_tab_given_a_service_runs_its_jobs_there_and_leaves_it_open(qtbot, engine):
    service = OptimizationService([sample_data_dir()], catalog=engine.catalog)
    widget = OptimizationTab(engine, service=service)
    qtbot.addWidget(widget)
    set_up_small_grid(qtbot, widget)
    click(qtbot, widget.run_button)
    wait_for_results(qtbot, widget, 9)
    assert service.jobs() == [widget.job]
    widget.shutdown()
    again = service.submit(OptimizeSettings("SMA_Crossover", grid={"fast": [5], "slow": [20]},
                                            workers=0), SAMPLE)
    assert service.wait(again.id, 60) and again.status is JobStatus.FINISHED
    service.shutdown()


def test_the_tab_renders_in_the_dark_theme(qtbot, tab, tmp_path: Path):
    set_up_small_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    click_row(qtbot, tab.results_view, 0)
    qtbot.waitUntil(lambda: tab.trades_model.rowCount() > 0, timeout=WAIT_MS)
    picture = tab.grab()
    path = tmp_path / "optimization.png"
    assert picture.save(str(path))
    image = picture.toImage()
    corner = image.pixelColor(image.width() - 5, image.height() - 5)
    assert corner.lightness() < 60  # dark theme, not a white default background


def test_files_in_the_history_folder_are_listed_next_to_the_sample(qtbot, engine, home):
    import shutil

    from velocitas_desktop.paths import data_dir

    history = data_dir() / "history"
    history.mkdir(parents=True)
    shutil.copy(sample_data_dir() / SAMPLE, history / "ETHUSD-1h.csv")
    widget = OptimizationTab(engine)
    qtbot.addWidget(widget)
    names = [widget.file_box.itemText(i) for i in range(widget.file_box.count())]
    assert names == [SAMPLE, "ETHUSD-1h.csv"]
    assert widget.current_path() == str(sample_data_dir() / SAMPLE)  # the sample first
    widget.file_box.setCurrentIndex(1)
    assert widget.current_path() == str(history / "ETHUSD-1h.csv")


def test_a_bad_coin_is_refused_with_a_message(qtbot, tab, engine):
    set_up_small_grid(qtbot, tab)
    click(qtbot, tab.run_button)
    wait_for_results(qtbot, tab, 9)
    click_row(qtbot, tab.results_view, 0)
    tab.coin_box.setCurrentText("")
    qtbot.keyClicks(tab.coin_box.lineEdit(), "BTC/USD!")
    click(qtbot, tab.apply_button)
    assert tab.apply_message.text().startswith("not applied:")
    assert engine.strategies() == []
