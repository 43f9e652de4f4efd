"""The built desktop bundle, run as a trader runs it: the executable from the unpacked archive,
in an empty folder outside the source tree, with a fresh home and user folders and no
PYTHONPATH, so only what the bundle carries can be imported.

Skipped unless ``VELOCITAS_BUNDLE`` names a built bundle: its archive (``.tar.gz``/``.zip``,
unpacked once here), its folder, or its executable. ``make bundle-smoke`` builds one when
needed and runs these; ``.ci/run`` runs that after ``make test``.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = os.environ.get("VELOCITAS_BUNDLE", "")
# resolved now, before the tests move to their own working folders
GIVEN = Path(BUNDLE).expanduser().resolve() if BUNDLE else Path()
EXE_NAME = "velocitas.exe" if sys.platform == "win32" else "velocitas"
LINUX = sys.platform.startswith("linux")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BUNDLE, reason="no built bundle: set VELOCITAS_BUNDLE (make "
                                          "bundle-smoke builds one and runs these)"),
]

USER_STRATEGY = '''\
"""A trader's own strategy: buy, then sell, every few prices."""

from velocitas_desktop.core.strategy import Param, Strategy
from velocitas_desktop.core.types import Signal


class Flipper(Strategy):
    """Alternate a buy and a sell every `every` prices."""

    every = Param(25, low=2, high=10_000, step=1, doc="prices between two decisions")

    def init(self) -> None:
        self.seen = 0
        self.long = False

    def next(self) -> Signal | None:
        self.seen += 1
        if self.seen % self.every:
            return None
        self.long = not self.long
        return self.buy() if self.long else self.sell()
