"""The domain: types, indicators, the strategy API, the ledger and metrics. No I/O, no threads."""

from velocitas_desktop.core.errors import (
    ParameterError,
    StrategyDefinitionError,
    UnknownStrategyError,
    VelocitasError,
)
from velocitas_desktop.core.ledger import Book, Ledger
from velocitas_desktop.core.rules import Crossover, Rule, crossed_above, crossed_below, line
from velocitas_desktop.core.strategy import Param, Strategy, StrategySpec
from velocitas_desktop.core.types import Action, Bar, Signal, Trade

__all__ = [
    "Action", "Bar", "Book", "Crossover", "Ledger", "Param", "ParameterError", "Rule", "Signal",
    "Strategy", "StrategyDefinitionError", "StrategySpec", "Trade", "UnknownStrategyError",
    "VelocitasError", "crossed_above", "crossed_below", "line",
]
