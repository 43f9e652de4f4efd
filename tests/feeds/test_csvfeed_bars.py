"""A replay of bar files carries each bar beside the prices that replay it, for the charts."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from velocitas_desktop.engine.contract import Event, EventKind
from velocitas_desktop.engine.engine import Engine, EngineConfig
from velocitas_desktop.feeds import csvfeed
from velocitas_desktop.feeds.base import BarBatch, TickBatch
from velocitas_desktop.feeds.csvfeed import CsvFeed

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


def write_bars(path: Path, rows: list[tuple[float, ...]], start: int = T0,
               step: int = 60) -> Path:
    lines = ["timestamp,open,high,low,close,volume"] + [
        f"{start + i * step},{o},{h},{lo},{c},{v}" for i, (o, h, lo, c, v) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def replay(feed: CsvFeed) -> list[TickBatch]:
    feed.open()
    return list(feed.stream(threading.Event()))


def closing_bars(batch: TickBatch, coins: list[str]) -> list[tuple]:
    """(coin, open time, O, H, L, C, V) of each bar a batch carries."""
    bars = batch.bars
    if bars is None:
        return []
    return [(coins[c], s, o, h, lo, cl, v) for c, s, o, h, lo, cl, v in zip(
        bars.coin_ids.tolist(), bars.start.tolist(), bars.open.tolist(), bars.high.tolist(),
        bars.low.tolist(), bars.close.tolist(), bars.volume.tolist(), strict=True)]


@pytest.fixture
def two_files(tmp_path: Path) -> dict[str, str]:
    btc = write_bars(tmp_path / "btc.csv", [(100 + i, 110 + i, 90 + i, 101 + i, 1 + i)
                                            for i in range(5)])
    # ETH bars are 2 minutes long and start 30 s later: their closes interleave with BTC's
    eth = write_bars(tmp_path / "eth.csv", [(10 + i, 20 + i, 5 + i, 11 + i, 0.5)
                                            for i in range(3)], start=T0 + 30, step=120)
    return {"BTC": str(btc), "ETH": str(eth)}


def test_each_batch_carries_the_bars_its_prices_close(two_files, monkeypatch):
    monkeypatch.setattr(csvfeed, "CHUNK", 3)  # batches of three prices
    feed = CsvFeed(two_files)
    batches = replay(feed)
    assert [len(b) for b in batches] == [3, 3, 2]
    coins = feed.coins
    for batch in batches:  # a bar comes with the price at its close, its own close
        closed = closing_bars(batch, coins)
        assert [(c, cl) for c, *_, cl, _ in closed] == [
            (coins[i], p) for i, p in zip(batch.coin_ids.tolist(), batch.prices.tolist(),
                                          strict=True)]
    every = [bar for b in batches for bar in closing_bars(b, coins)]
    assert every[:3] == [("BTC", T0, 100.0, 110.0, 90.0, 101.0, 1.0),
                         ("BTC", T0 + 60, 101.0, 111.0, 91.0, 102.0, 2.0),
                         ("ETH", T0 + 30, 10.0, 20.0, 5.0, 11.0, 0.5)]
    assert len(every) == 8
    assert batches[0].bars is not None and batches[0].bars.seconds.tolist() == [60.0, 60.0, 120.0]


def test_on_the_ohlc_path_a_bar_comes_with_its_fourth_price(tmp_path, monkeypatch):
    monkeypatch.setattr(csvfeed, "CHUNK", 3)
    path = write_bars(tmp_path / "btc.csv", [(100, 110, 95, 105, 7), (105, 108, 90, 92, 9)])
    batches = replay(CsvFeed({"BTC": str(path)}, ohlc_path=True))
    prices = [b.prices.tolist() for b in batches]
    assert prices == [[100, 95, 110], [105, 105, 108], [90, 92]]
    bars = [closing_bars(b, ["BTC"]) for b in batches]
    assert bars == [[], [("BTC", T0, 100, 110, 95, 105, 7)],
                    [("BTC", T0 + 60, 105, 108, 90, 92, 9)]]


def test_a_tick_limit_keeps_only_the_bars_it_replays(two_files):
    batches = replay(CsvFeed(two_files, max_ticks=4))
    closed = [bar for b in batches for bar in closing_bars(b, ["BTC", "ETH"])]
    assert [c for c, *_ in closed] == ["BTC", "BTC", "ETH", "BTC"]


def test_the_engine_hands_every_bar_to_its_views_once_in_order(two_files):
    engine = Engine()
    bars: list[BarBatch] = []
    prices: list[float] = []

    def listen(event: Event) -> None:
        if event.kind == EventKind.TICKS:
            prices.extend(event.data["batch"].prices.tolist())
            if event.data["batch"].bars is not None:
                bars.append(event.data["batch"].bars)

    engine.subscribe(listen)
    engine.start(EngineConfig(source="csv", coins=["BTC", "ETH"], csv_files=two_files))
    assert engine.wait(30)
    joined = BarBatch.concat(bars)
    assert joined.close.tolist() == prices  # one bar per replayed close, in the same order
    btc = joined.of_coin(0)
    assert btc is not None and btc[1] == 60.0
    assert btc[0].start.tolist() == [T0 + 60 * i for i in range(5)]
    assert np.array_equal(btc[0].volume, [1, 2, 3, 4, 5])