'''

RULES = {"rules": [
    {"id": "rsi-hot", "name": "Hourly RSI hot",
     "condition": {"type": "rsi", "params": {"timeframe": "1h", "above": 75}},
     "scope": {"kind": "all"}, "frequency": {"mode": "once_per_bar"}, "severity": "info"},
    {"id": "kill-switch", "name": "Kill switch",
     "condition": {"type": "drawdown", "params": {"percent": 5}},
     "scope": {"kind": "all"}, "frequency": {"mode": "once"}, "severity": "critical",
     "action": {"type": "pause_strategy", "params": {}, "auto": True}},
]}


@dataclass(frozen=True)
class User:
    """A trader's machine: the bundle's executable, an empty working folder, a home with the
    user folders in it, and the environment a desktop session gives."""

    exe: Path
    cwd: Path
    home: Path
    env: dict[str, str]

    @property
    def data(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "velocitas"

    @property
    def config(self) -> Path:
        return Path(self.env["XDG_CONFIG_HOME"]) / "velocitas"

    @property
    def logs(self) -> Path:
        return Path(self.env["XDG_STATE_HOME"]) / "velocitas" / "log"

    @property
    def strategies(self) -> Path:
        return self.home / "my-strategies"

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.exe), *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([str(self.exe), *args], cwd=self.cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def unpacked(tmp: Path) -> Path:
    """The bundle's folder: the archive unpacked into ``tmp``, or the folder given."""
    given = GIVEN
    if given.is_file() and given.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(given) as tar:
            # the "tar" filter keeps modes and symbolic links inside the folder (3.11.4+)
            safe = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            tar.extractall(tmp, **safe)
        return tmp / "velocitas"
    if given.is_file() and given.suffix == ".zip":
        with zipfile.ZipFile(given) as zipped:
            zipped.extractall(tmp)
        return tmp / "velocitas"
    return given.parent if given.is_file() else given


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = unpacked(tmp_path_factory.mktemp("bundle"))
    exe = folder / EXE_NAME
    assert exe.is_file(), f"no {EXE_NAME} in {folder}: is {BUNDLE} a built bundle?"
    return folder


@pytest.fixture
def user(bundle: Path, tmp_path: Path) -> User:
    home = tmp_path / "home"
    cwd = tmp_path / "somewhere"
    for folder in (home, cwd, home / ".config", home / ".local" / "share",
                   home / ".local" / "state", home / ".cache", tmp_path / "runtime"):
        folder.mkdir(parents=True, exist_ok=True)
    (tmp_path / "runtime").chmod(0o700)
    env = {
        "HOME": str(home), "USERPROFILE": str(home),
        "PATH": os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir()),
        "LANG": "C.UTF-8", "TMPDIR": str(tmp_path),
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
        "QT_QPA_PLATFORM": "offscreen",
        # marks every process this test starts, so one left behind can be found
        "VELOCITAS_SMOKE": uuid.uuid4().hex,
    }
    for name in ("SYSTEMROOT", "WINDIR", "APPDATA", "LOCALAPPDATA"):  # Windows needs these
        if name in os.environ:
            env[name] = os.environ[name]
    assert not cwd.resolve().is_relative_to(ROOT)
    user = User(bundle / EXE_NAME, cwd, home, env)
    user.strategies.mkdir()
    (user.strategies / "flipper.py").write_text(USER_STRATEGY, encoding="utf-8")
    return user


def marked_processes(marker: str) -> dict[int, str]:
    """pid → command line of each process whose environment carries ``marker`` (Linux)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"VELOCITAS_SMOKE={marker}".encode() in environ.split(b"\0"):
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


@pytest.fixture
def no_process_left(user: User) -> Iterator[None]:
    """After the test, no process it started (nor any child of theirs) is still running."""
    yield
    if LINUX:
        left = wait_until_gone(user.env["VELOCITAS_SMOKE"])
        assert left == {}, f"processes left running: {left}"


def wait_until_gone(marker: str, timeout: float = 10.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (left := marked_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def source_version() -> str:
    tree = ast.parse((ROOT / "velocitas_desktop" / "__init__.py").read_text(encoding="utf-8"))
    return next(ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and node.targets[0].id == "__version__")


def fills_by_strategy(journal: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT books.strategy_id, COUNT(fills.id) FROM books "
                          "LEFT JOIN fills ON fills.book = books.id "
                          "GROUP BY books.strategy_id").fetchall()
    return dict(rows)


# --- what the bundle holds --------------------------------------------------------------


def test_the_bundle_says_its_version_from_the_one_source(user):
    done = user.run("--version", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"velocitas {source_version()}"


def test_the_bundle_holds_the_app_data_and_no_test_code(bundle):
    internal = bundle / "_internal"
    package = internal / "velocitas_desktop"
    assert (package / "resources" / "data" / "BTCUSD-1h-sample.csv").is_file()
    assert (package / "resources" / "styles" / "dark.qss").is_file()
    assert (package / "builtin_strategies" / "sma_crossover.py").is_file()
    assert (package / "webview" / "dist" / "index.html").is_file()
    assert (bundle / "share" / "velocitas.desktop").is_file()
    files = [path.relative_to(bundle) for path in bundle.rglob("*")]
    test_code = [str(path) for path in files
                 if {"tests", "fakes", "pytest", "_pytest", "hypothesis"} & set(path.parts)
                 or path.name.startswith(("test_", "conftest", "fake_"))]
    assert test_code == []
    excluded = [str(path) for path in files
                if any(name in path.name for name in ("Qt6Quick", "Qt6Qml", "Qt6Designer",
                                                      "Qt6Pdf", "Qt6Sql"))
                or "translations" in path.parts or path.name.startswith("tkinter")]
    assert excluded == []


# --- the modes, as a user starts them ------------------------------------------------------


def test_the_window_opens_trades_and_loads_a_user_strategy_folder(user, tmp_path,
                                                                  no_process_left):
    """The demo on the simulated feed, with the embedded server on and a strategy folder of
    the user's in the settings: the folder's strategy is offered, runs and trades, the server
    in the engine's process serves the browser view, and the picture is the window with its
    trades."""
    port = free_port()
    user.config.mkdir(parents=True)
    (user.config / "settings.json").write_text(json.dumps({
        "strategy_folders": [str(user.strategies)], "server_enabled": True,
        "server_port": port}), encoding="utf-8")
    shot = tmp_path / "window.png"
    # 20 s: the engine's process, its workers and then the server start on a machine that
    # may still be busy with the build (about 3 s alone)
    window = user.start("gui", "--demo", "--screenshot", str(shot), "--quit-after", "20")
    try:
        api = f"http://127.0.0.1:{port}/api"

        last: list[str] = []

        def offered() -> list[str]:
            if window.poll() is not None:
                pytest.fail(f"the window exited ({window.returncode}) before its server "
                            f"listed the strategies ({last[-1:]}): "
                            f"{window.communicate()[1][-2000:]}\n{logs_of(user)}")
            try:
                answer = httpx.get(f"{api}/strategies/available", timeout=2)
                return [item["name"] for item in answer.json()]
            except (httpx.HTTPError, ValueError) as exc:
                last.append(repr(exc))
                return []

        names = wait_until(offered, "the embedded server's strategy list", timeout=60)
        assert "Flipper" in names and "SMA_Crossover" in names
        added = httpx.post(f"{api}/strategies/register", timeout=10, json={
            "name": "Flipper", "coin": "BTC", "params": {"every": 5}, "timeframe": "tick"})
        assert added.status_code == 200, added.text
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)  # the browser view
        assert page.status_code == 200 and "<script" in page.text, page.text[:500]
        _, err = window.communicate(timeout=90)
    finally:
        if window.poll() is None:
            window.kill()
            window.communicate()
    assert window.returncode == 0, err
    assert "Traceback" not in err
    fills = fills_by_strategy(user.data / "journal.sqlite3")
    assert fills.get("BTC_Flipper", 0) > 0, fills
    assert sum(fills.values()) > fills["BTC_Flipper"], f"the demo's set made no fill: {fills}"
    assert (user.logs / "velocitas-gui.log").is_file()
    assert (user.logs / "velocitas-engine.log").is_file()
    assert_is_a_drawn_window(shot)


def logs_of(user: User) -> str:
    """The last lines of the app's logs, for a failure's message (without the live trend's
    lines, which would crowd out the rest)."""
    def tail(path: Path) -> str:
        lines = [line for line in path.read_text(errors="replace").splitlines()
                 if "trend changed" not in line]
        return "\n".join(lines)[-3000:]

    return "\n".join(f"{path.name}: ...{tail(path)}" for path in sorted(user.logs.glob("*.log")))


def assert_is_a_drawn_window(png: Path) -> None:
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert not image.isNull(), f"{png} is not a picture"
    assert (image.width(), image.height()) == (1600, 960)
    small = image.scaled(160, 96)
    colours = {small.pixel(x, y) for x in range(160) for y in range(96)}
    # a blank or a lone dialog is a handful of colours; the window with charts is hundreds
    assert len(colours) > 100, f"the picture has {len(colours)} colours: a blank window?"


def test_serve_answers_and_serves_the_browser_view(user, no_process_left):
    port = free_port()
    server = user.start("serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, "/api/health", timeout=60)
        page = httpx.get(base + "/", timeout=10)
        assert page.status_code == 200
        assert "<script" in page.text and "not built" not in page.text
        asset = page.text.split('src="', 1)[1].split('"', 1)[0]
        script = httpx.get(base + asset, timeout=10)
        assert script.status_code == 200 and len(script.content) > 10_000
        assert httpx.get(base + "/docs", timeout=10).status_code == 200
        names = [s["name"] for s in httpx.get(f"{base}/api/strategies/available",
                                             timeout=10).json()]
        assert {"SMA_Crossover", "Momentum", "RSI", "MACD"} <= set(names)
    finally:
        server.send_signal(signal.SIGTERM)  # serve stops cleanly on it (Windows: terminates)
        _, err = server.communicate(timeout=60)
    if sys.platform != "win32":
        assert server.returncode == 0, err
    assert (user.data / "journal.sqlite3").is_file()


def test_run_with_two_workers_gives_metrics_and_its_workers_exit_with_it(user):
    marker = user.env["VELOCITAS_SMOKE"]
    run = user.start("run", "--ticks", "200000", "--workers", "2", "--seed", "7", "--json")
    seen: dict[int, str] = {}
    while run.poll() is None:
        if LINUX:
            seen.update(marked_processes(marker))
        time.sleep(0.05)
    out, err = run.communicate(timeout=30)
    assert run.returncode == 0, err
    metrics = last_json(out)
    assert metrics["global"]["total_trades"] > 0
    assert len(metrics["strategies"]) == 8  # each built-in on BTC and ETH
    if LINUX:
        children = {pid: line for pid, line in seen.items() if pid != run.pid}
        workers = [line for line in children.values() if "--multiprocessing-fork" in line]
        assert len(workers) >= 2, children
        # every child is a multiprocessing task, never a second copy of the command
        assert all("--multiprocessing-fork" in line or "resource_tracker" in line
                   for line in children.values()), children
        assert wait_until_gone(marker) == {}


def test_optimize_the_sample_in_a_pool_of_two(user, no_process_left):
    done = user.run("optimize", "--csv", "sample:BTCUSD-1h", "--strategy", "SMA_Crossover",
                    "--grid", "fast=5:20:5", "--grid", "slow=30:60:10", "--workers", "2",
                    "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    rows = last_json(done.stdout)
    assert len(rows) == 16  # the whole grid, ranked
    assert rows[0]["rank"] == 1 and rows[0]["stats"]["total_trades"] > 0


def test_backtest_the_sample(user):
    done = user.run("backtest", "--csv", "sample:BTCUSD-1h", "--strategy",
                    "MACD:fast=8,slow=21", "--json")
    assert done.returncode == 0, done.stderr
    assert last_json(done.stdout)["stats"]["total_trades"] > 0


def test_trend_analyses_the_sample_and_searches_suggestions(user, no_process_left):
    done = user.run("trend", "--csv", "sample:BTCUSD-1h", "--timeframes", "1h,4h",
                    "--suggest-bars", "1500", "--folds", "2", "--workers", "2",
                    "--strategy-folder", str(user.strategies), "--json", timeout=240)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [row["timeframe"] for row in report["timeframes"]] == ["1h", "4h"]
    searched = report["suggestions"]
    assert searched["bars"] == 1500 and searched["verdict"]


def test_copilot_rules_tested_on_the_sample_with_a_user_strategy(user, tmp_path):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES), encoding="utf-8")
    done = user.run("copilot", "test", "--csv", "sample:BTCUSD-1h", "--rules", str(rules),
                    "--strategy", "Flipper", "--params", "every=50",
                    "--strategy-folder", str(user.strategies), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["bars"] == 5000 and result["strategy"] == "BTC_Flipper"
    assert result["counts"]["rsi-hot"] > 0


def test_nothing_is_written_beside_the_user(user):
    done = user.run("samples")
    assert done.returncode == 0, done.stderr
    assert "BTCUSD-1h" in done.stdout
    assert list(user.cwd.iterdir()) == []


@pytest.fixture(autouse=True)
def _no_stray_bytecode_in_the_bundle(bundle: Path) -> Iterator[None]:
    """Running the bundle leaves it as it was: nothing compiled or cached beside it."""
    before = {path for path in bundle.rglob("__pycache__")}
    yield
    assert {path for path in bundle.rglob("__pycache__")} == before


def test_the_archive_unpacks_to_one_folder():
    given = GIVEN
    if not given.is_file():
        pytest.skip("VELOCITAS_BUNDLE names a folder, not an archive")
    if given.name.endswith(".tar.gz"):
        with tarfile.open(given) as tar:
            names = tar.getnames()
    else:
        with zipfile.ZipFile(given) as zipped:
            names = zipped.namelist()
    assert {name.split("/")[0] for name in names} == {"velocitas"}
