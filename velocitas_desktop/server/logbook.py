"""The engine's recent log lines for the browser view (GET /api/log): its LOG events, and its
status and feed changes written as lines, each with an id that grows by one, so a page that
polls with ``after_id`` gets every new line once."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from velocitas_desktop.engine.contract import EngineStatus, EventKind
from velocitas_desktop.feeds.base import FeedState

KEPT_LINES = 1_000
LEVELS = ("info", "warning", "error")
# the engine's and Python's other spellings, read as the nearest of the three
LEVEL_ALIASES = {"warn": "warning", "debug": "info", "critical": "error", "fatal": "error"}
# status and feed changes are written as the window's log panel writes them
# ("engine running: ..."), at the level their state calls for
ENGINE_LEVELS: dict[str, str] = {EngineStatus.ERROR: "error", EngineStatus.PAUSED: "warning"}
FEED_LEVELS: dict[str, str] = {FeedState.FAILED: "error", FeedState.STALLED: "warning",
                               FeedState.RECONNECTING: "warning"}


def level_of(text: Any) -> str:
    word = str(text).lower()
    word = LEVEL_ALIASES.get(word, word)
    return word if word in LEVELS else "info"


class LogBook:
    """The last ``size`` lines, oldest first. ``add`` and ``on_event`` may be called from the
    engine's threads; reads take a copy under a short lock."""

    def __init__(self, size: int = KEPT_LINES) -> None:
        self.lines: deque[dict[str, Any]] = deque(maxlen=size)
        self.last_id = 0
        self._feed: tuple[str, str] | None = None  # the feed state last written
        self._lock = threading.Lock()

    def add(self, level: str, message: str, when: float | None = None) -> dict[str, Any]:
        with self._lock:
            self.last_id += 1
            line = {"id": self.last_id, "time": time.time() if when is None else float(when),
                    "level": level_of(level), "message": str(message)}
            self.lines.append(line)
        return line

    def on_event(self, kind: EventKind, data: Any) -> None:
        """A line for an engine event that makes one (LOG, ENGINE, FEED); others are ignored."""
        if kind == EventKind.LOG:
            self.add(data.get("level", "info"), data.get("message", ""), data.get("time"))
        elif kind == EventKind.ENGINE:
            status = str(data.get("status", ""))
            message = data.get("message") or ""
            text = f"engine {status}" + (f": {message}" if message else "")
            self.add(ENGINE_LEVELS.get(status, "info"), text)
        elif kind == EventKind.FEED:
            state, message = str(data.get("state", "")), str(data.get("message") or "")
            if self._feed == (state, message):
                return  # the same state published again: nothing new to read
            self._feed = (state, message)
            text = f"feed {state}" + (f": {message}" if message else "")
            self.add(FEED_LEVELS.get(state, "info"), text)

    def after(self, after_id: int = 0, limit: int = KEPT_LINES) -> list[dict[str, Any]]:
        """The newest ``limit`` lines with an id above ``after_id``, oldest first. The newest,
        not the next: a page opening with ``after_id=0&limit=200`` wants the last 200, and a
        poller that fell far behind catches up with the present (ids are consecutive, so a
        jump in them shows what it skipped)."""
        with self._lock:
            newer = min(self.last_id - after_id, len(self.lines), limit)
            if newer <= 0:
                return []
            return [self.lines[i] for i in range(len(self.lines) - newer, len(self.lines))]
