"""Benchmark of the browser view (issue #15 point 7) in Debian's chromium, printed as tables.

  * size: the initial JavaScript of ``/``: every script the page loads before it is ready,
    as transferred and gzipped (level 6, what a gzip-serving proxy sends), against 300 KB;
    beside it, all the page has loaded 3 s later (the chart chunks it fetches after painting).
  * ready: navigation start -> the KPIs and the strategies table painted (the status KPI has
    text and every registered strategy has its row; then the next frame), in fresh browser
    profiles, with the engine idle and with it trading flat out; DOMContentLoaded beside it.
  * run: the engine on the simulated feed (2 coins x the 4 built-ins deciding on every price,
    --rate ticks/s: about 2,000 trades/s, the issue's figure, at the default 20,000; the
    market is busier in some hours) for --minutes while the live page is open. Every --sample seconds a row: trades made (from /api/metrics) and their rate, the
    page's trade store counters (window.__velocitas.trades), its JS heap and DOM nodes (CDP
    Performance.getMetrics) and the share of the main thread spent in tasks. At the end: every
    trade kept by id (the page's last id is the journal's, none missed between the first id
    its socket delivered and the last, no gap, no duplicate), the main thread's long tasks
    (PerformanceObserver 'longtask', buffered) against the same page idle for --idle seconds,
    and the p99 of all its main-thread tasks from a 10-second chromium trace.

Wall-clock figures depend on the machine: run it on a quiet one. The tables also go to
--out when given.

    python bench/web.py [--minutes 2] [--rate 20000] [--sample 30] [--idle 30] [--loads 5]
    python bench/web.py --minutes 10        # the issue's full check
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from served import chromium, start_server, stop_server

BUILTINS = ("SMA_Crossover", "Momentum", "RSI", "MACD")
COINS = ("BTC", "ETH")
BUDGET_KB, READY_MS, LONG_TASK_MS = 300, 1000, 50

# Injected before the page's own scripts: the long-task observer (buffered, so it sees the
# load too), the moment the KPIs and the strategies table are first painted, and the first
# trade id each /ws/trades socket delivered (one regex on the first frame only, so the spy
# costs the page nothing while it runs).
PROBE = """
(() => {
  const bench = window.__bench = {ready: null, longTasks: [], firstTradeId: null, sockets: 0};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) bench.longTasks.push([e.startTime, e.duration]);
  }).observe({type: "longtask", buffered: true});
  const expected = __ROWS__;
  const painted = () => {
    const kpi = document.querySelector('[data-testid="kpi-status-value"]');
    const rows = document.querySelectorAll('[data-testid^="strategy-row-"]').length;
    return kpi && kpi.textContent.trim() !== "" && rows >= expected;
  };
  const watch = new MutationObserver(() => {
    if (bench.ready !== null || !painted()) return;
    watch.disconnect();
    bench.ready = -1;
    requestAnimationFrame(() => setTimeout(() => { bench.ready = performance.now(); }, 0));
  });
  watch.observe(document, {subtree: true, childList: true, characterData: true});
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/trades")) return;
      bench.sockets += 1;
      const first = (event) => {
        const match = /"id":(\\d+)/.exec(typeof event.data === "string" ? event.data : "");
        if (!match) return;
        if (bench.firstTradeId === null) bench.firstTradeId = Number(match[1]);
        this.removeEventListener("message", first);
      };
      this.addEventListener("message", first);
    }
  };
})();
"""


def metrics(url: str) -> dict:
    return httpx.get(url + "/api/metrics", timeout=30).json()["global"]


def journal_ids(url: str, after: int) -> list[int]:
    ids: list[int] = []
    while True:
        rows = httpx.get(url + "/api/trades", timeout=60, params={
            "after_id": ids[-1] if ids else after, "limit": 10_000}).json()
        ids.extend(row["id"] for row in rows)
        if len(rows) < 10_000:
            return ids


def open_page(browser: Browser, url: str, rows: int) -> tuple[Page, dict]:
    """A fresh profile on the live page; returns it once painted, with the scripts it
    loaded: {url: (bytes transferred, body)}."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(PROBE.replace("__ROWS__", str(rows)))
    page = context.new_page()
    scripts: dict[str, tuple[int, bytes]] = {}

    def on_response(response) -> None:
        if response.request.resource_type == "script":
            try:
                body = response.body()
                scripts[response.url] = (response.request.sizes()["responseBodySize"], body)
            except PlaywrightError:  # a chunk still loading when the page was closed
                pass

    page.on("response", on_response)
    page.goto(url + "/")
    page.wait_for_function("() => window.__bench.ready > 0", timeout=60_000)
    return page, scripts


