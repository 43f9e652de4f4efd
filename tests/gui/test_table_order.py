"""The table's column kinds: how prices, quantities and sizes read in a cell."""

from __future__ import annotations

import pytest

from velocitas_desktop.gui.table import BYTES, PRICE, QUANTITY, Column, ColumnTableModel


@pytest.mark.parametrize("price, shown", [(63_812.4512, "63,812.45"), (150.0, "150.00"),
                                          (2.512345, "2.5123"), (0.4512345, "0.45123"),
                                          (0.00001234, "0.00001234")])
def test_prices_keep_about_five_significant_digits(price, shown):
    assert Column("price", "Price", PRICE).text(price) == shown


@pytest.mark.parametrize("quantity, shown", [(1.0, "1"), (0.5, "0.5"), (0.00012345, "0.00012345"),
                                             (1234.5, "1,234.5"), (1e-12, "0")])
def test_quantities_show_their_digits_without_trailing_zeros(quantity, shown):
    assert Column("qty", "Qty", QUANTITY).text(quantity) == shown


def test_sizes_on_disk_show_as_people_read_them(qapp):
    model = ColumnTableModel([Column("size", "Size", BYTES)])
    model.set_rows([{"size": 812.0}, {"size": 3_400_000.0}, {"size": 95_000.0}])
    assert [model.text(r, "size") for r in range(3)] == ["812 B", "3.4 MB", "95 kB"]
    assert model.value(1, "size") == 3_400_000.0  # the number stays a number
