"""Which processes are alive below a given one (Linux /proc): for tests that check that
nothing is left behind."""

from __future__ import annotations

import os
from pathlib import Path


def _live_parents() -> dict[int, int]:
    """Parent pid of every live (non-zombie) process."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'
                state, ppid = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue
            if state != "Z":
                parents[int(entry)] = int(ppid)
    return parents


def children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid``."""
    return [child for child, parent in _live_parents().items() if parent == pid]


def descendants(pid: int) -> list[int]:
    """Live processes below ``pid`` (children, grandchildren...)."""
    parents = _live_parents()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        below = [p for p, pp in parents.items() if pp == parent]
        found.extend(below)
        frontier.extend(below)
    return found


def command_line(pid: int) -> str | None:
    """The command line of ``pid``, its arguments joined by spaces; None once it has ended."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
