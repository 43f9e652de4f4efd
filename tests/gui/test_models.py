"""The generic column table model and the candle builder, checked against hand-worked cases."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt

from velocitas_desktop.gui.panels import STRATEGY_COLUMNS, TRADE_COLUMNS
from velocitas_desktop.gui.table import CATEGORY, INT, MONEY, TIME, Column, ColumnTableModel

DISPLAY = Qt.ItemDataRole.DisplayRole


def trade(i: int, strategy: str = "BTC_SMA_Crossover", coin: str = "BTC") -> dict:
    return {"id": i, "timestamp": 1_700_000_000.0 + i, "strategy_id": strategy, "coin": coin,
            "action": "BUY" if i % 2 else "SELL", "price": 100.0 + i, "quantity": 1.0,
            "profit_loss": float(i % 3 - 1), "position_size": float(i % 2), "fee": 0.1}


def text(model: ColumnTableModel, row: int, key: str) -> str:
    col = [c.key for c in model.columns].index(key)
    return model.data(model.index(row, col), DISPLAY)


def test_cells_are_formatted_by_their_column_declaration(qapp):
    model = ColumnTableModel(TRADE_COLUMNS)
    model.append_rows([trade(1), trade(2)])
    assert model.rowCount() == 2 and model.columnCount() == len(TRADE_COLUMNS)
    assert text(model, 0, "timestamp") == "2023-11-14 22:13:21.000"
    assert text(model, 0, "price") == "101.00"
    assert text(model, 1, "profit_loss") == "1.00"
    assert text(model, 0, "action") == "BUY"
    assert model.headerData(5, Qt.Orientation.Horizontal, DISPLAY) == "Price"
    money = [c.key for c in model.columns].index("profit_loss")
    up = model.data(model.index(1, money), Qt.ItemDataRole.ForegroundRole)
    flat = model.data(model.index(0, money), Qt.ItemDataRole.ForegroundRole)
    assert up == model.colours["up"] and flat is None
    align = model.data(model.index(0, money), Qt.ItemDataRole.TextAlignmentRole)
    assert align & Qt.AlignmentFlag.AlignRight


def test_newest_first_puts_appended_rows_on_top(qapp):
    model = ColumnTableModel(TRADE_COLUMNS, newest_first=True)
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.append_rows([trade(1), trade(2)])
    model.append_rows([trade(3)])
    assert [model.value(r, "id") for r in range(3)] == [3, 2, 1]
    assert inserted == [(0, 1), (0, 0)]


def test_filters_keep_matching_rows_including_new_ones(qapp):
    model = ColumnTableModel(TRADE_COLUMNS)
    model.append_rows([trade(1), trade(2, coin="ETH", strategy="ETH_RSI"), trade(3)])
    model.set_filter("coin", "BTC")
    assert [model.value(r, "id") for r in range(model.rowCount())] == [1, 3]
    model.append_rows([trade(4, coin="ETH", strategy="ETH_RSI"), trade(5)])
    assert [model.value(r, "id") for r in range(model.rowCount())] == [1, 3, 5]
    model.set_filter("strategy_id", "ETH_RSI")
    assert model.rowCount() == 0  # BTC and ETH_RSI: nothing
    model.set_filter("coin", None)
    assert [model.value(r, "id") for r in range(model.rowCount())] == [2, 4]
    assert model.categories("coin") == ["BTC", "ETH"]
    assert model.total_rows == 5
    assert [row[1] for row in model.export_rows()] == [2, 4]


def test_set_rows_updates_in_place_when_the_keys_stay(qapp):
    model = ColumnTableModel(STRATEGY_COLUMNS, key="strategy_id")
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    rows = [{"strategy_id": "BTC_RSI", "coin": "BTC", "status": "active", "net_pnl": 1.5}]
    model.set_rows(rows)
    model.set_rows([{**rows[0], "status": "paused", "net_pnl": -2.0}])
    assert len(resets) == 1
    assert model.value(0, "status") == "paused" and model.value(0, "net_pnl") == -2.0
    assert model.row_of("BTC_RSI") == 0 and model.row_of("ETH_RSI") is None
    assert text(model, 0, "total_trades") == ""  # a missing number shows blank, not nan


def test_a_million_rows_are_stored_compactly_and_served_by_row(qapp):
    columns = [Column("id", "ID", INT), Column("timestamp", "Time", TIME),
               Column("coin", "Coin", CATEGORY), Column("profit_loss", "P&L", MONEY)]
    model = ColumnTableModel(columns, newest_first=True)
    n, chunk = 1_000_000, 100_000
    coins = ["BTC", "ETH", "SOL"]
    for start in range(0, n, chunk):
        model.append_rows([{"id": i, "timestamp": float(i), "coin": coins[i % 3],
                            "profit_loss": 1.0} for i in range(start, start + chunk)])
    assert model.rowCount() == n
    assert model.value(0, "id") == n - 1 and model.value(n - 1, "id") == 0
    stored = sum(s.array.nbytes for s in model._stores.values())
    assert stored < 64 * 1024 * 1024  # ~28 bytes a row, with room to grow
    model.set_filter("coin", "SOL")
    assert model.rowCount() == n // 3
    assert model.value(0, "id") == 999_998  # the newest SOL row
    assert model.data(QModelIndex(), DISPLAY) is None


@pytest.mark.parametrize("name, expected", [("BTCUSDT-1m-2024-01.csv", "BTC"),
                                            ("ETHUSD-1h-sample.csv", "ETH"),
                                            ("sol_prices.csv", "SOL")])
def test_the_coin_is_read_from_a_file_name(name, expected):
    from velocitas_desktop.engine.request import coin_from_filename

    assert coin_from_filename(f"/data/{name}") == expected


def test_qt_binding_keeps_none_alive_across_many_cell_reads(qapp):
    """PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to None each time an
    override returns None and aborts the app minutes into a session; 6.11 does not."""
    import sys

    model = ColumnTableModel(TRADE_COLUMNS)
    model.append_rows([trade(1)])
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(20_000):
        index.data(Qt.ItemDataRole.DecorationRole)  # the model answers None
    assert sys.getrefcount(None) >= before - 100


def test_cells_answered_from_the_cache_follow_rows_rewritten_in_place():
    from PySide6.QtCore import QModelRoleData, Qt

    from velocitas_desktop.gui.table import MONEY, Column, ColumnTableModel

    model = ColumnTableModel([Column("k", "K"), Column("v", "V", MONEY)], key="k")
    model.set_rows([{"k": "a", "v": 1.5}, {"k": "b", "v": 0.0}])

    def cell(row: int) -> list:
        roles = [QModelRoleData(Qt.ItemDataRole.DisplayRole),
                 QModelRoleData(Qt.ItemDataRole.ForegroundRole),
                 QModelRoleData(Qt.ItemDataRole.DecorationRole)]
        model.multiData(model.index(row, 1), roles)  # what a view asks when it paints
        return [r.data() for r in roles]

    assert cell(0)[0] == "1.50" and cell(0)[1] == model.colours["up"] and cell(0)[2] is None
    assert cell(0) == cell(0)  # the second answer comes from the cache
    model.set_rows([{"k": "a", "v": -2.25}, {"k": "b", "v": 0.0}])  # same keys: in place
    assert cell(0)[0] == "-2.25" and cell(0)[1] == model.colours["down"]
    model.append_rows([{"k": "c", "v": 3.0}])
    assert cell(2)[0] == "3.00" and cell(0)[0] == "-2.25"
