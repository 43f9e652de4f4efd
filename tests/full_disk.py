"""Journals that run out of room for real: a small tmpfs where the test may mount one, and
SQLite's ``max_page_count`` on the journal's own connection everywhere (SQLITE_FULL, the
error a full disk gives)."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from velocitas_desktop.store.journal import Journal

MNT_DETACH = 2  # umount2: detach now, release once nothing uses it


def fill_up(journal: Journal, spare_pages: int = 0) -> Callable[[], None]:
    """Let the journal's file grow by ``spare_pages`` at most (then every write fails with
    "database or disk is full"); returns the function that gives it room again."""
    with journal._lock:
        conn = journal._conn
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + spare_pages}")

    def make_room() -> None:
        with journal._lock:
            conn.execute("PRAGMA max_page_count = 1073741823")

    return make_room


@contextlib.contextmanager
def small_disk(where: Path, megabytes: int) -> Iterator[Path | None]:
    """A tmpfs of ``megabytes`` mounted at ``where`` for the block, or None where this
    machine does not let the test mount one (not Linux, not root, a container without the
    right)."""
    where.mkdir(parents=True, exist_ok=True)
    libc = _libc()
    mounted = libc is not None and libc.mount(b"tmpfs", str(where).encode(), b"tmpfs", 0,
                                              f"size={megabytes}m".encode()) == 0
    try:
        yield where if mounted else None
    finally:
        if mounted:
            libc.umount2(str(where).encode(), MNT_DETACH)


def _libc() -> ctypes.CDLL | None:
    """The C library this interpreter is linked with (it has mount and umount2 on Linux)."""
    return ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