def timings(page: Page) -> dict:
    return page.evaluate("""() => {
      const nav = performance.getEntriesByType("navigation")[0];
      const fcp = performance.getEntriesByName("first-contentful-paint")[0];
      return {ready: window.__bench.ready, dcl: nav.domContentLoadedEventEnd,
              fcp: fcp ? fcp.startTime : null};
    }""")


def measure_size(scripts: dict) -> dict:
    transferred = sum(size for size, _ in scripts.values())
    raw = sum(len(body) for _, body in scripts.values())
    gzipped = sum(len(gzip.compress(body, 6)) for _, body in scripts.values())
    return {"files": len(scripts), "raw": raw, "transferred": transferred, "gzip": gzipped}


def measure_ready(browser: Browser, url: str, rows: int, loads: int) -> list[dict]:
    found = []
    for _ in range(loads):
        page, _ = open_page(browser, url, rows)
        found.append(timings(page))
        page.context.close()
    return found


def page_metrics(cdp) -> dict:
    return {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}


def task_trace(browser: Browser, page: Page, seconds: float) -> dict[str, list[float]]:
    """Durations (ms) of the page's main-thread tasks and of its frames (BeginMainFrame: rAF
    callbacks, style, layout, paint) during ``seconds``, from a chromium trace: the long-task
    API reports only tasks over 50 ms, so no percentile of all tasks can come from it. Only
    outermost tasks count (a task's trace events nest)."""
    browser.start_tracing(page=page, categories=[
        "toplevel", "cc", "devtools.timeline", "disabled-by-default-devtools.timeline"])
    time.sleep(seconds)
    events = json.loads(browser.stop_tracing())
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events if e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    ours = sorted((e for e in events if e.get("ph") == "X" and "dur" in e
                   and (e.get("pid"), e.get("tid")) in main), key=lambda e: e["ts"])
    tasks, end = [], 0.0
    for event in ours:
        if event["name"] in ("ThreadControllerImpl::RunTask", "RunTask") and event["ts"] >= end:
            tasks.append(event["dur"] / 1000.0)
            end = event["ts"] + event["dur"]
    frames = [e["dur"] / 1000.0 for e in ours if e["name"] == "ProxyMain::BeginMainFrame"]
    return {"tasks": tasks, "frames": frames, "seconds": [seconds]}


