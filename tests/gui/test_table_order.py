"""The table model's sorting, readable export and column kinds, checked against hand-worked
cases and against a plain Python sort of the same rows."""

from __future__ import annotations

import math
import random

import pytest
from PySide6.QtCore import Qt

from velocitas_desktop.gui.panels import TRADE_COLUMNS, make_table
from velocitas_desktop.gui.table import (
    BYTES,
    PRICE,
    QUANTITY,
    TEXT,
    TIME,
    Column,
    ColumnTableModel,
)

ASCENDING, DESCENDING = Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder
KEYS = [c.key for c in TRADE_COLUMNS]


def fill(i: int, pnl: float = 0.0, strategy: str = "BTC_RSI", price: float = 100.0) -> dict:
    return {"id": i, "timestamp": 1_700_000_000.0 + i, "strategy_id": strategy,
            "coin": strategy[:3], "action": "BUY" if i % 2 else "SELL", "price": price,
            "quantity": 0.5, "profit_loss": pnl, "position_size": 0.5, "fee": 0.05}


def ids(model: ColumnTableModel) -> list[int]:
    return [model.value(row, "id") for row in range(model.rowCount())]


def by_pnl_descending(fills: list[dict]) -> list[int]:
    """What a trader expects: biggest P&L first, missing ones last, ties newest first (as if
    sorted by time second, the same way round)."""
    def rank(f: dict) -> tuple[bool, float, int]:
        missing = math.isnan(f["profit_loss"])
        return missing, 0.0 if missing else -f["profit_loss"], -f["id"]

    return [f["id"] for f in sorted(fills, key=rank)]


