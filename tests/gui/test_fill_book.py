"""A coin's fills for the chart's arrows: the newest kept, in time order, found by time range."""

from __future__ import annotations

import numpy as np

from velocitas_desktop.gui.charts import MAX_FILLS, FillBook


def fill(stamp: float, action: str = "BUY", strategy: str = "BTC_RSI") -> dict:
    return {"timestamp": stamp, "price": 100.0 + stamp, "action": action,
            "strategy_id": strategy}


def test_the_newest_fills_are_kept_in_time_order():
    book = FillBook()
    for i in range(3 * MAX_FILLS):
        book.add(fill(float(i)))
        if i % 9_999 == 0:
            book.table()  # as the chart reads it between frames
    table = book.table()
    assert table.shape == (MAX_FILLS, 4)
    assert table[0, 0] == 2 * MAX_FILLS and table[-1, 0] == 3 * MAX_FILLS - 1
    assert np.all(np.diff(table[:, 0]) > 0)


def test_a_coin_whose_chart_is_never_read_keeps_no_more_than_its_newest_fills():
    book = FillBook()  # a coin's tab never shown: nothing reads its table while fills come
    for i in range(5 * MAX_FILLS + 7):
        book.add(fill(float(i), "SELL" if i % 3 else "BUY"))
        assert len(book._rows) < MAX_FILLS
    table = book.table()
    assert table.shape == (MAX_FILLS, 4)
    assert table[0, 0] == 4 * MAX_FILLS + 7 and table[-1, 0] == 5 * MAX_FILLS + 6
    assert np.all(np.diff(table[:, 0]) > 0) and set(table[:, 2]) == {1.0, -1.0}


def test_fills_restored_out_of_order_are_put_in_time_order():
    book = FillBook()
    for stamp in (10.0, 30.0):
        book.add(fill(stamp))
    book.table()
    for stamp in (20.0, 5.0):
        book.add(fill(stamp, "SELL"))
    assert book.table()[:, 0].tolist() == [5.0, 10.0, 20.0, 30.0]


def test_a_candle_counts_its_buys_and_sells_and_one_strategy_can_be_picked():
    book = FillBook()
    for stamp, action, strategy in ((60.0, "BUY", "A"), (70.0, "SELL", "B"), (119.9, "BUY", "B"),
                                    (120.0, "BUY", "A")):
        book.add(fill(stamp, action, strategy))
    assert book.count(60.0, 120.0, None) == (2, 1)  # 120.0 opens the next candle
    assert book.count(60.0, 120.0, "B") == (1, 1)
    stamps, prices = book.in_range(1, 60.0, 120.0, "A")
    assert stamps.tolist() == [60.0, 120.0] and prices.tolist() == [160.0, 220.0]
    assert book.in_range(1, 0.0, 1e9, "nobody")[0].size == 0
