"""Fixtures of the research tests: the real sample bars."""

from __future__ import annotations

import pytest
from research_helpers import SAMPLE

from velocitas_desktop.research.backtest import BarSeries, load_bars


@pytest.fixture(scope="session")
def sample_bars() -> BarSeries:
    return load_bars(SAMPLE)
