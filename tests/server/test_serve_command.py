"""``velocitas serve``: its flags, a clear exit 2 for a taken port, and a printed token for a
non-local address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from support import wait_until

from velocitas_desktop.cli import main


def test_a_bad_port_is_a_usage_error(capsys, home):
    assert main(["serve", "--port", "70000"]) == 2
    assert "not a port number" in capsys.readouterr().err


def test_a_negative_retention_is_a_usage_error(capsys, home):
    assert main(["serve", "--keep-sessions", "-3"]) == 2
    assert "argument --keep-sessions: -3 must be 0 or more" in capsys.readouterr().err
    assert main(["serve", "--keep-gb", "nan"]) == 2
    assert "argument --keep-gb: nan must be 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "words"), [
    (["--cors-origin", "localhost:5173"], "is not an origin"),
    (["--cors-origin", "null"], "is not an origin"),
    (["--allow-host", "http://trading.lan/"], "is not a host name"),
    (["--allow-host", ""], "is not a host name"),
    (["--data-folder", "/no/such/folder"], "is not a folder"),
    (["--binance-rest-url", "ftp://example"], "https://host"),
    (["--binance-ws-url", "https://stream.binance.com"], "wss://host"),
])
def test_a_malformed_origin_or_host_name_is_a_usage_error(capsys, home, flags, words):
    assert main(["serve", *flags]) == 2
    assert words in capsys.readouterr().err


def test_the_browser_view_is_printed_with_the_token_in_the_fragment():
    from velocitas_desktop.cli.serve import browser_lines

    assert browser_lines("http://127.0.0.1:8000", "127.0.0.1", None) == [
        "browser view: http://127.0.0.1:8000/"]
    assert browser_lines("http://192.168.1.5:8000", "192.168.1.5", "a b/c") == [
        "browser view: http://192.168.1.5:8000/",
        "browser view with the token: http://192.168.1.5:8000/#token=a%20b%2Fc"]
    anywhere = browser_lines("http://0.0.0.0:8000", "0.0.0.0", "t0k")
    assert anywhere[:2] == ["browser view: http://127.0.0.1:8000/",
                            "browser view with the token: http://127.0.0.1:8000/#token=t0k"]
    assert "another machine" in anywhere[2]


@pytest.mark.slow
def test_a_taken_port_is_a_usage_error(capsys, home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port), "--db", str(home / "j.sqlite3")])
    assert code == 2
    assert "already in use" in capsys.readouterr().err


@pytest.mark.slow
def test_a_non_local_address_prints_a_generated_token_once(home):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VELOCITAS_HOME": str(home / "vh")}
    process = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "serve", "--host", "0.0.0.0", "--port",
         str(port), "--db", str(home / "j.sqlite3"), "--binance-rest-url", "http://127.0.0.1:9"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0].startswith(f"Velocitas API on http://0.0.0.0:{port}")
        token = lines[1].split(":", 1)[1].strip()
        assert lines[1].startswith("access token (shown once):") and len(token) >= 20
        url = f"http://127.0.0.1:{port}"
        assert lines[2].strip() == f"browser view: {url}/"
        assert lines[3].strip() == f"browser view with the token: {url}/#token={token}"
        wait_until(lambda: httpx.get(url + "/api/health", timeout=5).is_success)
        assert httpx.get(url + "/", timeout=30).status_code == 200  # the page asks for it
        assert httpx.get(url + "/api/strategies", timeout=30).status_code == 401
        good = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url + "/api/strategies", headers=good, timeout=30).status_code == 200
        # the exchange address given on the command line is what a start request uses
        failed = httpx.post(url + "/api/engine/start?data_source=binance&coins=BTC",
                            headers=good, timeout=60)
        assert failed.status_code == 422 and "127.0.0.1:9" in failed.json()["detail"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0
    # on its way out it says where the journal is, how big, and what it keeps
    assert process.stderr.read().splitlines()[-1].startswith(
        f"journal: {home / 'j.sqlite3'} (")


@pytest.mark.slow
def test_allowed_host_names_and_data_folders_reach_the_server(home, tmp_path):
    import shutil

    from velocitas_desktop.paths import sample_data_dir

    bars = tmp_path / "bars"
    bars.mkdir()
    shutil.copy(sample_data_dir() / "BTCUSD-1h-sample.csv", bars / "btc-1h.csv")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "VELOCITAS_HOME": str(home / "vh")}
    process = subprocess.Popen(
        [sys.executable, "-m", "velocitas_desktop", "serve", "--host", "0.0.0.0", "--port",
         str(port), "--token", "t0ken", "--db", str(home / "j.sqlite3"),
         "--allow-host", "trading.lan", "--data-folder", str(bars)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("Velocitas API on")
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(url + "/api/health", timeout=5).is_success)
        with httpx.Client(base_url=url, timeout=30,
                          headers={"Authorization": "Bearer t0ken"}) as api:
            assert api.get("/api/metrics", headers={"Host": "trading.lan"}).status_code == 200
            assert api.get("/api/metrics", headers={"Host": "evil.example"}).status_code == 403
            started = api.post("/api/engine/start?data_source=csv&csv=BTC=btc-1h.csv")
            assert started.status_code == 200, started.text
            api.post("/api/engine/stop")
            outside = api.post("/api/engine/start?data_source=csv&csv=BTC=/etc/hostname")
            assert outside.status_code == 403 and str(bars) in outside.json()["detail"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0
