"""Helpers of the live-engine specification: recording events, finding leftovers."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

from fakes.processes import children, command_line

from velocitas_desktop.engine.engine import Event

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "resources" / "data" / "BTCUSD-1h-sample.csv"
BINANCE_MS = REPO / "tests" / "data" / "BTCUSD-1h-binance-ms.csv"

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


class Recorder:
    """A subscriber that keeps every event, by kind (quick and non-blocking, as required)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: str) -> list[Any]:
        with self._lock:
            return [e.data for e in self.events if e.kind == kind]

    def trades(self, strategy_id: str | None = None) -> list[dict[str, Any]]:
        return [t for batch in self.of("trades") for t in batch
                if strategy_id is None or t["strategy_id"] == strategy_id]

    def ticks(self) -> tuple[list[str], list[float], list[float]]:
        """(coin, price, timestamp) of every tick the engine processed, in order."""
        coins: list[str] = []
        prices: list[float] = []
        stamps: list[float] = []
        for data in self.of("ticks"):
            batch = data["batch"]
            names = data["coins"]
            coins.extend(names[i] for i in batch.coin_ids.tolist())
            prices.extend(batch.prices.tolist())
            stamps.extend(batch.timestamps.tolist())
        return coins, prices, stamps


def engine_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("velocitas-")]


def child_pids() -> list[str]:
    """``pid: command line`` of the live (non-zombie) processes whose parent is this test process.

    multiprocessing's resource tracker is not counted: the spawn start method starts one per
    interpreter, the first time any process is spawned, and it lives as long as the interpreter.
    """
    found = []
    for pid in children(os.getpid()):
        command = command_line(pid)
        if command is not None and "multiprocessing.resource_tracker" not in command:
            found.append(f"{pid}: {command}")
    return found


def nothing_left_behind() -> None:
    """No engine thread, no worker process, no child process of any kind is left running."""
    threads = engine_threads()
    assert threads == [], f"threads left behind: {threads}"
    children = multiprocessing.active_children()
    assert children == [], f"processes left behind: {children}"
    pids = child_pids()
    assert pids == [], f"child processes left behind: {pids}"
