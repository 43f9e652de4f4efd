"""How much of its past the journal keeps: the retention policy and which sessions it drops.

A policy keeps the newest ``keep_sessions`` sessions and, of those, as many of the newest as
fit in ``keep_gb`` gigabytes (10⁹ bytes); 0 turns either limit off. It never drops the newest
session in the file (the one running, or the one a restart restores) nor any session the
caller protects (the one its engine shows). The command line, the server and the window take
their defaults from here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_KEEP_SESSIONS = 20
DEFAULT_KEEP_GB = 2.0
GB = 1_000_000_000  # decimal, as disks and file managers count


class SizedSession(Protocol):
    """What the policy reads of a session: its id (ids grow with time) and its size."""

    @property
    def id(self) -> int: ...

    @property
    def size_bytes(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Retention:
    """Keep the newest ``keep_sessions`` sessions within ``keep_gb`` GB; 0 = no limit."""

    keep_sessions: int = DEFAULT_KEEP_SESSIONS
    keep_gb: float = DEFAULT_KEEP_GB

    def problems(self) -> list[str]:
        """Sentences saying what is wrong, empty when the policy can be used."""
        found = []
        if self.keep_sessions < 0:
            found.append("the number of sessions to keep is 0 (no limit) or more")
        if not self.keep_gb >= 0:  # also refuses NaN
            found.append("the gigabytes to keep are 0 (no limit) or more")
        return found

    def describe(self) -> str:
        """The policy in words, e.g. "the last 20 sessions, at most 2 GB"."""
        count = (f"the last {self.keep_sessions} session{'s' if self.keep_sessions != 1 else ''}"
                 if self.keep_sessions else "every session")
        size = f"at most {self.keep_gb:g} GB" if self.keep_gb else "no size limit"
        return f"{count}, {size}"


def sessions_to_prune(sessions: Sequence[SizedSession], policy: Retention,
                      protected: Collection[int] = ()) -> list[int]:
    """The ids ``policy`` drops from ``sessions``, oldest first.

    Sessions beyond the newest ``keep_sessions`` go first; then, while the sessions left add
    up to more than ``keep_gb``, the oldest of them. The newest session and the ``protected``
    ones are never dropped (and still count towards the size)."""
    ordered = sorted(sessions, key=lambda s: s.id)
    if not ordered:
        return []
    keep = {ordered[-1].id, *protected}
    doomed: list[int] = []
    if policy.keep_sessions:
        doomed = [s.id for s in ordered[:-policy.keep_sessions] if s.id not in keep]
    if policy.keep_gb:
        limit = policy.keep_gb * GB
        left = sum(s.size_bytes for s in ordered if s.id not in doomed)
        for session in ordered:
            if left <= limit:
                break
            if session.id in keep or session.id in doomed:
                continue
            doomed.append(session.id)
            left -= session.size_bytes
    return sorted(doomed)


def human_bytes(count: float) -> str:
    """A size as people read it: "812 B", "3.4 MB", "1.25 GB" (decimal units)."""
    for unit, scale in (("GB", GB), ("MB", 1_000_000), ("kB", 1_000)):
        if count >= scale:
            value = count / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{count:,.0f} B"
