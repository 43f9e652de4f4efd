"""The Optimisation tab's helpers, specified without a screen: ranges, captions, tables, ids."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from velocitas_desktop.core.strategy import Param
from velocitas_desktop.gui.optimization.helpers import (
    bar_timeframe,
    cell_ticks,
    combinations_text,
    declared_range,
    default_range,
    heatmap_grid,
    number_text,
    params_text,
    range_values,
    unique_id,
    varied_params,
)
from velocitas_desktop.gui.optimization.tables import result_columns, result_row
from velocitas_desktop.research.optimize import OptimizeError
from velocitas_desktop.research.ranking import METRICS


@pytest.mark.slow
def test_the_helpers_load_without_qt():
    script = ("import json, sys\n"
              "import velocitas_desktop.gui.optimization.helpers\n"
              "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert not {"PySide6", "pyqtgraph"} & set(json.loads(done.stdout))


def test_the_default_search_runs_from_half_the_default_to_twice_it_through_the_default():
    # fast=10 within 2..500 by 1: 5..20 in about ten values is a step of 2, anchored on 10
    assert default_range(Param(10, low=2, high=500, step=1)) == "6:20:2"
    assert range_values("slow", default_range(Param(26, low=3, high=1000, step=1))) == [
        16, 21, 26, 31, 36, 41, 46, 51]


def test_the_default_search_stays_within_the_declared_bounds():
    # overbought=70 by 5 up to 100: twice the default is cut at the bound
    assert default_range(Param(70.0, low=0.0, high=100.0, step=5.0)) == "40:100:10"


def test_a_default_of_zero_searches_upward_on_the_declared_step():
    values = range_values("threshold", default_range(Param(0.0, low=0.0, high=100.0, step=0.1)))
    assert values == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def test_a_step_finer_than_the_span_needs_is_kept_as_declared():
    assert default_range(Param(4, low=2, high=6, step=1)) == "2:6:1"


def test_a_parameter_without_a_step_or_a_bool_starts_as_in_the_declaration():
    assert default_range(Param(1.0, low=0.0)) == "1"
    assert default_range(Param(True)) == "0,1"


def test_a_declared_range_is_low_high_step_or_the_default_when_there_is_no_step():
    assert declared_range(Param(10, low=2, high=500, step=1)) == "2:500:1"
    assert declared_range(Param(1.0, low=0.1, high=10.0, step=0.1)) == "0.1:10:0.1"
    assert declared_range(Param(1.0, low=0.0)) == "1"  # no step: held at its default
    assert declared_range(Param(True)) == "0,1"  # a switch tries both


def test_numbers_read_as_a_trader_types_them():
    assert [number_text(v) for v in (5.0, 5, 0.25, 1e-05, 2500000.0)] == [
        "5", "5", "0.25", "1e-05", "2500000"]


def test_a_typed_range_gives_its_values_or_says_what_is_wrong():
    assert range_values("fast", " 5:15:5 ") == [5, 10, 15]
    assert range_values("threshold", "1,2.5") == [1, 2.5]
    with pytest.raises(OptimizeError, match="range of fast is empty"):
        range_values("fast", "  ")
    with pytest.raises(OptimizeError, match="low 50 is above high 5"):
        range_values("fast", "50:5:5")


def test_the_count_multiplies_the_ranges_and_names_the_rule_that_thins_them():
    assert combinations_text({"fast": [5, 10, 15], "slow": [20, 30]}) == (
        "3 × 2 = 6 combinations")
    assert combinations_text({"period": list(range(2000))}, "fast < slow") == (
        "2,000 combinations before the rule fast < slow")


def test_a_caption_names_the_parameters_asked_for_in_that_order():
    params = {"fast": 10.0, "slow": 30, "quantity": 0.5}
    assert params_text(params, ["slow", "fast", "missing"]) == "slow=30  fast=10"


def test_axis_labels_sit_at_cell_centres_and_thin_out_past_twelve():
    assert cell_ticks([5, 10, 15]) == [(0.5, "5"), (1.5, "10"), (2.5, "15")]
    ticks = cell_ticks(list(range(30)))
    assert len(ticks) == 10 and ticks[:2] == [(0.5, "0"), (3.5, "3")]


def test_bars_of_a_known_interval_decide_live_on_that_timeframe_else_on_ticks():
    assert bar_timeframe(3600.0) == "1h"
    assert bar_timeframe(3600.0 + 1e-9) == "1h"
    assert bar_timeframe(7.0) == "tick"
    assert bar_timeframe(None) == "tick"


def test_heatmap_holds_other_parameters_at_the_best_rows_values():
    results = [
        {"params": {"a": 1, "b": 1, "c": 9}, "score": 3.0},
        {"params": {"a": 2, "b": 1, "c": 9}, "score": 2.0},
        {"params": {"a": 1, "b": 2, "c": 8}, "score": 5.0},  # another c: not shown
        {"params": {"a": 2, "b": 2, "c": 9}, "score": None},
    ]
    xs, ys, grid = heatmap_grid(results, "a", "b", {"a": 1, "b": 1, "c": 9})
    assert xs == [1, 2] and ys == [1, 2]
    assert grid[0, 0] == 3.0 and grid[1, 0] == 2.0
    assert math.isnan(grid[0, 1]) and math.isnan(grid[1, 1])


def test_a_taken_strategy_id_gets_the_next_free_number():
    assert unique_id("BTC_SMA_Crossover", set()) == "BTC_SMA_Crossover"
    taken = {"BTC_SMA_Crossover", "BTC_SMA_Crossover_2"}
    assert unique_id("BTC_SMA_Crossover", taken) == "BTC_SMA_Crossover_3"


def test_the_ranked_table_shows_the_parameters_that_vary_between_rows():
    results = [{"params": {"fast": 5, "slow": 20, "quantity": 1}},
               {"params": {"fast": 10, "slow": 20, "quantity": 1}}]
    grid = {"fast": [5, 10], "slow": [20], "quantity": [1]}
    assert varied_params(grid, results) == ["fast"]
    assert varied_params({"slow": [20]}, results[:1]) == ["slow"]  # nothing varies: all


def test_a_ranked_result_fills_its_row_in_sample_out_of_sample_and_its_parameters():
    item = {"rank": 2, "params": {"fast": 10, "slow": 30}, "score": 1.5, "oos_score": -0.5,
            "stats": {"total_trades": 40, "win_rate": 55.0, "max_drawdown_pct": 12.5,
                      "net_pnl": 900.0},
            "oos_stats": {"net_pnl": -120.0}}
    assert result_row(item, ["fast"]) == {
        "rank": 2, "score": 1.5, "oos_score": -0.5, "trades": 40, "win_rate": 55.0,
        "max_dd": 12.5, "net_pnl": 900.0, "oos_pnl": -120.0, "p_fast": 10}
    in_sample_only = {**item, "oos_score": None, "oos_stats": None}
    assert result_row(in_sample_only, [])["oos_pnl"] is None
    columns = result_columns(METRICS["calmar_ratio"], ["fast"])
    assert [c.key for c in columns] == [
        "rank", "p_fast", "score", "oos_score", "trades", "win_rate", "max_dd", "net_pnl",
        "oos_pnl"]
    assert [c.title for c in columns][2:4] == ["Calmar ratio", "Calmar ratio (out)"]
