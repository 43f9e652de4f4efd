"""The optimisation page runs a small grid on the bundled sample to its ranked results, draws
the heatmap, and shows the equity curve of the row chosen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow


def sma_search(server, page, ranges: dict[str, tuple[int, int, int]]):  # type: ignore[no-untyped-def]
    """The optimisation page with its form filled: the sample, SMA_Crossover and ``ranges``
    (from, to, step) of its parameters. Returns the form."""
    page.goto(server.url + "/optimize")
    form = page.get_by_role("form", name="Optimisation job")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy", exact=True).select_option("SMA_Crossover")
    fill_ranges(form, ranges)
    return form


def fill_ranges(form, ranges: dict[str, tuple[int, int, int]]) -> None:  # type: ignore[no-untyped-def]
    for param, (low, high, step) in ranges.items():
        form.get_by_label(f"{param} from", exact=True).fill(str(low))
        form.get_by_label(f"{param} to", exact=True).fill(str(high))
        form.get_by_label(f"{param} step", exact=True).fill(str(step))


def test_a_small_grid_runs_to_ranked_results_and_a_chosen_rows_equity_curve(server, page):
    form = sma_search(server, page, {"fast": (5, 10, 5), "slow": (20, 40, 20)})
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
    form = sma_search(server, page, {"fast": (5, 15, 5), "slow": (20, 40, 10)})
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


@pytest.mark.parametrize("where", ["/optimize", "/trend"])
def test_an_upload_under_way_can_be_cancelled_and_the_server_keeps_nothing(
        server, page, tmp_path, where):
    """Over a slow link (the browser's own throttle: 2 MB at 256 kB/s takes 8 s) the trader
    presses Cancel upload: no job starts, no upload is kept, and the next upload goes through."""
    sample = (Path(__file__).resolve().parents[2] / "resources" / "data"
              / "BTCUSD-1h-sample.csv").read_bytes()
    upload = tmp_path / "btcusdt-1h.csv"
    upload.write_bytes(sample)
    big = tmp_path / "btcusdt-1h-big.csv"
    head, *rows = sample.splitlines(keepends=True)
    big.write_bytes(head + b"".join(rows) + b" " * (2_000_000 - len(sample)) + b"\n")
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 256 * 1024})
    page.goto(server.url + where)
    form = page.get_by_role("form", name="Optimisation job" if where == "/optimize"
                            else "Trend analysis")
    if where == "/trend":
        form.get_by_label("Suggest strategies").uncheck()
    form.get_by_label("Upload a bar file", exact=True).set_input_files(str(big))
    form.get_by_role("button", name="Run" if where == "/optimize" else "Analyze",
                     exact=True).click()
    expect(form.get_by_role("progressbar", name="Upload")).to_be_visible()
    form.get_by_role("button", name="Cancel upload").click()
    expect(form.get_by_role("alert")).to_contain_text(
        "Upload cancelled: the server kept nothing of it, and no job started.")
    expect(form.get_by_role("progressbar", name="Upload")).to_be_hidden()
    jobs = "/api/optimization/jobs" if where == "/optimize" else "/api/trend/jobs"
    assert server.api.get(jobs).json() == []
    names = [f["name"] for f in server.api.get("/api/optimization/data-files").json()]
    assert not any(name.startswith("upload-") for name in names), names

    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    form.get_by_label("Upload a bar file", exact=True).set_input_files(str(upload))
    form.get_by_role("button", name="Run" if where == "/optimize" else "Analyze",
                     exact=True).click()
    expect(page.get_by_test_id("job-status")).to_contain_text("finished", timeout=60_000)
    assert len(server.api.get(jobs).json()) == 1


def test_a_refused_run_then_a_good_one_leaves_the_page_working(server, page):
    """The error line scrolls itself into view; once an effect handed React the promise that
    Chromium's scrollIntoView returns, and clearing the error blanked the page."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    form = sma_search(server, page, {})
    form.get_by_label("fast from", exact=True).fill("abc")
    form.get_by_role("button", name="Run", exact=True).click()
    expect(form.get_by_role("alert")).to_be_visible()
    fill_ranges(form, {"fast": (5, 10, 5), "slow": (20, 40, 20)})
    form.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("region", name="Results").locator("[data-rank]")).to_have_count(
        4, timeout=60_000)
    expect(form.get_by_role("alert")).to_be_hidden()
    assert errors == []
