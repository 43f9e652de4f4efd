"""The live page against a real ``velocitas serve``: start the engine, register a strategy
through the form (its validation message is the API's, verbatim), watch its fills reach the
blotter and the chart, pause it, stop the engine."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect
from web_helpers import (
    PAUSED,
    SOME,
    STOPPED,
    fill_add_strategy,
    open_add_strategy,
    start_engine,
    stop_engine,
)

pytestmark = pytest.mark.slow


def test_a_strategy_added_through_the_form_trades_into_the_blotter_and_onto_the_chart(
        server, page):
    page.goto(server.url + "/")
    expect(page.get_by_test_id("kpi-status-value")).to_have_text(STOPPED)
    start_engine(page, rate=2000, seed=7)

    dialog = open_add_strategy(page)
    fill_add_strategy(dialog, "SMA_Crossover", "BTC", {"fast": 50, "slow": 10})
    dialog.get_by_role("button", name="Add", exact=True).click()
    # the API's own words, as a script calling it would read them
    expect(dialog.get_by_role("alert")).to_have_text("fast (50) must be less than slow (10)")
    dialog.get_by_label("fast", exact=True).fill("3")
    dialog.get_by_label("slow", exact=True).fill("8")
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id("strategy-row-BTC_SMA_Crossover")
    expect(row).to_be_visible()

    trades = page.get_by_role("region", name="Trades")
    expect(trades.locator("[data-trade-id]").first).to_be_visible()
    expect(trades.locator("[data-trade-id]").first).to_contain_text("BTC_SMA_Crossover")
    chart = page.get_by_role("region", name="Chart").locator("[data-markers]")
    expect(chart).to_have_attribute("data-markers", SOME)
    expect(chart).to_have_attribute("data-bars", SOME)
    expect(page.get_by_test_id("kpi-total_trades-value")).not_to_have_text("0")

    row.get_by_role("button", name="Pause BTC_SMA_Crossover").click()
    expect(row).to_contain_text(PAUSED)
    expect(row.get_by_role("button", name="Resume BTC_SMA_Crossover")).to_be_visible()
    assert server.api.get("/api/strategies/BTC_SMA_Crossover").json()["status"] == "paused"

    stop_engine(page)
    expect(page.get_by_test_id("kpi-status-value")).to_have_text(STOPPED)
    # what the blotter shows newest is the journal's newest fill
    newest = max(server.trade_ids())
    expect(trades.locator("[data-trade-id]").first).to_have_attribute(
        "data-trade-id", str(newest))

    # the side filter, and the export of what it shows (all of the session's sells)
    trades.get_by_label("Side filter", exact=True).select_option("SELL")
    expect(trades.locator("[data-trade-id]").first).to_be_visible()
    expect(trades.locator("[data-trade-id]", has_text="BUY")).to_have_count(0)
    with page.expect_download() as download:
        trades.get_by_role("button", name="Export CSV").click()
    assert re.fullmatch(r"velocitas-trades-.+\.csv", download.value.suggested_filename)
    with open(download.value.path(), newline="") as exported:
        rows = list(csv.reader(exported))
    sells = [t for t in server.api.get("/api/trades", params={"limit": 10_000}).json()
             if t["action"] == "SELL"]
    assert len(rows) - 1 == len(sells) > 0


def test_a_strategys_row_edits_its_parameters_and_removes_it_after_asking(server, page):
    assert server.api.post("/api/strategies/register", json={
        "name": "SMA_Crossover", "coin": "BTC"}).status_code == 200
    page.goto(server.url + "/")
    row = page.get_by_test_id("strategy-row-BTC_SMA_Crossover")
    row.get_by_role("button", name="Edit BTC_SMA_Crossover").click()
    dialog = page.get_by_role("dialog", name="Edit BTC_SMA_Crossover")
    dialog.get_by_label("slow", exact=True).fill("5")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog.get_by_role("alert")).to_have_text("fast (10) must be less than slow (5)")
    dialog.get_by_label("slow", exact=True).fill("40")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("slow=40")
    assert server.api.get("/api/strategies/BTC_SMA_Crossover").json()["params"]["slow"] == 40

    row.get_by_role("button", name="Remove BTC_SMA_Crossover").click()
    confirm = page.get_by_role("dialog", name=re.compile("Remove BTC_SMA_Crossover"))
    confirm.get_by_role("button", name="Remove", exact=True).click()
    expect(row).to_have_count(0)
    assert server.api.get("/api/strategies/BTC_SMA_Crossover").status_code == 404
