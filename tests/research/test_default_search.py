"""The search an optimisation runs when it is given no ranges: one rule (research.optimize),
about ten values around each default, the same on the command line, the API and the tab."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from research_helpers import SAMPLE

from velocitas_desktop.catalog import load_catalog
from velocitas_desktop.cli import main
from velocitas_desktop.core.strategy import Param
from velocitas_desktop.research.jobs import OptimizationService
from velocitas_desktop.research.optimize import (
    MAX_COMBINATIONS,
    default_grid,
    grid_combinations,
    grid_size,
    search_range,
)

CATALOG = load_catalog()
# combinations before and after each built-in's rule (fast < slow, oversold < overbought)
DEFAULT_SIZES = {"MACD": (560, 511), "Momentum": (80, 80), "RSI": (490, 427),
                 "SMA_Crossover": (80, 76)}


def param(default: float, low: float, high: float, step: float) -> Param:
    return Param(default, low=low, high=high, step=step)


@pytest.mark.parametrize(("declared", "span"), [
    # fast=10 within 2..500 by 1: 5..20 in about ten values is a step of 2, anchored on 10
    (param(10, 2, 500, 1), (6, 20, 2)),
    # slow=30 by 1: 15..60 is a step of 5
    (param(30, 3, 2000, 1), (15, 60, 5)),
    # overbought=70 by 5 up to 100: twice the default is cut at the bound
    (param(70.0, 0.0, 100.0, 5.0), (40, 100, 10)),
    # a default of zero searches upward on the declared step
    (param(0.0, 0.0, 100.0, 0.1), (0, 0.9, 0.1)),
    # a step finer than the span needs is kept as declared
    (param(4, 2, 6, 1), (2, 6, 1)),
])
def test_the_default_search_runs_from_half_the_default_to_twice_it_through_it(declared, span):
    assert search_range(declared) == span
    first, _, step = span
    assert (declared.default - first) % step == pytest.approx(0, abs=1e-9)  # through it


def test_a_switch_or_a_parameter_without_a_step_is_held_at_its_default():
    assert search_range(Param(True)) is None
    assert search_range(Param(1.0, low=0.0)) is None
    grid = default_grid(CATALOG.get("SMA_Crossover"))
    assert list(grid) == ["fast", "slow"]  # the order size (quantity) is not searched


@pytest.mark.parametrize("name", sorted(DEFAULT_SIZES))
def test_every_built_in_default_search_is_within_the_limit(name):
    cls = CATALOG.get(name)
    grid = default_grid(cls)
    before, after = DEFAULT_SIZES[name]
    assert grid_size(grid) == before <= MAX_COMBINATIONS // 100
    assert len(grid_combinations(cls, grid)) == after
    declared = {n: p.grid() for n, p in cls.params.items() if n in grid}
    assert grid_size(declared) > 100 * before  # what the declared bounds would have asked


# --- the same search on every front end ------------------------------------------------------

@pytest.fixture(scope="module")
def short_bars(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's first 120 bars: the count of a search does not depend on the bars' length,
    and a short file keeps 1,094 backtests quick."""
    path = tmp_path_factory.mktemp("bars") / "BTC-short.csv"
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:121]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_command_line_without_grid_runs_each_built_in_default_search(short_bars, capsys):
    for name, (_, valid) in DEFAULT_SIZES.items():
        code = main(["optimize", "--csv", str(short_bars), "--strategy", name, "--workers", "0",
                     "--json"])
        out = capsys.readouterr().out
        assert code == 0
        rows = json.loads(out)
        assert len(rows) == valid, name
        for param, values in default_grid(CATALOG.get(name)).items():
            assert {row["params"][param] for row in rows} == set(values), (name, param)


def test_the_api_with_an_empty_grid_runs_each_built_in_default_search(short_bars, tmp_path):
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.server.app import create_app

    engine = Engine(restore=False)
    service = OptimizationService([short_bars.parent], upload_dir=tmp_path / "uploads")
    try:
        with TestClient(create_app(engine, optimization=service),
                        base_url="http://127.0.0.1") as client:
            for name, (_, valid) in DEFAULT_SIZES.items():
                reply = client.post("/api/optimization/jobs", json={
                    "data_file": short_bars.name, "strategy": name, "workers": 0})
                assert reply.status_code == 202, reply.text
                assert reply.json()["total"] == valid, name
                job_id = reply.json()["job_id"]
                client.post(f"/api/optimization/jobs/{job_id}/cancel")
                deadline = time.monotonic() + 60
                while client.get(f"/api/optimization/jobs/{job_id}").json()["status"] in (
                        "ready", "running") and time.monotonic() < deadline:
                    time.sleep(0.02)
    finally:
        service.shutdown(timeout=30)
        engine.close()


def test_the_tab_opens_on_each_built_in_default_search(qtbot, home):
    from velocitas_desktop.engine.engine import Engine
    from velocitas_desktop.gui.optimization_tab import OptimizationTab

    engine = Engine(restore=False)
    tab = OptimizationTab(engine)
    qtbot.addWidget(tab)
    try:
        for name in DEFAULT_SIZES:
            tab.strategy_box.setCurrentText(name)
            assert tab.read_grid() == default_grid(CATALOG.get(name)), name
    finally:
        tab.shutdown()
        engine.close()
