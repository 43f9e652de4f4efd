"""What the browser view's end-to-end tests do on its pages, by the labels a screen reader
reads (the names are listed in the issue's plan, /work's web-spec: Engine form, Add strategy
dialog, Trades region...)."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

RUNNING = re.compile(r"running", re.IGNORECASE)
STOPPED = re.compile(r"stopped", re.IGNORECASE)
PAUSED = re.compile(r"paused", re.IGNORECASE)
SOME = re.compile(r"^[1-9][0-9]*$")  # a positive count in a data-* attribute
TOKEN = "e2e-token-Zq7"  # what the token-protected server asks for


def start_engine(page: Page, rate: int = 2000, seed: int = 7, coins: str = "BTC,ETH") -> None:
    """Start a simulated session from the Engine bar and wait until the page says it runs."""
    engine = page.get_by_role("form", name="Engine")
    engine.get_by_label("Source", exact=True).select_option("simulated")
    engine.get_by_label("Coins", exact=True).fill(coins)
    engine.get_by_label("Rate", exact=True).fill(str(rate))
    engine.get_by_label("Seed", exact=True).fill(str(seed))
    start = engine.get_by_role("button", name="Start", exact=True)
    expect(engine.get_by_role("button", name="Stop", exact=True)).to_be_disabled()
    start.click()
    expect(page.get_by_test_id("engine-status")).to_have_text(RUNNING)
    expect(start).to_be_disabled()


def stop_engine(page: Page) -> None:
    engine = page.get_by_role("form", name="Engine")
    stop = engine.get_by_role("button", name="Stop", exact=True)
    stop.click()
    expect(page.get_by_test_id("engine-status")).to_have_text(STOPPED)
    expect(stop).to_be_disabled()
    expect(engine.get_by_role("button", name="Start", exact=True)).to_be_enabled()


def open_add_strategy(page: Page) -> Locator:
    page.get_by_role("region", name="Strategies").get_by_role(
        "button", name="Add strategy").click()
    dialog = page.get_by_role("dialog", name="Add strategy")
    expect(dialog).to_be_visible()
    return dialog


def fill_add_strategy(dialog: Locator, name: str, coin: str, params: dict[str, float],
                      timeframe: str = "tick", strategy_id: str | None = None) -> None:
    """Fill the Add strategy form (its parameter inputs are built from the strategy's declared
    parameters, so they appear once the strategy is chosen)."""
    dialog.get_by_label("Strategy", exact=True).select_option(name)
    coin_field = dialog.get_by_label("Coin", exact=True)
    if coin_field.evaluate("e => e.tagName") == "SELECT":
        coin_field.select_option(coin)
    else:
        coin_field.fill(coin)
    dialog.get_by_label("Timeframe", exact=True).select_option(timeframe)
    for param, value in params.items():
        dialog.get_by_label(param, exact=True).fill(str(value))
    if strategy_id is not None:
        dialog.get_by_label("Strategy id", exact=True).fill(strategy_id)


def add_strategy(page: Page, name: str, coin: str, params: dict[str, float],
                 timeframe: str = "tick", strategy_id: str | None = None) -> Locator:
    """Register a strategy through the form; returns its row in the Strategies table."""
    dialog = open_add_strategy(page)
    fill_add_strategy(dialog, name, coin, params, timeframe, strategy_id)
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(dialog).to_be_hidden()
    row = page.get_by_test_id(f"strategy-row-{strategy_id or f'{coin}_{name}'}")
    expect(row).to_be_visible()
    return row


def trade_counters(page: Page) -> dict:
    """The trade store's debug counters: received, lastId, duplicates, gaps, resumes."""
    return page.evaluate("""() => window.__velocitas && window.__velocitas.trades
        ? {...window.__velocitas.trades}
        : {received: 0, lastId: null, duplicates: 0, gaps: 0, resumes: 0}""")