def test_numbers_sort_as_numbers_both_ways_with_ties_in_time_order_and_missing_last(qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.append_rows([fill(1, 5.0), fill(2, -20.0), fill(3, math.nan), fill(4, 5.0),
                       fill(5, 100.0)])
    model.sort(KEYS.index("profit_loss"), DESCENDING)
    assert ids(model) == [5, 4, 1, 2, 3]  # the tied 5.00s newest first, as the sort goes
    model.sort(KEYS.index("profit_loss"), ASCENDING)
    assert ids(model) == [2, 1, 4, 5, 3]  # -20 < 5 = 5 < 100 (not "-20" > "100" as text)
    model.sort(-1)  # the third click: newest first again
    assert ids(model) == [5, 4, 3, 2, 1]


def test_text_sorts_alphabetically_whatever_its_case_and_times_by_time(qapp):
    model = ColumnTableModel([Column("name", "Name", TEXT), Column("at", "At", TIME)])
    model.set_rows([{"name": "eth_rsi", "at": 30.0}, {"name": "BTC_MACD", "at": 100.0},
                    {"name": "btc_sma", "at": 2.0}])
    model.sort(0, ASCENDING)
    assert [model.value(r, "name") for r in range(3)] == ["BTC_MACD", "btc_sma", "eth_rsi"]
    model.sort(1, ASCENDING)
    assert [model.value(r, "at") for r in range(3)] == [2.0, 30.0, 100.0]


def test_fills_arriving_in_a_sorted_blotter_land_where_a_full_sort_puts_them(qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    rng = random.Random(7)
    fills = [fill(i, rng.choice([0.0, 0.0, 1.5, -2.0, math.nan, rng.uniform(-9, 9)]))
             for i in range(1, 401)]
    model.append_rows(fills[:100])
    model.sort(KEYS.index("profit_loss"), DESCENDING)
    for start in range(100, 400, 37):  # batches of fills as the engine sends them
        model.append_rows(fills[start:start + 37])
        assert ids(model) == by_pnl_descending(fills[:start + 37])


def test_a_filtered_sorted_blotter_places_only_the_fills_it_shows(qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.append_rows([fill(1, 3.0), fill(2, 1.0, "ETH_MACD"), fill(3, 2.0)])
    model.set_filter("strategy_id", "BTC_RSI")
    model.sort(KEYS.index("profit_loss"), ASCENDING)
    model.append_rows([fill(4, 2.5), fill(5, -1.0, "ETH_MACD"), fill(6, 0.5)])
    assert ids(model) == [6, 3, 4, 1]
    model.set_filter("strategy_id", None)  # the sort stays when the filter goes
    assert ids(model) == [5, 6, 2, 3, 4, 1]


def test_a_new_strategy_in_a_blotter_sorted_by_strategy_is_sorted_in(qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.append_rows([fill(1, strategy="ETH_RSI"), fill(2, strategy="BTC_RSI")])
    model.sort(KEYS.index("strategy_id"), ASCENDING)
    model.append_rows([fill(3, strategy="BTC_MACD"), fill(4, strategy="ETH_RSI")])
    assert [model.value(r, "strategy_id") for r in range(4)] == [
        "BTC_MACD", "BTC_RSI", "ETH_RSI", "ETH_RSI"]
    assert ids(model)[2:] == [1, 4]  # ties oldest first in an ascending sort


def test_the_selected_fill_stays_selected_through_sorts_and_arrivals(qtbot):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    view = make_table(model)
    qtbot.addWidget(view)
    model.append_rows([fill(i, float(i % 5)) for i in range(1, 51)])
    view.selectRow(ids(model).index(17))
    model.sort(KEYS.index("profit_loss"), DESCENDING)
    model.append_rows([fill(i, float(i % 7)) for i in range(51, 90)])
    model.sort(KEYS.index("price"), ASCENDING)
    selected = view.selectionModel().selectedRows()
    assert len(selected) == 1 and model.value(selected[0].row(), "id") == 17


def test_a_large_table_sorts_on_a_pool_thread_and_fills_meanwhile_land_in_order(qtbot):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.inline_sort_rows = 100  # this table counts as large
    rng = random.Random(3)
    fills = [fill(i, rng.uniform(-50, 50) if i % 2 else 0.0) for i in range(1, 5_001)]
    model.append_rows(fills[:4_000])
    with qtbot.waitSignal(model.sorting, check_params_cb=lambda busy: not busy,
                          timeout=20_000):
        model.sort(KEYS.index("profit_loss"), DESCENDING)
        assert model.sort_pending and ids(model)[0] == 4_000  # still newest first
        model.append_rows(fills[4_000:4_500])  # fills arrive while it sorts
    assert not model.sort_pending
    model.append_rows(fills[4_500:])
    assert ids(model) == by_pnl_descending(fills)


def test_an_older_sort_finishing_late_is_dropped(qtbot):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.inline_sort_rows = 100
    model.append_rows([fill(i, float(i % 13), price=1_000.0 - i) for i in range(1, 3_001)])
    model.sort(KEYS.index("profit_loss"), DESCENDING)
    model.sort(KEYS.index("price"), ASCENDING)  # a second click before the first is done
    qtbot.waitUntil(lambda: not model.sort_pending, timeout=20_000)
    qtbot.wait(200)  # both pool jobs have reported
    assert ids(model)[:3] == [3_000, 2_999, 2_998]  # cheapest first: the last click wins


@pytest.mark.parametrize("price, shown", [(63_812.4512, "63,812.45"), (150.0, "150.00"),
                                          (2.512345, "2.5123"), (0.4512345, "0.45123"),
                                          (0.00001234, "0.00001234")])
def test_prices_keep_about_five_significant_digits(price, shown):
    assert Column("price", "Price", PRICE).text(price) == shown


@pytest.mark.parametrize("quantity, shown", [(1.0, "1"), (0.5, "0.5"), (0.00012345, "0.00012345"),
                                             (1234.5, "1,234.5"), (1e-12, "0")])
def test_quantities_show_their_digits_without_trailing_zeros(quantity, shown):
    assert Column("qty", "Qty", QUANTITY).text(quantity) == shown


def test_a_readable_export_has_titles_utc_times_and_rounded_numbers_and_a_raw_one_every_digit(
        qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    model.append_rows([{**fill(1, 3.9715047599999997, price=63_812.456789),
                        "timestamp": 1_553_472_060.25, "fee": 0.06381245}])
    assert model.export_header(readable=True)[:2] == ["Time (UTC)", "ID"]
    assert model.export_header() == KEYS
    readable = dict(zip(KEYS, next(model.export_rows(readable=True)), strict=True))
    assert readable["timestamp"] == "2019-03-25 00:01:00.250"
    assert (readable["price"], readable["profit_loss"], readable["fee"]) == (
        "63812.46", "3.97", "0.0638")  # no thousands separator for a spreadsheet
    assert readable["id"] == "1" and readable["action"] == "BUY"
    raw = dict(zip(KEYS, next(model.export_rows()), strict=True))
    assert raw["timestamp"] == 1_553_472_060.25 and raw["profit_loss"] == 3.9715047599999997


def test_sizes_on_disk_sort_by_bytes_but_show_as_people_read_them(qapp):
    model = ColumnTableModel([Column("size", "Size", BYTES)])
    model.set_rows([{"size": 812.0}, {"size": 3_400_000.0}, {"size": 95_000.0}])
    model.sort(0, DESCENDING)
    assert [model.text(r, "size") for r in range(3)] == ["3.4 MB", "95 kB", "812 B"]


def test_a_large_sorted_blotter_takes_fills_in_fewer_larger_batches_and_loses_none(qtbot):
    from velocitas_desktop.gui.panels import SORTED_FLUSH_EVERY, BlotterPanel

    panel = BlotterPanel()
    qtbot.addWidget(panel)
    panel._flush_timer.stop()  # its ticks are sent by hand below, one per 50 ms due
    panel.model.inline_sort_rows = 50  # this blotter counts as large
    fills = [fill(i, float(i % 11) - 5.0) for i in range(1, 401)]
    panel.add_trades(fills[:200])
    panel.flush()
    with qtbot.waitSignal(panel.model.sorting, check_params_cb=lambda busy: not busy,
                          timeout=20_000):
        panel.model.sort(KEYS.index("profit_loss"), DESCENDING)
    batches = []
    panel.model.rowsInserted.connect(lambda *_: batches.append(1))
    for tick in range(2 * SORTED_FLUSH_EVERY):
        panel.add_trades(fills[200 + 25 * tick:225 + 25 * tick])
        panel._flush_timer.timeout.emit()
    assert len(batches) == 2  # one placing per SORTED_FLUSH_EVERY ticks, not one per tick
    assert panel.pending == 0 and ids(panel.model) == by_pnl_descending(fills)


# --- a bounded blotter ----------------------------------------------------------------------

@pytest.mark.parametrize("sort_by_pnl", [False, True])
def test_a_full_blotter_forgets_its_oldest_fills_and_still_counts_every_one(
        qtbot, monkeypatch, sort_by_pnl: bool) -> None:
    """The blotter keeps the newest BLOTTER_ROWS fills (a soak's 1.5 million grew the window
    without end); the count goes on saying how many the session made, as the KPIs do."""
    from velocitas_desktop.gui import panels

    monkeypatch.setattr(panels, "BLOTTER_ROWS", 100)
    monkeypatch.setattr(panels, "BLOTTER_SLACK", 10)
    blotter = panels.BlotterPanel()
    qtbot.addWidget(blotter)
    if sort_by_pnl:
        blotter.model.sort(KEYS.index("profit_loss"), DESCENDING)
    made = [fill(i, pnl=float(i % 7), strategy=("BTC_RSI", "ETH_MACD")[i % 2])
            for i in range(1, 251)]
    for start in range(0, 250, 25):
        blotter.add_trades(made[start:start + 25])
        blotter.flush()
    assert 100 <= blotter.model.total_rows <= 110
    kept = sorted(ids(blotter.model))
    assert kept == list(range(251 - len(kept), 251))  # the newest, none missing
    assert blotter.fills == 250
    assert blotter.count_label.text().startswith("250 fills (the newest 100 here")
    if sort_by_pnl:
        assert ids(blotter.model) == by_pnl_descending([f for f in made if f["id"] in kept])
    else:
        assert ids(blotter.model)[0] == 250  # newest first, as before
    blotter.clear()
    assert blotter.fills == 0 and blotter.count_label.text() == "0 fills"
