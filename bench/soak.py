"""Soak: the app as a trader runs it, for half an hour, and what its processes hold over time.

The window (offscreen) runs its engine in its own process with the embedded API server on; the
engine trades each built-in strategy on BTC and ETH, deciding on every price, on the simulated
feed paced at --rate ticks/s, into its journal. --clients WebSocket clients read /ws/trades
(one message per trade, the default mode) for the whole run. Every --sample seconds the table
gets a row: resident memory, open descriptors and threads of the engine's process and of the
window's, and the trades delivered. Flat means no steady growth: the last third of the run
against the middle third (warm-up excluded), within --tolerance.

    python bench/soak.py [--minutes 30] [--rate 5000] [--clients 20] [--batch] [--sample 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

BUILTINS = ("SMA_Crossover", "Momentum", "RSI", "MACD")
COINS = ("BTC", "ETH")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_figures(pid: int) -> dict[str, float]:
    """Resident MB, open descriptors and threads of ``pid`` (from /proc)."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(fields["Threads"].strip())}


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def engine_pid(window_pid: int, timeout: float = 60.0) -> int:
    """The window's engine process: its child running the engine host."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children(window_pid):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
            if b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
                return child
        time.sleep(0.2)
    raise RuntimeError("the window's engine process did not appear")


def open_window(home: Path, port: int, seconds: float) -> subprocess.Popen:
    """``velocitas gui`` offscreen, its embedded server on ``port``, closing after ``seconds``.

    Its output goes to a file, never an unread pipe: a pipe left unread fills after 64 kB
    of Qt's warnings and the window would block in its next write (an earlier version of
    this script did so; its window stopped reading at 36 minutes)."""
    config = home / "config"
    config.mkdir(parents=True)
    (config / "settings.json").write_text(json.dumps(
        {"server_enabled": True, "server_host": "127.0.0.1", "server_port": port}))
    env = {**os.environ, "VELOCITAS_HOME": str(home), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "gui", "--quit-after", str(seconds)],
        env=env, stdout=subprocess.DEVNULL, stderr=(home / "window-stderr.txt").open("wb"),
        cwd=home)


def start_trading(url: str, rate: float) -> None:
    with httpx.Client(base_url=url, timeout=30) as api:
        for coin in COINS:
            for name in BUILTINS:
                reply = api.post("/api/strategies/register",
                                 json={"name": name, "coin": coin, "timeframe": "tick"})
                if reply.status_code not in (200, 409):
                    raise RuntimeError(f"register {name} {coin}: {reply.text}")
        reply = api.post(f"/api/engine/start?rate={rate:g}&coins={','.join(COINS)}")
        if reply.status_code != 200:
            raise RuntimeError(f"start: {reply.text}")


class Readers:
    """WebSocket clients on /ws/trades, each counting trades and checking each id follows the
    last (a session's fill ids are consecutive).

    They run in ``processes`` processes (each an asyncio loop over its share), so that one
    Python process parsing 20 clients' JSON never makes the clients the slow readers."""

    def __init__(self, url: str, clients: int, batch: bool = False, processes: int = 4) -> None:
        context = mp.get_context("spawn")
        self.url = url.replace("http://", "ws://") + "/ws/trades?batch=" + str(batch).lower()
        self._counts = context.Array("q", clients, lock=False)
        self._disorder = context.Array("q", clients, lock=False)
        self._closed = context.Queue()
        self._stop = context.Event()
        shares = [list(range(i, clients, processes)) for i in range(min(processes, clients))]
        self._workers = [context.Process(target=_read_trades, daemon=True,
                                         args=(self.url, share, self._counts, self._disorder,
                                               self._closed, self._stop))
                         for share in shares]
        self.closed: list[str] = []

    @property
    def counts(self) -> list[int]:
        return list(self._counts)

    @property
    def out_of_order(self) -> int:
        return sum(self._disorder)

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(30)
        while not self._closed.empty():
            self.closed.append(self._closed.get())


def _read_trades(url: str, share: list[int], counts: Any, disorder: Any, closed: Any,
                 stop: Any) -> None:
    """Each client reads until told to stop. Dropped by the server (too slow on a busy
    market: point 5 of the server's contract), it reconnects as a real client does, with
    ``after_id`` = the last trade it saw, and counts on: no trade may be missed or repeated."""

    async def one(index: int) -> None:
        last = 0
        while not stop.is_set():
            try:
                resume = f"&after_id={last}" if last else ""  # the first: live from now
                async with websockets.connect(url + resume, max_size=None,
                                              open_timeout=30) as ws:
                    while not stop.is_set():
                        try:
                            text = await asyncio.wait_for(ws.recv(), timeout=1.0)
                        except TimeoutError:
                            continue
                        message = json.loads(text)
                        kind = message.get("type")
                        trades = (message["trades"] if kind == "trades"
                                  else [message] if kind == "trade" else [])
                        for trade in trades:
                            trade_id = trade.get("id", 0)
                            if last and trade_id != last + 1:  # out of order, repeated, missed
                                disorder[index] += 1
                            last = max(last, trade_id)
                        counts[index] += len(trades)
            except websockets.ConnectionClosed as exc:
                closed.put(f"client {index}: {exc}")
            except OSError as exc:
                closed.put(f"client {index} could not connect: {exc}")
                await asyncio.sleep(1.0)

    async def every() -> None:
        await asyncio.gather(*(one(i) for i in share))

    asyncio.run(every())


def growth(rows: list[dict], key: str) -> float:
    """The last third's mean against the middle third's, as a fraction (0.05 = 5% more)."""
    third = max(1, len(rows) // 3)
    middle = [r[key] for r in rows[third:2 * third]] or [rows[0][key]]
    last = [r[key] for r in rows[2 * third:]] or [rows[-1][key]]
    before = sum(middle) / len(middle)
    return (sum(last) / len(last) - before) / before if before else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="length of the run")
    parser.add_argument("--rate", type=float, default=5_000, help="simulated ticks per second")
    parser.add_argument("--clients", type=int, default=20, help="WebSocket clients on /ws/trades")
    parser.add_argument("--batch", action="store_true",
                        help="clients read batched frames (?batch=true), not one per trade")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between rows")
    parser.add_argument("--tolerance", type=float, default=0.10,
                        help="growth from the middle to the last third still called flat")
    args = parser.parse_args()
    seconds = args.minutes * 60
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="velocitas-soak-") as folder:
        home = Path(folder)
        window = open_window(home, port, seconds + 60)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/api/health", timeout=2).is_success:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or window.poll() is not None:
                    raise RuntimeError("the window's server did not come up: "
                                       + (home / "window-stderr.txt").read_text())
                time.sleep(0.5)
            engine = engine_pid(window.pid)
            start_trading(url, args.rate)
            readers = Readers(url, args.clients, args.batch)
            readers.start()
            rows = sample(window.pid, engine, readers, seconds, args.sample, url)
            readers.stop()
        finally:
            window.send_signal(signal.SIGTERM)
            try:
                window.wait(60)
            except subprocess.TimeoutExpired:
                window.kill()
        print_table(args, rows, readers)
        print_output((home / "window-stderr.txt").read_text(errors="replace"))
    return 0


