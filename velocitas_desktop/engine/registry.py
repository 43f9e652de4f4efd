"""A registered strategy: its spec, its state, its place in the order, where it runs."""

from __future__ import annotations

from dataclasses import dataclass

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import StrategyStatus


@dataclass(slots=True)
class Registration:
    """One strategy the engine knows: what to create, how it is doing, and where it runs.
    ``order`` breaks ties between signals on the same tick (registered first, filled first)."""

    spec: StrategySpec
    status: StrategyStatus = StrategyStatus.ACTIVE
    error: str | None = None
    order: int = 0
    worker: int | None = None  # index of the worker process that owns it; None = inline
