"""A ``velocitas serve`` of its own and Debian's chromium, for the scripts that drive the
browser view (bench/web.py, scripts/screenshots.py)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(folder: str | Path) -> tuple[subprocess.Popen, str]:
    """``velocitas serve`` on a free port with its journal and user folders in ``folder``;
    its output goes to a file there (a pipe nobody reads fills in a long run and blocks the
    server). Returns the process and its address once it answers /api/health."""
    folder = Path(folder)
    port = free_port()
    env = {**os.environ, "VELOCITAS_HOME": str(folder / "home")}
    with (folder / "serve.log").open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "velocitas_desktop", "serve", "--port", str(port),
             "--db", str(folder / "journal.sqlite3")],
            env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start:\n" + (folder / "serve.log").read_text())


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def chromium() -> str:
    """Debian's chromium (scripts/system-deps.sh installs it; no browser is downloaded)."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        raise SystemExit("chromium is not installed: scripts/system-deps.sh installs it")
    return executable
