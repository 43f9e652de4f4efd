"""The optimisation page runs a small grid on the bundled sample to its ranked results, draws
the heatmap, and shows the equity curve of the row chosen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def test_a_small_grid_runs_to_ranked_results_and_a_chosen_rows_equity_curve(server, page):
    page.goto(server.url + "/optimize")
    form = page.get_by_role("form", name="Optimisation job")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy", exact=True).select_option("SMA_Crossover")
    for param, (low, high, step) in {"fast": (5, 10, 5), "slow": (20, 40, 20)}.items():
        form.get_by_label(f"{param} from", exact=True).fill(str(low))
        form.get_by_label(f"{param} to", exact=True).fill(str(high))
        form.get_by_label(f"{param} step", exact=True).fill(str(step))
    expect(page.get_by_test_id("combinations")).to_contain_text("4 combinations")
    form.get_by_role("button", name="Run", exact=True).click()

    results = page.get_by_role("region", name="Results")
    expect(results.locator("[data-rank]")).to_have_count(4, timeout=60_000)
    heatmap = page.get_by_role("region", name="Heatmap")
    expect(heatmap.get_by_test_id("heatmap")).to_have_attribute("data-cells", "4")  # fast x slow
    # a cell is reached and chosen from the keyboard too: its row becomes the selected one
    cell = heatmap.get_by_role("button", name=re.compile(r"\(rank 3\)"))
    cell.focus()
    page.keyboard.press("Enter")
    expect(results.locator('[data-rank="3"]')).to_have_attribute("aria-selected", "true")
    results.locator('[data-rank="1"]').click()
    equity = page.get_by_role("region", name="Equity curve")
    expect(equity.locator("canvas").first).to_be_visible()
    job = server.api.get("/api/optimization/jobs").json()[0]
    assert job["status"] == "finished" and job["total"] == 4

    # the chosen row becomes a live strategy with its parameters
    best = server.api.get(f"/api/optimization/jobs/{job['job_id']}/results").json()["results"][0]
    results.get_by_role("button", name="Apply to live").click()
    apply = page.get_by_role("dialog", name="Apply to live")
    apply.get_by_label("Coin", exact=True).fill("ETH")
    apply.get_by_label("Strategy id", exact=True).fill("ETH_best")
    apply.get_by_role("button", name="Register").click()
    expect(apply.get_by_role("status")).to_be_visible()
    live = server.api.get("/api/strategies/ETH_best").json()
    assert live["coin"] == "ETH" and {k: live["params"][k] for k in ("fast", "slow")} == {
        k: best["params"][k] for k in ("fast", "slow")}


def test_walk_forward_folds_are_asked_in_the_form_and_listed_under_the_ranking(server, page):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(server.url + "/optimize")
    form = page.get_by_role("form", name="Optimisation job")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy", exact=True).select_option("SMA_Crossover")
    for param, (low, high, step) in {"fast": (5, 15, 5), "slow": (20, 40, 10)}.items():
        form.get_by_label(f"{param} from", exact=True).fill(str(low))
        form.get_by_label(f"{param} to", exact=True).fill(str(high))
        form.get_by_label(f"{param} step", exact=True).fill(str(step))
    folds = form.get_by_label("Walk-forward folds", exact=True)
    folds.fill("51")
    form.get_by_role("button", name="Run", exact=True).click()
    assert folds.evaluate("input => input.validity.rangeOverflow")  # the browser says why
    assert server.api.get("/api/optimization/jobs").json() == []
    folds.fill("3")
    form.get_by_role("button", name="Run", exact=True).click()

    results = page.get_by_role("region", name="Results")
    expect(results.locator("[data-rank]")).to_have_count(9, timeout=60_000)
    walk = results.get_by_role("region", name="Walk-forward")
    expect(walk.locator("[data-fold]")).to_have_count(3)
    job = server.api.get("/api/optimization/jobs").json()[0]
    folds_json = server.api.get(
        f"/api/optimization/jobs/{job['job_id']}/results").json()["walk_forward"]
    assert [f["fold"] for f in folds_json] == [1, 2, 3]
    first = walk.locator('[data-fold="1"]')
    best = folds_json[0]["params"]
    expect(first).to_contain_text(f"fast={best['fast']}  slow={best['slow']}")
    start, stop = folds_json[0]["in_sample_bars"]
    expect(first).to_contain_text(f"{start:,}–{stop - 1:,}")
    expect(walk).to_contain_text("Walk-forward, 3 folds: each ranked on one window and scored "
                                 "its best on the next. Sharpe ratio out of sample")


def test_a_refused_run_then_a_good_one_leaves_the_page_working(server, page):
    """The error line scrolls itself into view; once an effect handed React the promise that
    Chromium's scrollIntoView returns, and clearing the error blanked the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server.url + "/optimize")
    form = page.get_by_role("form", name="Optimisation job")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy", exact=True).select_option("SMA_Crossover")
    form.get_by_label("fast from", exact=True).fill("abc")
    form.get_by_role("button", name="Run", exact=True).click()
    expect(form.get_by_role("alert")).to_be_visible()
    for param, (low, high, step) in {"fast": (5, 10, 5), "slow": (20, 40, 20)}.items():
        form.get_by_label(f"{param} from", exact=True).fill(str(low))
        form.get_by_label(f"{param} to", exact=True).fill(str(high))
        form.get_by_label(f"{param} step", exact=True).fill(str(step))
    form.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("region", name="Results").locator("[data-rank]")).to_have_count(
        4, timeout=60_000)
    expect(form.get_by_role("alert")).to_be_hidden()
    assert errors == []
