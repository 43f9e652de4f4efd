"""A dropped trade stream: the page reconnects, resumes after the last id it saw, says so,
and ends with exactly the journal's trades, none missing and none twice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from support import wait_until
from web_helpers import trade_counters

pytestmark = pytest.mark.slow

# Keeps every /ws/trades socket the page opens, and the first trade id each delivered, so the
# test can drop the live ones as a network would and count what the page received.
SOCKET_SPY = """
(() => {
  const spy = window.__spy = {sockets: [], firstIds: []};
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/trades")) return;
      spy.sockets.push(this);
      const first = (event) => {
        const match = /"id":(\\d+)/.exec(String(event.data));
        if (!match) return;
        spy.firstIds.push(Number(match[1]));
        this.removeEventListener("message", first);
      };
      this.addEventListener("message", first);
    }
  };
})();
"""

DROP = """() => {
  const open = window.__spy.sockets.filter((s) => s.readyState === WebSocket.OPEN);
  open.forEach((s) => s.close(4001, "dropped by the test"));
  return open.length;
}"""


def test_a_dropped_stream_resumes_after_the_last_id_without_gaps_or_duplicates(
        server, context, page):
    for coin in ("BTC", "ETH"):
        assert server.api.post("/api/strategies/register", json={
            "name": "SMA_Crossover", "coin": coin, "params": {"fast": 3, "slow": 8},
            "timeframe": "tick"}).status_code == 200
    assert server.api.post("/api/engine/start",
                           params={"rate": 2000, "seed": 7}).status_code == 200
    context.add_init_script(SOCKET_SPY)
    page.goto(server.url + "/")
    connection = page.get_by_test_id("connection")
    wait_until(lambda: trade_counters(page)["received"] > 0, "the first trades over the socket")

    for drop in (1, 2):
        assert page.evaluate(DROP) == 1
        expect(connection).to_contain_text(re.compile(r"Resumed after #\d+"))
        wait_until(lambda drop=drop: trade_counters(page)["resumes"] == drop
                   and len(page.evaluate("() => window.__spy.firstIds")) == drop + 1,
                   f"trades after resume {drop}")

    assert server.api.post("/api/engine/stop").status_code == 200
    ids = server.trade_ids()
    wait_until(lambda: trade_counters(page)["lastId"] == ids[-1], "the page's last trade")
    counters = trade_counters(page)
    first = page.evaluate("() => window.__spy.firstIds[0]")
    assert counters["gaps"] == 0 and counters["duplicates"] == 0
    # every trade from the first the socket brought to the last came over the sockets once
    assert counters["received"] == len([i for i in ids if i >= first])
    newest = page.get_by_role("region", name="Trades").locator("[data-trade-id]").first
    expect(newest).to_have_attribute("data-trade-id", str(ids[-1]))
