"""A token-protected server: the page asks for the token, explains a wrong one, takes the
right one typed in or from the link ``velocitas serve`` prints (``#token=``, which it removes
from the address bar), and then reads the live stream with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from web_helpers import STOPPED, TOKEN

pytestmark = pytest.mark.slow


def test_the_page_asks_for_the_token_and_refuses_a_wrong_one_with_a_reason(token_server, page):
    page.goto(token_server.url + "/")
    expect(page.get_by_role("heading", name="Access token")).to_be_visible()
    expect(page.get_by_role("region", name="Key figures")).to_have_count(0)

    page.get_by_label("Token", exact=True).fill("not-the-token")
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_role("alert")).to_contain_text("refused")
    expect(page.get_by_role("region", name="Key figures")).to_have_count(0)

    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Connect").click()
    expect(page.get_by_test_id("kpi-status-value")).to_have_text(STOPPED)
    expect(page.get_by_role("heading", name="Access token")).to_have_count(0)
    # kept for the browser tab: a reload does not ask again
    page.reload()
    expect(page.get_by_test_id("kpi-status-value")).to_have_text(STOPPED)


def test_the_printed_link_opens_the_page_and_its_token_leaves_the_address_bar(
        token_server, page):
    assert token_server.api.post("/api/strategies/register", json={
        "name": "SMA_Crossover", "coin": "BTC", "params": {"fast": 3, "slow": 8},
        "timeframe": "tick"}).status_code == 200
    page.goto(f"{token_server.url}/#token={TOKEN}")
    expect(page.get_by_test_id("strategy-row-BTC_SMA_Crossover")).to_be_visible()
    assert TOKEN not in page.url and "#" not in page.url
    # the sockets carry the token too: fills made now reach the blotter
    started = token_server.api.post("/api/engine/start",
                                    params={"rate": 2000, "seed": 7, "coins": "BTC"})
    assert started.status_code == 200, started.text
    expect(page.get_by_role("region", name="Trades").locator("[data-trade-id]").first
           ).to_be_visible()
