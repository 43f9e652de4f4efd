"""Benchmark of the desktop bundle against the naive one (no excludes) and the pip install.

Prints one table:
  * size: the bundle's folder unpacked and its archive (.tar.gz);
  * start: launch → the window painted, timed as the moment its picture is written
    (``gui --screenshot PNG --quit-after 0.5``: the picture is taken 0.2 s after the event
    loop starts, so the figure is an upper bound), median of ``--runs`` starts, each in a
    fresh home; "first" is the first start after the build (operating system caches warm, the
    app's own folders empty);
  * idle memory: resident set size of the window's process and of all its processes (window,
    engine host) 8 s after the window opened with no session running.

Builds the bundles (packaging/build.py, in build/bundle and build/bundle-naive) when missing.
Linux: memory is read from /proc.

    python bench/bundle.py [--runs 3] [--skip-naive] [--skip-installed]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "packaging" / "build.py"
EXE = "velocitas.exe" if sys.platform == "win32" else "velocitas"
IDLE_SECONDS = 8.0


@dataclass
class Figures:
    name: str
    unpacked: float | None = None  # MB
    archived: float | None = None  # MB
    first_start: float | None = None
    starts: list[float] = field(default_factory=list)
    rss_window: float | None = None  # MB
    rss_total: float | None = None  # MB


def built(out: Path, naive: bool) -> tuple[Path, Path]:
    """The bundle's executable and archive in ``out``, built first if missing."""
    exe = out / "dist" / "velocitas" / EXE
    archives = sorted(out.glob("velocitas-*.tar.gz")) + sorted(out.glob("velocitas-*.zip"))
    if not exe.is_file() or not archives:
        command = [sys.executable, str(BUILD), "--out", str(out)] + (["--naive"] if naive else [])
        subprocess.run(command, check=True)
        archives = sorted(out.glob("velocitas-*.tar.gz")) + sorted(out.glob("velocitas-*.zip"))
    return exe, archives[-1]


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*")
               if f.is_file() and not f.is_symlink()) / 1e6


def user_env(home: Path, marker: str) -> dict[str, str]:
    """A fresh home with its user folders, offscreen Qt, and nothing of this checkout."""
    env = {"HOME": str(home), "USERPROFILE": str(home), "LANG": "C.UTF-8",
           "PATH": os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir()),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_STATE_HOME": str(home / ".local/state"), "XDG_CACHE_HOME": str(home / ".cache"),
           "QT_QPA_PLATFORM": "offscreen", "VELOCITAS_BENCH": marker}
    for name in ("SYSTEMROOT", "WINDIR", "APPDATA", "LOCALAPPDATA"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def time_to_window(command: list[str]) -> float:
    """Seconds from launch until the window's picture is on disk."""
    with tempfile.TemporaryDirectory(prefix="velocitas-bench-") as tmp:
        home, shot = Path(tmp) / "home", Path(tmp) / "window.png"
        home.mkdir()
        started = time.perf_counter()
        process = subprocess.Popen([*command, "gui", "--screenshot", str(shot),
                                    "--quit-after", "0.5"], cwd=tmp,
                                   env=user_env(home, uuid.uuid4().hex),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        painted = None
        while process.poll() is None:
            if painted is None and shot.is_file() and shot.stat().st_size > 0:
                painted = time.perf_counter() - started
            time.sleep(0.005)
        _, err = process.communicate()
        if painted is None and shot.is_file():
            painted = time.perf_counter() - started
        if process.returncode != 0 or painted is None:
            raise RuntimeError(f"{command[0]} gui failed ({process.returncode}): "
                               f"{err.decode(errors='replace')[-2000:]}")
        return painted


def marked(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if f"VELOCITAS_BENCH={marker}".encode() in environ.split(b"\0"):
                pids.append(int(entry.name))
    return pids


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def idle_memory(command: list[str]) -> tuple[float, float]:
    """(window's process, all its processes) resident MB after IDLE_SECONDS open."""
    marker = uuid.uuid4().hex
    with tempfile.TemporaryDirectory(prefix="velocitas-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        process = subprocess.Popen([*command, "gui", "--quit-after", str(IDLE_SECONDS + 4)],
                                   cwd=tmp, env=user_env(home, marker),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(IDLE_SECONDS)
        window = rss_mb(process.pid)
        total = sum(rss_mb(pid) for pid in marked(marker))
        process.wait(60)
        return window, total


def measure(name: str, command: list[str], runs: int, folder: Path | None = None,
            archive: Path | None = None) -> Figures:
    figures = Figures(name)
    if folder is not None and archive is not None:
        figures.unpacked = folder_mb(folder)
        figures.archived = archive.stat().st_size / 1e6
    figures.first_start = time_to_window(command)
    figures.starts = [time_to_window(command) for _ in range(runs)]
    if sys.platform.startswith("linux"):
        figures.rss_window, figures.rss_total = idle_memory(command)
    return figures


def table(rows: list[Figures]) -> str:
    def mb(value: float | None) -> str:
        return "—" if value is None else f"{value:,.0f} MB"

    def sec(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f} s"

    head = (f"{'':<26}{'unpacked':>10}{'archived':>10}{'first start':>13}"
            f"{'start (med)':>13}{'idle RSS win':>14}{'idle RSS all':>14}")
    lines = [head, "─" * len(head)]
    for row in rows:
        median = statistics.median(row.starts) if row.starts else None
        lines.append(f"{row.name:<26}{mb(row.unpacked):>10}{mb(row.archived):>10}"
                     f"{sec(row.first_start):>13}{sec(median):>13}"
                     f"{mb(row.rss_window):>14}{mb(row.rss_total):>14}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="starts timed after the first")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-installed", action="store_true")
    args = parser.parse_args()
    rows = []
    exe, archive = built(ROOT / "build" / "bundle", naive=False)
    rows.append(measure("bundle", [str(exe)], args.runs, exe.parent, archive))
    if not args.skip_naive:
        exe, archive = built(ROOT / "build" / "bundle-naive", naive=True)
        rows.append(measure("naive bundle (no excludes)", [str(exe)], args.runs, exe.parent,
                            archive))
    installed = shutil.which("velocitas", path=str(Path(sys.executable).parent))
    if not args.skip_installed and installed:
        rows.append(measure("pip install (.venv)", [installed], args.runs))
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
