"""Long replies written a slice of rows at a time: the same JSON as one piece."""

from __future__ import annotations

import json

import pytest

from velocitas_desktop.server.hub import JSON_SLICE, dumps_rows


@pytest.mark.parametrize("count", [0, 1, JSON_SLICE - 1, JSON_SLICE, JSON_SLICE + 1, 1_000])
def test_rows_written_in_slices_are_the_json_of_all_of_them(count: int) -> None:
    rows = [{"id": i, "action": "BUY", "price": 64_000 + i / 7} for i in range(count)]
    assert dumps_rows(rows) == json.dumps(rows, separators=(",", ":"))


def test_a_number_that_is_not_finite_is_written_as_null() -> None:
    rows = [{"id": 1, "profit_loss": float("nan")}, {"id": 2, "profit_loss": 1.5}]
    assert json.loads(dumps_rows(rows)) == [{"id": 1, "profit_loss": None},
                                            {"id": 2, "profit_loss": 1.5}]
