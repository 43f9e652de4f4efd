"""``velocitas download`` (and ``run``) given an address that is wrong or that does not answer:
a malformed one is exit 2 at once; one nobody answers at stops within the retry budget, with
a message that names the host."""

from __future__ import annotations

import time

import pytest
from support import free_port

from velocitas_desktop import cli

DOWNLOAD = ["download", "--symbol", "BTCUSDT", "--start", "2024-01-01", "--end", "2024-01-02"]


@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.com", "http://"])
def test_a_malformed_address_is_exit_2_at_once(url, tmp_path, capsys):
    began = time.monotonic()
    code = cli.main([*DOWNLOAD, "--out", str(tmp_path / "btc.csv"), "--binance-rest-url", url])
    elapsed = time.monotonic() - began
    err = capsys.readouterr().err
    assert code == 2
    assert elapsed < 2
    assert err == (f"velocitas download: argument --binance-rest-url: {url!r} is not an "
                   "address of the form https://host[:port]; give one like "
                   "https://api.binance.com\n")
    assert not (tmp_path / "btc.csv").exists()


def test_run_refuses_malformed_exchange_addresses_too(capsys):
    assert cli.main(["run", "--source", "binance", "--binance-ws-url", "https://x.com"]) == 2
    assert "--binance-ws-url: 'https://x.com' is not an address of the form wss://host" in \
        capsys.readouterr().err
    assert cli.main(["run", "--source", "binance", "--binance-rest-url", "x"]) == 2


def test_an_unreachable_host_stops_within_the_retry_budget_and_is_named(tmp_path, capsys):
    port = free_port()  # nothing listens: every connection is refused
    began = time.monotonic()
    code = cli.main([*DOWNLOAD, "--out", str(tmp_path / "btc.csv"),
                     "--binance-rest-url", f"http://127.0.0.1:{port}", "--retry-seconds", "3"])
    elapsed = time.monotonic() - began
    err = capsys.readouterr().err.splitlines()[-1]
    assert code == 1
    assert 2.5 < elapsed < 6  # 2 s, then the 1 s left of the budget
    assert err.startswith(f"velocitas download: cannot reach 127.0.0.1:{port} (")
    assert "gave up after retrying for 3 s (--retry-seconds)" in err
    assert not (tmp_path / "btc.csv").exists()


def test_without_retries_an_unreachable_host_stops_at_the_first_refusal(tmp_path, capsys):
    began = time.monotonic()
    code = cli.main([*DOWNLOAD, "--out", str(tmp_path / "btc.csv"), "--binance-rest-url",
                     f"http://127.0.0.1:{free_port()}", "--retry-seconds", "0"])
    assert code == 1
    assert time.monotonic() - began < 2
    assert "cannot reach 127.0.0.1:" in capsys.readouterr().err


def test_the_retry_budget_defaults_to_ten_seconds_and_says_so():
    parser = cli.build_parser()
    args = parser.parse_args([*DOWNLOAD, "--out", "x.csv"])
    assert args.retry_seconds == 10.0
    download = parser._subparsers._group_actions[0].choices["download"]
    assert "(default 10; 0: no retry)" in " ".join(download.format_help().split())
