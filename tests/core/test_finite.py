"""NaN and infinities become None, the one conversion behind every JSON the app writes."""

import json
import math

import numpy as np

from velocitas_desktop.core.finite import finite_or_none


def test_nan_and_infinities_become_none_at_any_depth():
    report = {"sharpe_ratio": math.nan, "profit_factor": math.inf,
              "windows": [{"score": -math.inf}, (1.5, math.nan)]}
    assert finite_or_none(report) == {"sharpe_ratio": None, "profit_factor": None,
                                      "windows": [{"score": None}, [1.5, None]]}
    json.dumps(finite_or_none(report), allow_nan=False)  # now valid JSON


def test_finite_numbers_and_other_values_come_back_unchanged():
    assert finite_or_none(0.0) == 0.0
    assert finite_or_none(np.float64(2.5)) == 2.5  # numpy's floats are floats
    assert finite_or_none(7) == 7
    assert finite_or_none("BTC") == "BTC"
    assert finite_or_none(None) is None
    assert finite_or_none(np.float64("nan")) is None


def test_a_price_not_seen_yet_is_reported_as_none():
    from velocitas_desktop.core.ledger import Book

    assert Book("BTC_RSI", "BTC", "RSI").metrics(365.0)["last_price"] is None
