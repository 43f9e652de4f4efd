"""Benchmark of an optimisation upload: the server's memory while it receives a large bar file.

Starts ``velocitas serve`` in its own process (a private VELOCITAS_HOME), writes a bar file of
--mb megabytes, posts it to ``/api/optimization/jobs/upload`` from a streaming client, and
samples the server's resident memory (``/proc/PID/status``: VmRSS every 20 ms, and VmHWM, the
kernel's own peak) before, during and after. Two files:

  * ``refused``: the bars behind a first line that is not a bar file, so the server refuses
    it as soon as it reads that line: the cost of receiving and keeping the upload alone.
  * ``accepted`` (with --accepted): valid bars, so the job also reads every bar into memory
    (the bars a job needs, whatever the upload path does).

    python bench/upload.py [--mb 150] [--python PATH] [--accepted]

--python runs the server under another interpreter (e.g. an older checkout's venv) for a
before/after figure; that interpreter's checkout is the code measured. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROW = "{t},{p:.2f},{h:.2f},{lo:.2f},{p:.2f},{v:.4f}\n"
T0 = 1_704_067_200


def write_bars(path: Path, megabytes: int, refused: bool) -> int:
    """A plain bar file of about ``megabytes`` MB; a bad first line when ``refused``."""
    target = megabytes * 1_000_000
    size = 0
    with path.open("w", encoding="utf-8") as out:
        header = "this is not a bar file\n" if refused else "timestamp,open,high,low,close,volume\n"
        out.write(header)
        size += len(header)
        i = 0
        while size < target:
            lines = []
            for _ in range(10_000):
                p = 20_000.0 + (i % 1000)
                lines.append(ROW.format(t=T0 + 60 * i, p=p, h=p + 5, lo=p - 5, v=1.5))
                i += 1
            chunk = "".join(lines)
            out.write(chunk)
            size += len(chunk)
    return size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(threading.Thread):
    """The server's VmRSS every 20 ms, until stopped; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, memory_mb(self.pid, "VmRSS"))
            self.stopped.wait(0.02)


def serve(python: str, home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "VELOCITAS_HOME": str(home)}
    process = subprocess.Popen([python, "-m", "velocitas_desktop", "serve", "--port", str(port)],
                               env=env, cwd=home, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).raise_for_status()
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 60 s")


def upload(url: str, path: Path) -> tuple[int, str, float]:
    job = json.dumps({"strategy": "SMA_Crossover", "grid": {"fast": [10], "slow": [30]},
                      "workers": 0})
    began = time.perf_counter()
    with path.open("rb") as stream:
        reply = httpx.post(url, files={"file": (path.name, stream, "text/csv")},
                           data={"job": job}, timeout=600)
    return reply.status_code, reply.text[:120], time.perf_counter() - began


def measure(python: str, megabytes: int, refused: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="velocitas-bench-") as folder:
        home = Path(folder)
        bars = home / "bars.csv"
        size = write_bars(bars, megabytes, refused)
        port = free_port()
        server = serve(python, home, port)
        try:
            idle = memory_mb(server.pid, "VmRSS")
            sampler = Sampler(server.pid)
            sampler.start()
            status, text, seconds = upload(
                f"http://127.0.0.1:{port}/api/optimization/jobs/upload", bars)
            time.sleep(0.5)
            sampler.stopped.set()
            sampler.join()
            after = memory_mb(server.pid, "VmRSS")
            high_water = memory_mb(server.pid, "VmHWM")
            kept = sorted(p.name for p in (home / "data" / "uploads").glob("*")) \
                if (home / "data" / "uploads").is_dir() else []
        finally:
            server.terminate()
            server.wait(30)
    return {"file": "refused" if refused else "accepted", "MB": size / 1e6, "status": status,
            "reply": text, "seconds": seconds, "idle": idle, "peak": max(sampler.peak, 0.0),
            "high_water": high_water, "after": after, "uploads_kept": len(kept)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=150, help="size of the uploaded file (MB)")
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter")
    parser.add_argument("--accepted", action="store_true", help="also upload valid bars")
    args = parser.parse_args()
    runs = [measure(args.python, args.mb, refused=True)]
    if args.accepted:
        runs.append(measure(args.python, args.mb, refused=False))
    print(f"{'file':<9} {'MB':>6} {'status':>6} {'s':>6} {'idle MB':>8} {'peak MB':>8} "
          f"{'HWM MB':>8} {'after MB':>8} {'kept':>5}")
    for r in runs:
        print(f"{r['file']:<9} {r['MB']:6.0f} {r['status']:>6} {r['seconds']:6.1f} "
              f"{r['idle']:8.0f} {r['peak']:8.0f} {r['high_water']:8.0f} {r['after']:8.0f} "
              f"{r['uploads_kept']:>5}")
        print(f"          reply: {r['reply']}")


if __name__ == "__main__":
    main()
