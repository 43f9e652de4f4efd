"""Benchmark of the API server (``velocitas serve`` in its own process), printed as one table.

  * WebSocket fan-out: N clients (default 100) on ``/ws/trades?batch=true`` while the engine
    trades on the simulated feed (2 coins x the 4 built-ins, paced at --rate ticks/s). For each
    client: trades delivered against the journal's count, gaps, duplicates, and the delivery
    latency of every trade = client receive time - ``sent_at`` (the server's clock when the
    engine handed the committed trade to the server; same machine, same clock). The baseline
    is the same run with one client.
  * REST: ``GET /api/metrics`` requests/s from 32 concurrent keep-alive connections, with the
    engine idle and running, against ``GET /api/health`` (the cheapest route) as the baseline.
    The load comes from --rest-procs processes of raw HTTP/1.1 keep-alive clients.

The WebSocket clients run in --procs separate processes (their parsing must not share a GIL
with the server), each one asyncio loop of minimal RFC 6455 readers. Server and clients share
the machine's cores; the table shows the CPU each side used (1.00 = one core).

    python bench/api.py [--clients 100] [--rate 12000] [--seconds 8] [--procs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import httpx
import numpy as np

TRADE_ID = re.compile(rb'"id":(\d+)')
SENT_AT = re.compile(rb'"sent_at":([0-9.e+]+)')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "VELOCITAS_HOME": folder}
    process = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "serve", "--port", str(port),
         "--db", os.path.join(folder, "journal.sqlite3")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start: " + process.stdout.read().decode())


# --- WebSocket clients (in client processes) ----------------------------------------------

class TradeReader(asyncio.Protocol):
    """A minimal RFC 6455 client for ``/ws/trades?batch=true``: it counts trades and reads
    ids and ``sent_at`` straight from the bytes, so 100 of them cost the machine less than
    the server they measure (a full client library parses and queues every frame)."""

    def __init__(self, host: str, port: int, ready: asyncio.Event) -> None:
        self.request = (f"GET /ws/trades?batch=true HTTP/1.1\r\nHost: {host}:{port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.ready = ready
        self.buffer = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.first: int | None = None
        self.last = 0
        self.count = self.gaps = self.dups = 0
        self.latency: list[np.ndarray] = []
        self.closed = asyncio.Event()

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc) -> None:
        self.closed.set()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                raise SystemExit("the WebSocket handshake failed: " + bytes(buffer[:80]).decode())
            del buffer[:end + 4]
            self.upgraded = True
            self.ready.set()
        while len(buffer) >= 2:
            opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start:start + length])
            del buffer[:start + length]
            if opcode == 1:
                self.on_frame(payload, now)
            elif opcode == 9:  # ping: answer with a masked pong
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)

    def on_frame(self, frame: bytes, now: float) -> None:
        count = frame.count(b'{"type":"trade",')
        if not count:
            return
        first = int(TRADE_ID.search(frame).group(1))
        last = int(TRADE_ID.search(frame, frame.rfind(b'{"type":"trade",')).group(1))
        if self.first is None:
            self.first = first
        elif first <= self.last:
            self.dups += 1
        elif first != self.last + 1:
            self.gaps += 1
        if last - first + 1 != count:
            self.gaps += 1
        self.last = last
        self.count += count
        sent = np.array(SENT_AT.findall(frame)).astype(float)
        self.latency.append((now - sent) * 1000.0)

    def stats(self) -> dict:
        return {"first": self.first, "last": self.last, "count": self.count, "gaps": self.gaps,
                "dups": self.dups, "latency": np.concatenate(self.latency) if self.latency
                else np.array([])}


def client_process(url: str, clients: int, ready_q, go_q, out_q) -> None:
    host, port = url.removeprefix("http://").split(":")

    async def run() -> list[dict]:
        loop = asyncio.get_running_loop()
        readers: list[TradeReader] = []
        for _ in range(clients):
            ready = asyncio.Event()
            _, reader = await loop.create_connection(
                lambda r=ready: TradeReader(host, int(port), r), host, int(port))
            readers.append(reader)
            await asyncio.wait_for(ready.wait(), 60)
        ready_q.put(clients)
        began = time.process_time()
        await loop.run_in_executor(None, go_q.get)  # the "stop" signal
        ready_q.put(time.process_time() - began)
        for reader in readers:
            reader.transport.close()
        return [reader.stats() for reader in readers]

    out_q.put(asyncio.run(run()))


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ws_run(url: str, clients: int, procs: int, rate: float, seconds: float,
           server_pid: int, engine_workers: int) -> dict:
    ctx = mp.get_context("spawn")
    ready_q, go_q, out_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    procs = min(procs, clients)
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=client_process, args=(url, n, ready_q, go_q, out_q))
               for n in shares]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready_q.get(timeout=120)
    began = time.time()
    server_cpu = process_cpu(server_pid)
    reply = httpx.post(url + f"/api/engine/start?rate={rate}&seed=11&workers={engine_workers}",
                       timeout=30)
    reply.raise_for_status()
    time.sleep(seconds)
    httpx.post(url + "/api/engine/stop", timeout=30).raise_for_status()
    elapsed = time.time() - began
    server_cpu = (process_cpu(server_pid) - server_cpu) / elapsed
    session_trades = httpx.get(url + "/api/metrics", timeout=30).json()["global"]["total_trades"]
    time.sleep(3.0)  # the last frames in flight
    for _ in workers:
        go_q.put("stop")
    client_cpu = sum(ready_q.get(timeout=60) for _ in workers) / (time.time() - began)
    stats = [s for _ in workers for s in out_q.get(timeout=120)]
    for worker in workers:
        worker.join(30)
    latency = np.concatenate([s["latency"] for s in stats if s.get("count")])
    delivered = [s.get("count", 0) for s in stats]
    return {
        "clients": clients, "trades": session_trades, "trades_per_s": session_trades / elapsed,
        "min_delivered": min(delivered), "complete": sum(d == session_trades for d in delivered),
        "gaps": sum(s.get("gaps", 0) for s in stats), "dups": sum(s.get("dups", 0) for s in stats),
        "p50": float(np.percentile(latency, 50)), "p99": float(np.percentile(latency, 99)),
        "max": float(latency.max()), "server_cpu": server_cpu, "client_cpu": client_cpu,
    }


# --- REST load (raw keep-alive HTTP/1.1, so the client is cheaper than the server) -----

async def rest_worker(host: str, port: int, path: str, until: float, counts: list[int],
                      errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                counts[0] += 1
            else:
                errors[0] += 1
    finally:
        writer.close()


def rest_process(url: str, path: str, connections: int, seconds: float, out_q) -> None:
    host, port = url.removeprefix("http://").split(":")

    async def main() -> tuple[int, int]:
        counts, errors = [0], [0]
        until = time.perf_counter() + seconds
        await asyncio.gather(*(rest_worker(host, int(port), path, until, counts, errors)
                               for _ in range(connections)))
        return counts[0], errors[0]

    out_q.put(asyncio.run(main()))


def rest_run(url: str, path: str, connections: int, seconds: float, procs: int) -> dict:
    ctx = mp.get_context("spawn")
    out_q = ctx.Queue()
    shares = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    workers = [ctx.Process(target=rest_process, args=(url, path, n, seconds, out_q))
               for n in shares]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    results = [out_q.get(timeout=seconds + 60) for _ in workers]
    for worker in workers:
        worker.join(30)
    elapsed = time.perf_counter() - began - 0.0
    ok = sum(r[0] for r in results)
    return {"path": path, "requests": ok, "errors": sum(r[1] for r in results),
            "per_s": ok / seconds, "elapsed": elapsed}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=12_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rest-procs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0,
                        help="engine worker processes (strategies off the server's GIL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(folder)
        try:
            for coin in ("BTC", "ETH"):
                for name in ("SMA_Crossover", "Momentum", "RSI", "MACD"):
                    httpx.post(url + "/api/strategies/register", timeout=30,
                               json={"name": name, "coin": coin}).raise_for_status()
            baseline = ws_run(url, 1, 1, args.rate, args.seconds, process.pid, args.workers)
            fan_out = ws_run(url, args.clients, args.procs, args.rate, args.seconds,
                             process.pid, args.workers)
            rest = {}
            for state in ("idle", "running"):
                if state == "running":
                    httpx.post(url + f"/api/engine/start?rate={args.rate}&seed=5"
                               f"&workers={args.workers}", timeout=30).raise_for_status()
                    time.sleep(1.0)
                for path in ("/api/health", "/api/metrics"):
                    rest[state, path] = rest_run(url, path, args.connections, args.seconds,
                                                 args.rest_procs)
            httpx.post(url + "/api/engine/stop", timeout=30)
        finally:
            process.terminate()
            process.wait(10)
    print_table(args, baseline, fan_out, rest)
    return 0


def print_table(args, baseline: dict, fan_out: dict, rest: dict) -> None:
    print(f"\nVelocitas API benchmark — {os.cpu_count()} cores, simulated feed at "
          f"{args.rate:,.0f} ticks/s, 2 coins x 4 built-ins, engine workers={args.workers}, "
          f"{args.seconds:g} s per run\n")
    print("| WebSocket /ws/trades?batch=true | clients | engine trades/s | trades | every trade "
          "to every client | gaps+dups | p50 ms | p99 ms | max ms | server CPU | clients CPU |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for label, r in (("baseline: 1 client", baseline), ("fan-out", fan_out)):
        print(f"| {label} | {r['clients']} | {r['trades_per_s']:,.0f} | {r['trades']:,} | "
              f"{r['complete']}/{r['clients']} (min {r['min_delivered']:,}) | "
              f"{r['gaps'] + r['dups']} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
              f"{r['server_cpu']:.2f} | {r['client_cpu']:.2f} |")
    p99_ratio = fan_out["p99"] / baseline["p99"] if baseline["p99"] else float("nan")
    print(f"\np99 delivery latency, {fan_out['clients']} clients vs 1: {p99_ratio:.2f}x\n")
    print(f"| REST, {args.connections} keep-alive connections | engine | requests/s | errors | "
          "ratio to baseline |")
    print("|---|---|---:|---:|---:|")
    for state in ("idle", "running"):
        base = rest[state, "/api/health"]["per_s"]
        for path, label in (("/api/health", "baseline: GET /api/health"),
                            ("/api/metrics", "GET /api/metrics")):
            r = rest[state, path]
            print(f"| {label} | {state} | {r['per_s']:,.0f} | {r['errors']} | "
                  f"{r['per_s'] / base:.2f} |")
    metrics_low = min(rest[state, "/api/metrics"]["per_s"] for state in ("idle", "running"))
    targets = [
        ("engine >= 2,000 trades/s", fan_out["trades_per_s"] >= 2000),
        ("every trade delivered to every client",
         fan_out["complete"] == fan_out["clients"] and fan_out["gaps"] + fan_out["dups"] == 0),
        ("p99 delivery <= 50 ms", fan_out["p99"] <= 50),
        ("GET /api/metrics >= 2,000 requests/s (idle and running)", metrics_low >= 2000),
    ]
    print()
    for name, ok in targets:
        print(f"  {'met   ' if ok else 'MISSED'} {name}")


if __name__ == "__main__":
    sys.exit(main())