def long_tasks_since(page: Page, since_ms: float) -> list[float]:
    return [d for start, d in page.evaluate("() => window.__bench.longTasks") if start >= since_ms]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def run(args, browser: Browser, url: str, out: list[str]) -> None:
    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    rows = len(BUILTINS) * len(COINS)
    for coin in COINS:
        for name in BUILTINS:
            httpx.post(url + "/api/strategies/register", timeout=30,
                       json={"name": name, "coin": coin, "timeframe": "tick"}).raise_for_status()

    # 1. size, 2. ready with the engine idle
    page, scripts = open_page(browser, url, rows)
    size = measure_size(scripts)
    page.wait_for_timeout(3_000)  # the chunks the page loads after its first paint (charts)
    size_all = measure_size(scripts)
    page.context.close()
    idle_ready = measure_ready(browser, url, rows, args.loads)

    # 3. the page idle: the baseline of its long tasks
    page, _ = open_page(browser, url, rows)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    began, idle_busy0 = page.evaluate("() => performance.now()"), page_metrics(cdp)["TaskDuration"]
    time.sleep(args.idle)
    idle_long = long_tasks_since(page, began)
    idle_busy = (page_metrics(cdp)["TaskDuration"] - idle_busy0) / args.idle
    idle_trace = task_trace(browser, page, 10)

    # 4. the engine flat out, the page open all along
    start = httpx.post(url + "/api/engine/start", timeout=30, params={
        "rate": args.rate, "seed": 11, "coins": ",".join(COINS), "session": "new"})
    start.raise_for_status()
    t0, first = time.monotonic(), metrics(url)
    run_began = page.evaluate("() => performance.now()")
    busy0 = page_metrics(cdp)["TaskDuration"]
    say(f"{'minute':>6} {'trades':>10} {'trades/s':>9} {'page got':>10} {'gaps':>5} "
        f"{'dups':>5} {'resumes':>7} {'heap MB':>8} {'nodes':>7} {'main busy':>9}")
    samples, last_t, last_busy = [], t0, busy0
    last_trades = first["total_trades"]
    deadline = t0 + args.minutes * 60
    while time.monotonic() < deadline:
        time.sleep(min(args.sample, max(0.0, deadline - time.monotonic())))
        now, made = time.monotonic(), metrics(url)
        counters = page.evaluate("() => ({...window.__velocitas.trades})")
        m = page_metrics(cdp)
        sample = {"t": now - t0, "trades": made["total_trades"],
                  "rate": (made["total_trades"] - last_trades) / (now - last_t),
                  "heap": m["JSHeapUsedSize"] / 1e6, "nodes": m["Nodes"],
                  "busy": (m["TaskDuration"] - last_busy) / (now - last_t), **counters}
        samples.append(sample)
        say(f"{sample['t'] / 60:>6.1f} {sample['trades']:>10,} {sample['rate']:>9,.0f} "
            f"{sample['received']:>10,} {sample['gaps']:>5} {sample['duplicates']:>5} "
            f"{sample['resumes']:>7} {sample['heap']:>8.1f} {sample['nodes']:>7,.0f} "
            f"{sample['busy']:>8.0%}")
        last_t, last_trades, last_busy = now, made["total_trades"], m["TaskDuration"]
    run_trace = task_trace(browser, page, 10)
    run_long = long_tasks_since(page, run_began)
    run_seconds = time.monotonic() - t0
    end = metrics(url)
    rate = (end["total_trades"] - first["total_trades"]) / run_seconds
    busy_share = (page_metrics(cdp)["TaskDuration"] - busy0) / run_seconds
    loaded_ready = measure_ready(browser, url, rows, args.loads)
    httpx.post(url + "/api/engine/stop", timeout=60)

    # 5. every trade kept: wait for the page to catch up with the journal's last fill
    newest = metrics(url)["last_trade_id"]
    caught_up = time.monotonic() + 60
    while (page.evaluate("() => window.__velocitas.trades.lastId") != newest
           and time.monotonic() < caught_up):
        time.sleep(0.5)
    counters = page.evaluate("() => ({...window.__velocitas.trades})")
    first_id = page.evaluate("() => window.__bench.firstTradeId")
    expected = len(journal_ids(url, first_id - 1)) if first_id is not None else 0
    cdp.send("HeapProfiler.collectGarbage")
    heap_after_gc = page_metrics(cdp)["JSHeapUsedSize"] / 1e6
    page.context.close()

    say()
    say(f"Velocitas browser view benchmark — chromium {browser.version}, {os.cpu_count()} "
        f"cores, engine at {rate:,.0f} trades/s for {run_seconds / 60:.1f} min "
        f"(simulated, {args.rate:,.0f} ticks/s, 2 coins x 4 built-ins on every price); "
        f"load average {os.getloadavg()[0]:.1f} at the end")
    say()
    verdict = "ok" if size["gzip"] <= BUDGET_KB * 1024 else "OVER"
    say("JavaScript of /                              files      raw  transferred  gzip -6  budget")
    for label, found, budget in (("initial (loaded before the page is ready)", size,
                                  f"{BUDGET_KB}K {verdict}"),
                                 ("all (3 s after ready: the chart chunks too)", size_all, "")):
        say(f"{label:<44} {found['files']:>5} {found['raw'] / 1024:>7.0f}K "
            f"{found['transferred'] / 1024:>11.0f}K {found['gzip'] / 1024:>7.0f}K  {budget}")
    say()
    say(f"page ready (navigation -> KPIs and strategies painted), {args.loads} fresh profiles, ms")
    say(f"{'engine':<10} {'ready p50':>9} {'ready max':>9} {'DCL p50':>8} {'FCP p50':>8}  target")
    for label, loads in (("idle", idle_ready), ("trading", loaded_ready)):
        ready = [load["ready"] for load in loads]
        say(f"{label:<10} {ms(statistics.median(ready)):>9} {ms(max(ready)):>9} "
            f"{ms(statistics.median(load['dcl'] for load in loads)):>8} "
            f"{ms(percentile([load['fcp'] for load in loads if load['fcp']], 50)):>8}  "
            f"{READY_MS} {'ok' if max(ready) <= READY_MS else 'OVER'}")
    say()
    say("main thread of the open live page     long tasks  per min  p50   p99   max | "
        "tasks/s  task p99 | frames/s  frame p50  frame p99 | busy")
    for label, long_tasks, seconds, trace, busy in (
            (f"idle ({args.idle:.0f} s, engine stopped)", idle_long, args.idle, idle_trace,
             idle_busy),
            (f"engine at {rate:,.0f} trades/s", run_long, run_seconds, run_trace, busy_share)):
        traced = trace["seconds"][0]
        say(f"{label:<38} {len(long_tasks):>10} {len(long_tasks) / seconds * 60:>8.1f} "
            f"{ms(percentile(long_tasks, 50)):>4} {ms(percentile(long_tasks, 99)):>5} "
            f"{ms(max(long_tasks, default=None)):>5} | {len(trace['tasks']) / traced:>7,.0f} "
            f"{percentile(trace['tasks'], 99) or 0:>9.1f} | {len(trace['frames']) / traced:>8.1f} "
            f"{percentile(trace['frames'], 50) or 0:>10.1f} "
            f"{percentile(trace['frames'], 99) or 0:>10.1f} | {busy:>4.0%}")
    say(f"(long tasks: PerformanceObserver, each over {LONG_TASK_MS} ms, so p50/p99 are of those "
        "only; tasks and frames: every top-level task and every BeginMainFrame of a 10 s trace, "
        "ms; busy: CDP TaskDuration per second)")
    say()
    heaps = [s["heap"] for s in samples]
    half = heaps[len(heaps) // 2:] or heaps
    say(f"JS heap: min {min(heaps):.1f} MB, max {max(heaps):.1f} MB, last half of the run "
        f"{min(half):.1f}-{max(half):.1f} MB; after a forced GC at the end {heap_after_gc:.1f} MB")
    kept = (counters["lastId"] == newest and counters["gaps"] == 0
            and counters["duplicates"] == 0 and counters["received"] == expected)
    say(f"trades: the page received {counters['received']:,} from its sockets, the journal holds "
        f"{expected:,} from the first of them (#{first_id}) to its last (#{newest}); page's last "
        f"#{counters['lastId']}, gaps {counters['gaps']}, duplicates {counters['duplicates']}, "
        f"resumes {counters['resumes']}: {'every trade kept' if kept else 'NOT every trade'}")
    if rate < 2000:
        say(f"NOTE: the engine made {rate:,.0f} trades/s, under the 2,000 the issue asks for: "
            "raise --rate or run on a quieter machine")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=20_000,
                        help="simulated ticks/s (20,000: about 2,000 trades/s)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between rows")
    parser.add_argument("--idle", type=float, default=30.0,
                        help="seconds of the idle page whose long tasks are the baseline")
    parser.add_argument("--loads", type=int, default=5, help="page loads timed per case")
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    args = parser.parse_args()
    out_path = Path(args.out) if args.out else None
    executable = chromium()
    out: list[str] = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as driver:
        process, url = start_server(folder)
        browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            run(args, browser, url, out)
        finally:
            browser.close()
            stop_server(process)
    if out_path is not None:
        out_path.write_text("\n".join(out) + "\n")
        print(f"\n(written to {out_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
