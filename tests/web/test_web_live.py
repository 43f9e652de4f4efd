"""The live page against a real ``velocitas serve``: start the engine, register a strategy
through the form (its validation message is the API's, verbatim), watch its fills reach the
blotter and the chart, pause it, stop the engine."""

from __future__ import annotations

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
