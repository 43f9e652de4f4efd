"""The trend page analyses the bundled sample to a table of its timeframes with their
summaries and a chart with the levels, runs and cancels a job with a progress bar, analyses
an upload and a live coin, and registers a suggested strategy on the live engine with Apply."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from web_helpers import SOME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "BTCUSD-1h-sample.csv"


def analyze(page: Page, *, suggest: bool, timeframes: tuple[str, ...] = (),
            suggest_bars: int | None = None, folds: int | None = None) -> None:
    form = page.get_by_role("form", name="Trend analysis")
    form.get_by_label("Data file", exact=True).select_option(SAMPLE)
    for name in timeframes:
        form.get_by_role("checkbox", name=name, exact=True).check()
    form.get_by_label("Suggest strategies").set_checked(suggest)
    if suggest_bars is not None:
        form.get_by_label("Bars for suggestions", exact=True).fill(str(suggest_bars))
    if folds is not None:
        form.get_by_label("Folds", exact=True).fill(str(folds))
    form.get_by_role("button", name="Analyze", exact=True).click()


def newest_report(server) -> dict:
    job = server.api.get("/api/trend/jobs").json()[0]
    reply = server.api.get(f"/api/trend/jobs/{job['job_id']}").json()
    assert reply["status"] == "finished", reply
    return reply["report"]


def test_the_sample_analysed_shows_each_timeframe_its_summary_and_its_levels_on_the_chart(
        server, page):
    page.goto(server.url + "/trend")
    analyze(page, suggest=False)
    expect(page.get_by_test_id("job-status")).to_contain_text("finished", timeout=60_000)

    report = newest_report(server)
    assert report["suggestions"] is None
    names = [tf["timeframe"] for tf in report["timeframes"]]
    assert names[0] == "1h" and len(names) >= 2  # the file's own and coarser ones
    table = page.get_by_role("table", name="Timeframes")
    expect(table.locator("[data-timeframe]")).to_have_count(len(names))
    for tf in report["timeframes"]:
        expect(table.locator(f'[data-timeframe="{tf["timeframe"]}"]')).to_be_visible()
        expect(page.get_by_test_id(f"summary-{tf['timeframe']}")).to_have_text(tf["summary"])
    # the ticks now say which timeframes the report has
    form = page.get_by_role("form", name="Trend analysis")
    for name in names:
        expect(form.get_by_role("checkbox", name=name, exact=True)).to_be_checked()

    chart = page.get_by_test_id("trend-chart")
    finest = report["timeframes"][0]
    expect(chart).to_have_attribute("data-bars", str(len(finest["candles"]["time"])))
    expect(chart).to_have_attribute("data-levels", str(len(finest["levels"])))
    expect(chart).to_have_attribute("data-levels", SOME)
    expect(chart).to_have_attribute("data-trend-points", SOME)
    expect(chart.locator("canvas").first).to_be_visible()
    # another timeframe from the chart's tabs: its bars and its own levels
    coarser = report["timeframes"][1]
    page.get_by_role("group", name="Chart timeframe").get_by_role(
        "button", name=coarser["timeframe"], exact=True).click()
    expect(chart).to_have_attribute("data-bars", str(len(coarser["candles"]["time"])))
    expect(chart).to_have_attribute("data-levels", str(len(coarser["levels"])))
    expect(table.get_by_role("button", name=f"Chart {coarser['timeframe']}")).to_have_attribute(
        "aria-pressed", "true")

    # a long search shows its progress and stops on Cancel
    analyze(page, suggest=True, suggest_bars=100_000, folds=4)
    expect(page.get_by_role("progressbar", name="Trend analysis progress")).to_be_visible()
    form.get_by_role("button", name="Cancel", exact=True).click()
    expect(page.get_by_test_id("job-status")).to_contain_text("cancelled")
    assert server.api.get("/api/trend/jobs").json()[0]["status"] == "cancelled"


def test_a_suggestion_is_applied_as_a_live_strategy(server, page):
    page.goto(server.url + "/trend")
    # the sample's last 5,000 hourly bars in 2 folds: a few strategies beat holding and cash
    analyze(page, suggest=True, timeframes=("1h",), suggest_bars=5_000, folds=2)
    suggestions = page.get_by_role("region", name="Suggestions")
    expect(suggestions.locator('[data-suggestion="1"]')).to_be_visible(timeout=120_000)

    report = newest_report(server)
    assert [tf["timeframe"] for tf in report["timeframes"]] == ["1h"]
    best = report["suggestions"]["items"][0]
    expect(suggestions.locator("[data-suggestion]")).to_have_count(
        len(report["suggestions"]["items"]))
    suggestions.locator('[data-suggestion="1"]').get_by_role(
        "button", name=re.compile(r"^Apply 1")).click()
    apply = page.get_by_role("dialog", name="Apply to live")
    expect(apply.get_by_label("Coin", exact=True)).to_have_value("BTC")
    expect(apply.get_by_label("Timeframe", exact=True)).to_have_value(best["timeframe"])
    apply.get_by_label("Strategy id", exact=True).fill("BTC_trend")
    apply.get_by_role("button", name="Register").click()
    expect(apply.get_by_role("status")).to_contain_text("Registered BTC_trend")

    live = server.api.get("/api/strategies/BTC_trend").json()
    assert live["name"] == best["strategy"] and live["coin"] == "BTC"
    assert live["timeframe"] == best["timeframe"]
    assert {k: live["params"][k] for k in best["params"]} == best["params"]


def test_an_uploaded_bar_file_is_analysed_and_then_listed_as_a_server_file(server, page, tmp_path):
    upload = tmp_path / "ethusdt-1h.csv"
    upload.write_bytes((ROOT / "resources" / "data" / SAMPLE).read_bytes())
    page.goto(server.url + "/trend")
    form = page.get_by_role("form", name="Trend analysis")
    form.get_by_label("Suggest strategies").uncheck()
    # a file that is not bars: the server's reason, as it words it
    garbage = tmp_path / "notes.csv"
    garbage.write_text("hello,world\nnot,bars\n")
    form.get_by_label("Upload a bar file", exact=True).set_input_files(str(garbage))
    form.get_by_role("button", name="Analyze", exact=True).click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text("notes.csv")

    form.get_by_label("Upload a bar file", exact=True).set_input_files(str(upload))
    form.get_by_role("button", name="Analyze", exact=True).click()
    expect(alert).to_be_hidden()
    expect(page.get_by_test_id("job-status")).to_contain_text("finished", timeout=60_000)

    report = newest_report(server)
    assert report["source"].endswith("ethusdt-1h.csv") and report["bars"] == 5_000
    table = page.get_by_role("table", name="Timeframes")
    expect(table.locator("[data-timeframe]")).to_have_count(len(report["timeframes"]))
    # the upload is a server file now: the form names it rather than sending it again
    expect(form.get_by_label("Data file", exact=True)).to_have_value(
        server.api.get("/api/trend/jobs").json()[0]["data"])


def test_a_live_coin_is_read_from_the_engine_and_again_while_it_runs(server, page):
    server.api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=sample:BTCUSD-1h", "speed": 36_000,
    }).raise_for_status()
    page.goto(server.url + "/trend")
    form = page.get_by_role("form", name="Trend analysis")
    form.get_by_label("Live coin", exact=True).check()
    form.get_by_label("Coin", exact=True).select_option("BTC")
    form.get_by_role("button", name="Analyze", exact=True).click()

    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_have_attribute("data-bars", SOME, timeout=60_000)
    first = int(chart.get_attribute("data-bars"))
    expect(page.get_by_role("table", name="Timeframes").locator("[data-timeframe]").first
           ).to_be_visible()
    # the replay makes an hour's bar every 0.1 s: the next read, 5 s on, has more of them
    expect(chart).not_to_have_attribute("data-bars", str(first), timeout=30_000)
    live = server.api.get("/api/trend/BTC").json()
    assert live["source"] == "live" and live["coin"] == "BTC"
    server.api.post("/api/engine/stop").raise_for_status()
