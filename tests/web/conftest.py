"""Fixtures for the browser view's end-to-end tests: a real ``velocitas serve`` in its own
process on a free port, and Debian's chromium driven by Playwright.

``make test`` builds the page (web/ → velocitas_desktop/webview/dist) and installs chromium
(scripts/system-deps.sh), so a missing one is a failure that says how to get it, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from support import free_port
from web_helpers import TOKEN

import velocitas_desktop

BUILT_PAGE = Path(velocitas_desktop.__file__).parent / "webview" / "dist" / "index.html"

# Playwright's expect() waits this long (ms) by default: generous, the two cores are shared
# by three test processes, one of them maybe running a flat-out engine
EXPECT_TIMEOUT_MS = 30_000


@dataclass
class Served:
    """A ``velocitas serve`` process and how to reach it."""

    url: str
    process: subprocess.Popen
    output: Path
    token: str | None = None
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.api = httpx.Client(base_url=self.url, headers=headers, timeout=30.0)

    def log(self) -> str:
        return self.output.read_text(errors="replace")

    def trade_ids(self) -> list[int]:
        """Every trade id of the session, oldest first, from /api/trades."""
        ids: list[int] = []
        while True:
            page = self.api.get("/api/trades", params={
                "after_id": ids[-1] if ids else 0, "limit": 10_000}).json()
            ids.extend(trade["id"] for trade in page)
            if len(page) < 10_000:
                return ids


def start_server(folder: Path, token: str | None = None,
                 extra: tuple[str, ...] = ()) -> Served:
    """``velocitas serve`` on a free port of 127.0.0.1 with its journal and user folders in
    ``folder``; returns once /api/health answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "velocitas_desktop", "serve", "--port", str(port),
               "--db", str(folder / "journal.sqlite3"), *extra]
    if token:
        command += ["--token", token]
    output = folder / "serve.log"
    env = {**os.environ, "VELOCITAS_HOME": str(folder / "home"), "PYTHONUNBUFFERED": "1"}
    # a file, not a pipe: nobody reads the output while the test runs, and a full pipe blocks
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                   cwd=folder)
    served = Served(f"http://127.0.0.1:{port}", process, output, token)
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"velocitas serve exited with {process.returncode}:\n{served.log()}")
        try:
            if httpx.get(served.url + "/api/health", timeout=2).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop_server(served)
            pytest.fail(f"velocitas serve did not answer /api/health in 60 s:\n{served.log()}")
        time.sleep(0.1)


def stop_server(served: Served) -> None:
    """SIGTERM (a running session is stopped first), then SIGKILL if it does not end."""
    served.api.close()
    if served.process.poll() is None:
        served.process.send_signal(signal.SIGTERM)
        try:
            served.process.wait(20)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(10)


def _require_built_page() -> None:
    if not BUILT_PAGE.is_file():
        pytest.fail(f"the browser view is not built ({BUILT_PAGE} is missing): run `make test`, "
                    "which builds it, or `cd web && npm ci && npm run build`")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    """A fresh ``velocitas serve`` without a token."""
    _require_built_page()
    served = start_server(tmp_path / "serve")
    yield served
    stop_server(served)


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[Served]:
    """A fresh ``velocitas serve --token``."""
    _require_built_page()
    served = start_server(tmp_path / "serve", token=TOKEN)
    yield served
    stop_server(served)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    """Debian's chromium (scripts/system-deps.sh installs it); never a downloaded browser."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is not installed: run `make test` (scripts/system-deps.sh "
                    "installs Debian's chromium) or `apt-get install chromium`")
    browser = playwright_driver.chromium.launch(executable_path=executable,
                                                args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile (its own sessionStorage) at the smallest size the page promises
    to be usable at."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page whose script errors are printed when a test fails (pytest shows a failing
    test's output)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    page = context.new_page()
    page.on("pageerror", lambda error: print(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error"
            and print(f"console error: {message.text}"))
    yield page
