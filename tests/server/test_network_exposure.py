"""Least privilege off loopback: a start from the network reads csv files only from the data
folders, never echoes a file's contents, and connects only to the configured exchange; on
loopback the user keeps every file and every message."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.server.runner import ServerThread

pytestmark = pytest.mark.slow  # real servers on 127.0.0.1

SECRET = "hunter2-do-not-echo"
TOKEN = {"Authorization": "Bearer t0ken"}
EXCHANGE = EngineConfig(binance_rest_url="http://127.0.0.1:9", binance_ws_url="ws://127.0.0.1:9")


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    """A data folder given to the server: a good bar file and one that is bad on line 3."""
    folder = tmp_path / "bars"
    folder.mkdir()
    shutil.copy(sample_data_dir() / "BTCUSD-1h-sample.csv", folder / "btc-1h.csv")
    (folder / "bad.csv").write_text("timestamp,open,high,low,close,volume\n"
                                    "1700000000,1,2,0.5,1.5,3\n"
                                    f"1700003600,1,2,0.5,{SECRET},3\n")
    return folder


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A file outside every data folder, as a private key or a password file would be."""
    path = tmp_path / "private" / "key.csv"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\n")
    return path


@contextlib.contextmanager
def server_on(engine, host: str, bars: Path) -> Iterator[httpx.Client]:
    server = ServerThread(engine, host=host, port=0, token="t0ken", engine_defaults=EXCHANGE,
                          data_folders=[bars])
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers=TOKEN,
                          timeout=30) as api:
            yield api
    finally:
        server.stop()


@pytest.fixture
def network(engine, bars) -> Iterator[httpx.Client]:
    with server_on(engine, "0.0.0.0", bars) as api:
        yield api


def start_csv(api: httpx.Client, *files: str, **extra: str) -> httpx.Response:
    return api.post("/api/engine/start", params={"data_source": "csv", "csv": list(files),
                                                 "max_ticks": "50", **extra})


def test_a_file_outside_the_data_folders_is_refused_without_a_word_about_it(network,
                                                                            secret_file):
    for path in (str(secret_file), "/etc/passwd", "../private/key.csv",
                 "../../../../../../etc/passwd"):
        reply = start_csv(network, f"BTC={path}")
        assert reply.status_code == 403, (path, reply.text)
        detail = reply.json()["detail"]
        assert "data folders" in detail and SECRET not in detail and "root:" not in detail
    missing = start_csv(network, f"BTC={secret_file.parent / 'nothing-here.csv'}")
    assert missing.status_code == 403  # the same answer: nothing told about that folder


def test_a_link_inside_a_data_folder_that_points_out_of_it_is_refused(network, bars,
                                                                      secret_file):
    (bars / "innocent.csv").symlink_to(secret_file)
    reply = start_csv(network, "BTC=innocent.csv")
    assert reply.status_code == 403 and SECRET not in reply.text


def test_a_bad_file_in_a_data_folder_is_named_with_its_line_but_not_quoted(network, bars):
    reply = start_csv(network, "BTC=bad.csv")
    assert reply.status_code == 422
    detail = reply.json()["detail"]
    assert "BTC=bad.csv" in detail and "line 3" in detail
    assert SECRET not in detail and str(bars) not in detail


def test_files_in_the_data_folders_and_the_samples_replay(network, bars):
    for files in (["BTC=btc-1h.csv"], [f"BTC={bars / 'btc-1h.csv'}"],
                  ["BTC=sample:BTCUSD-1h"]):
        reply = start_csv(network, *files)
        assert reply.status_code == 200, reply.text
        network.post("/api/engine/stop")


def test_only_the_configured_exchange_is_reachable_from_the_network(network):
    elsewhere = network.post("/api/engine/start", params={
        "data_source": "binance", "binance_rest_url": "http://10.0.0.1:8080"})
    assert elsewhere.status_code == 403
    assert "http://127.0.0.1:9" in elsewhere.json()["detail"]
    stream = network.post("/api/engine/start", params={
        "data_source": "binance", "binance_ws_url": "ws://169.254.169.254"})
    assert stream.status_code == 403
    configured = network.post("/api/engine/start", params={
        "data_source": "binance", "binance_rest_url": "http://127.0.0.1:9/"})
    assert configured.status_code == 422  # allowed, and the fake address refuses at once


def test_on_loopback_the_user_may_name_any_file_and_read_the_whole_message(engine, bars,
                                                                          secret_file):
    with server_on(engine, "127.0.0.1", bars) as api:
        bad = secret_file.with_name("bad.csv")
        shutil.copy(bars / "bad.csv", bad)
        reply = start_csv(api, f"BTC={bad}")
        assert reply.status_code == 422 and SECRET in reply.json()["detail"]
        assert start_csv(api, f"BTC={bars / 'btc-1h.csv'}").status_code == 200