def print_output(text: str) -> None:
    """What the window wrote to stderr, by distinct line, most frequent first."""
    lines = text.splitlines()
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    print(f"  window stderr: {len(text.encode()):,} bytes, {len(lines):,} lines")
    for line, count in sorted(counts.items(), key=lambda item: -item[1])[:5]:
        print(f"    {count:>6,} x {line[:120]}")


def sample(window: int, engine: int, readers: Readers, seconds: float, every: float,
           url: str) -> list[dict]:
    rows = []
    started = time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        status = httpx.get(url + "/api/engine/status", timeout=10).json()
        fills = httpx.get(url + "/api/metrics", timeout=10).json()["global"]["total_trades"]
        rows.append({"t": elapsed, **{f"engine_{k}": v for k, v in proc_figures(engine).items()},
                     **{f"window_{k}": v for k, v in proc_figures(window).items()},
                     "ticks": status["ticks_processed"], "fills": fills,
                     "delivered": min(readers.counts)})
        print(f"{elapsed / 60:5.1f} min  engine {rows[-1]['engine_rss_mb']:.0f} MB "
              f"{rows[-1]['engine_fds']} fds  window {rows[-1]['window_rss_mb']:.0f} MB  "
              f"{rows[-1]['delivered']:,} trades to each client", file=sys.stderr, flush=True)
        if elapsed >= seconds:
            return rows
        time.sleep(min(every, seconds - elapsed) or every)


def print_table(args: argparse.Namespace, rows: list[dict], readers: Readers) -> None:
    print(f"\nVelocitas soak — {args.minutes:g} min, simulated feed at {args.rate:,.0f} ticks/s, "
          f"2 coins x 4 built-ins on every tick, {args.clients} WebSocket clients "
          f"({'batched' if args.batch else 'one message per trade'}), "
          f"{os.cpu_count()} cores\n")
    print("| min | engine RSS MB | engine fds | engine threads | window RSS MB | window fds | "
          "window threads | ticks | fills/s | trades to the slowest client |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    previous = {"t": 0.0, "fills": 0}
    for r in rows:
        pace = (r["fills"] - previous["fills"]) / max(r["t"] - previous["t"], 1e-9)
        previous = r
        print(f"| {r['t'] / 60:.1f} | {r['engine_rss_mb']:.0f} | {r['engine_fds']} | "
              f"{r['engine_threads']} | {r['window_rss_mb']:.0f} | {r['window_fds']} | "
              f"{r['window_threads']} | {r['ticks']:,} | {pace:,.0f} | {r['delivered']:,} |")
    print()
    for key in ("engine_rss_mb", "engine_fds", "engine_threads", "window_rss_mb", "window_fds",
                "window_threads"):
        change = growth(rows, key)
        verdict = "flat" if abs(change) <= args.tolerance else "GROWS"
        print(f"  {verdict:5}  {key}: {change:+.1%} from the middle third to the last")
    spread = max(readers.counts) - min(readers.counts)
    print(f"  clients: {min(readers.counts):,}-{max(readers.counts):,} trades each "
          f"(spread {spread:,} at the last read), {readers.out_of_order} out of order, "
          f"repeated or missed; closed by the server {len(readers.closed)} times, each "
          "client resuming with after_id")
    reasons: dict[str, int] = {}
    for line in readers.closed:
        reason = line.split(": ", 1)[-1][:100]
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda item: -item[1])[:3]:
        print(f"    {count:>4} x {reason}")


if __name__ == "__main__":
    raise SystemExit(main())
