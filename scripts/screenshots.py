"""Regenerate the browser view's screenshots (docs/images/web-live.png, web-optimize.png,
web-trend.png, web-copilot.png).

Starts a ``velocitas serve`` of its own (a temporary journal and user folder), drives a
session as a trader would, and photographs each page at 1440x900 in Debian's chromium:

  * live: three strategies (SMA crossover, RSI, MACD) trading BTC on a replay of the bundled
    hourly sample at 10 hours a second, so the chart holds a few hundred bars with their fills,
    the blotter and the P&L lines have something to show, and the engine is still running;
  * optimisation: SMA_Crossover's default search (80 combinations) over the same sample, run
    from the page's form to its results, the best row selected (its equity curve and fills);
  * trend: the same sample analysed on its default timeframes with suggestions (its last 5,000
    bars in 2 walk-forward folds, where two strategies beat holding and cash), the 1h chart
    with its levels, trend line and breakouts;
  * copilot: five rules (a price level, a 2% move, the RSI, a drawdown guard that proposes
    pausing its strategy, one switched off) watching a fresh replay of the sample, photographed
    once alerts have come in and the guard's action waits for a decision.

    python scripts/screenshots.py [--out docs/images] [--replay-seconds 40] [--pages trend]

Needs the built page (``make app`` / ``make test`` build it, or ``cd web && npm run build``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # the server and browser the web bench starts too
from served import chromium, start_server, stop_server  # noqa: E402

SIZE = {"width": 1440, "height": 900}
STRATEGIES = (("SMA_Crossover", {"fast": 10, "slow": 30}), ("RSI", {}), ("MACD", {}))


def live_session(api: httpx.Client, replay_seconds: float) -> None:
    """Three strategies on BTC, replaying the bundled sample until the chart has bars."""
    for name, params in STRATEGIES:
        api.post("/api/strategies/register", json={
            "name": name, "coin": "BTC", "params": params}).raise_for_status()
    api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=sample:BTCUSD-1h", "speed": 36_000,
    }).raise_for_status()
    time.sleep(replay_seconds)


def shoot_live(page: Page, url: str, path: Path) -> None:
    page.goto(url + "/")
    expect(page.get_by_test_id("engine-status")).to_have_text("RUNNING", ignore_case=True)
    trades = page.get_by_role("region", name="Trades").locator("[data-trade-id]")
    expect(trades.first).to_be_visible()
    chart = page.get_by_role("region", name="Chart").locator("[data-markers]")
    expect(chart).not_to_have_attribute("data-markers", "0")
    page.wait_for_timeout(2_000)  # a P&L point or two and the status bar's next line
    page.screenshot(path=str(path))


def shoot_optimize(page: Page, url: str, path: Path) -> None:
    page.goto(url + "/optimize")
    form = page.get_by_role("form", name="Optimisation job")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Strategy", exact=True).select_option("SMA_Crossover")
    expect(page.get_by_test_id("combinations")).to_contain_text("combinations")
    form.get_by_role("button", name="Run", exact=True).click()
    results = page.get_by_role("region", name="Results")
    best = results.locator('[data-rank="1"]')
    expect(best).to_be_visible(timeout=180_000)
    best.click()
    expect(page.get_by_role("region", name="Equity curve").locator("canvas").first
           ).to_be_visible()
    page.wait_for_timeout(1_000)  # the curve's first paint
    page.screenshot(path=str(path))


def shoot_trend(page: Page, url: str, path: Path) -> None:
    page.goto(url + "/trend")
    form = page.get_by_role("form", name="Trend analysis")
    form.get_by_label("Data file", exact=True).select_option("BTCUSD-1h-sample.csv")
    form.get_by_label("Suggest strategies").check()
    form.get_by_label("Bars for suggestions", exact=True).fill("5000")
    form.get_by_label("Folds", exact=True).fill("2")
    form.get_by_role("button", name="Analyze", exact=True).click()
    expect(page.get_by_test_id("job-status")).to_contain_text("finished", timeout=180_000)
    expect(page.get_by_test_id("trend-chart")).not_to_have_attribute("data-levels", "0")
    page.wait_for_timeout(1_000)  # the chart's first paint
    page.screenshot(path=str(path))


def copilot_session(api: httpx.Client) -> None:
    """A fresh replay of the sample with an SMA crossover trading it and five rules watching."""
    if api.get("/api/engine/status").json()["status"] == "running":
        api.post("/api/engine/stop").raise_for_status()
    if api.get("/api/strategies/BTC_SMA_Crossover").status_code == 404:
        api.post("/api/strategies/register", json={
            "name": "SMA_Crossover", "coin": "BTC", "params": {"fast": 10, "slow": 30}}).raise_for_status()
    btc = {"kind": "coin", "value": "BTC"}
    hourly = {"mode": "every_time", "cooldown_s": 3600}
    rules = [
        {"name": "BTC crosses 4,000", "severity": "warning", "scope": btc, "frequency": hourly,
         "condition": {"type": "price_cross", "params": {"level": 4000, "direction": "either"}}},
        {"name": "BTC moves 2% in 4 hours", "severity": "info", "scope": btc, "frequency": hourly,
         "condition": {"type": "price_move", "params": {"percent": 2, "window_s": 14400}}},
        {"name": "RSI oversold (1h)", "severity": "warning", "scope": btc,
         "frequency": {"mode": "once_per_bar_close"},
         "condition": {"type": "rsi", "params": {"timeframe": "1h", "below": 30}}},
        {"name": "SMA drawdown guard", "severity": "critical", "frequency": {"mode": "once"},
         "scope": {"kind": "strategy", "value": "BTC_SMA_Crossover"},
         "condition": {"type": "drawdown", "params": {"percent": 0.5}},
         "message": "{strategy} is down {value:.2f}% from its peak",
         "action": {"type": "pause_strategy", "params": {}, "auto": False}},
        {"name": "ETH above 5,000", "severity": "info", "enabled": False, "frequency": {"mode": "once"},
         "scope": {"kind": "coin", "value": "ETH"},
         "condition": {"type": "price_cross", "params": {"level": 5000, "direction": "up"}}},
    ]
    api.post("/api/copilot/rules/import", json={"rules": rules, "replace": True}).raise_for_status()
    api.post("/api/engine/start", params={
        "data_source": "csv", "csv": "BTC=sample:BTCUSD-1h", "speed": 36_000,
    }).raise_for_status()


def shoot_copilot(page: Page, url: str, path: Path) -> None:
    with httpx.Client(base_url=url, timeout=30) as api:
        copilot_session(api)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
                len(api.get("/api/copilot/alerts").json()) >= 6
                and api.get("/api/copilot/actions", params={"status": "pending"}).json()):
            time.sleep(0.5)
        api.post("/api/engine/stop").raise_for_status()  # the picture's alerts stay as they are
        for alert in api.get("/api/copilot/alerts").json()[3:]:  # the older ones read
            api.post(f"/api/copilot/alerts/{alert['id']}/acknowledge").raise_for_status()
    page.goto(url + "/copilot")
    expect(page.get_by_role("list", name="Live alerts").locator("[data-alert-id]").first).to_be_visible()
    expect(page.get_by_role("region", name="Pending actions").locator("[data-action-id]").first
           ).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))


PAGES = {"live": ("web-live.png", shoot_live), "optimize": ("web-optimize.png", shoot_optimize),
         "trend": ("web-trend.png", shoot_trend), "copilot": ("web-copilot.png", shoot_copilot)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--replay-seconds", type=float, default=40.0,
                        help="how long the replay runs before the live page is photographed")
    parser.add_argument("--pages", default=",".join(PAGES),
                        help=f"which pages to photograph, comma-separated (default: {','.join(PAGES)})")
    args = parser.parse_args()
    pages = [name.strip() for name in args.pages.split(",") if name.strip()]
    unknown = [name for name in pages if name not in PAGES]
    if unknown or not pages:
        parser.error(f"--pages: choose from {', '.join(PAGES)} (got {args.pages!r})")
    built = ROOT / "velocitas_desktop" / "webview" / "dist" / "index.html"
    if not built.is_file():
        raise SystemExit(f"{built} is missing: build the page first (cd web && npm run build)")
    executable = chromium()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as driver:
        process, url = start_server(Path(folder))
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            if "live" in pages:
                with httpx.Client(base_url=url, timeout=30) as api:
                    live_session(api, args.replay_seconds)
            context = browser.new_context(viewport=SIZE, device_scale_factor=1)
            context.set_default_timeout(60_000)
            page = context.new_page()
            for name in pages:
                file_name, shoot = PAGES[name]
                shoot(page, url, out / file_name)
        finally:
            browser.close()
            stop_server(process)
    print("wrote " + ", ".join(str(out / PAGES[name][0]) for name in pages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
