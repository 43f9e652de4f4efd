"""The session's writer thread: what the consumer hands over goes to the journal, then to the
subscribers, in order."""

from __future__ import annotations

import queue
import time
from typing import Any, Protocol

from velocitas_desktop.core.types import Trade
from velocitas_desktop.engine.contract import EventKind
from velocitas_desktop.engine.latency import LatencyStats


class JournalOwner(Protocol):
    """What the writer needs of the engine: the journal, and the subscribers to tell."""

    @property
    def has_subscribers(self) -> bool: ...
    def publish(self, kind: EventKind, data: Any) -> None: ...
    def journal_batch(self, trades: list[Trade], pnl_rows: list[Any],
                      state: dict[str, Any] | None = None) -> None: ...


class JournalWriter:
    """The writer thread's loop (:meth:`run`) over the session's outbox."""

    def __init__(self, engine: JournalOwner, outbox: queue.Queue, coins: list[str],
                 latency: LatencyStats) -> None:
        self.engine = engine
        self._outbox = outbox
        self.coins = coins
        self.latency = latency

    def run(self) -> None:
        """Commit trades, then tell the subscribers, in order.

        It takes everything waiting at once and commits it in one transaction, so a slow
        commit makes the next one bigger instead of making a queue.
        """
        engine = self.engine
        coins = self.coins
        done = False
        while not done:
            items = [self._outbox.get()]
            while True:
                try:
                    items.append(self._outbox.get_nowait())
                except queue.Empty:
                    break
            if items[-1] is None:
                done = True
                items.pop()
            if not items:
                continue
            trades = [t for item in items for t in item[0]]
            states = [item[2] for item in items if item[2]]
            engine.journal_batch(trades, [r for item in items for r in item[1]],
                                 states[-1] if states else None)
            if trades and engine.has_subscribers:  # no dicts to build when nobody listens
                engine.publish(EventKind.TRADES, [t.to_dict() for t in trades])
            now = time.perf_counter()
            for _, _, _, batches, positions, batch in items:
                if batch is None:  # the session's last state: no ticks
                    continue
                if positions:
                    self.latency.add(self.latency.published, now, batches, positions)
                self.latency.add_batch(now, batches[0].received)
                engine.publish(EventKind.TICKS, {"coins": coins, "batch": batch})
