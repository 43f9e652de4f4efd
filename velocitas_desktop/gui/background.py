"""Slow work off the Qt thread: run a function in the thread pool, hear back on the Qt thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot


class Relay(QObject):
    """Lives on the Qt thread; its slots call the caller's callbacks there.

    The result crosses threads as an attribute, not as a signal argument: PySide's queued
    signals carrying Python objects have crashed the interpreter at exit (a refcount bug),
    and a bare signal is all a wake-up needs."""

    done = Signal()
    failed = Signal()
    progress = Signal(int, int)

    def __init__(self, on_done: Callable[[Any], None] | None,
                 on_error: Callable[[BaseException], None] | None,
                 on_progress: Callable[[int, int], None] | None) -> None:
        super().__init__()
        self.on_done, self.on_error, self.on_progress = on_done, on_error, on_progress
        queued = Qt.ConnectionType.QueuedConnection
        self.done.connect(self._done, queued)
        self.failed.connect(self._failed, queued)
        self.progress.connect(self._progress, queued)
        self.finished = False
        self.result: Any = None
        self.error: BaseException | None = None

    @Slot()
    def _done(self) -> None:
        self.finished = True
        _running.discard(self)
        result, self.result = self.result, None
        if self.on_done is not None:
            self.on_done(result)

    @Slot()
    def _failed(self) -> None:
        self.finished = True
        _running.discard(self)
        exc, self.error = self.error, None
        assert exc is not None
        if self.on_error is not None:
            self.on_error(exc)
        else:
            raise exc

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(done, total)


class _Job(QRunnable):
    def __init__(self, fn: Callable[..., Any], relay: Relay) -> None:
        super().__init__()
        self.fn = fn
        self.relay = relay

    def run(self) -> None:
        relay = self.relay
        try:
            result = self.fn(relay.progress.emit) if relay.on_progress else self.fn()
        except BaseException as exc:  # reported on the Qt thread, never lost
            relay.error = exc
            relay.failed.emit()
        else:
            relay.result = result
            relay.done.emit()


_running: set[Relay] = set()


def run_in_background(fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
                      on_error: Callable[[BaseException], None] | None = None,
                      on_progress: Callable[[int, int], None] | None = None) -> Relay:
    """Run ``fn`` on a pool thread; ``on_done(result)`` / ``on_error(exc)`` run on the Qt
    thread. With ``on_progress``, ``fn`` receives a ``progress(done, total)`` callable."""
    relay = Relay(on_done, on_error, on_progress)
    _running.add(relay)  # keep the relay alive until it has reported
    QThreadPool.globalInstance().start(_Job(fn, relay))
    return relay
