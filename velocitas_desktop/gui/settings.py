"""The window's settings (costs, workers, folders, theme, server, journal), kept in config_dir().

The file holds the server's access token, so it is readable by its owner only (0600), written
that way from its first byte, in a folder no one else may write to.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from velocitas_desktop.engine.config import DEFAULT_MIN_FREE_MB
from velocitas_desktop.feeds.endpoints import BINANCE_REST_URL, BINANCE_WS_URL
from velocitas_desktop.paths import config_dir, data_dir, ensure
from velocitas_desktop.store.retention import DEFAULT_KEEP_GB, DEFAULT_KEEP_SESSIONS, Retention

log = logging.getLogger(__name__)

SETTINGS_FILE = "settings.json"
PRIVATE_FILE = 0o600
PRIVATE_FOLDER = 0o700
OTHERS = 0o077          # permission bits for the group and everyone else
OTHERS_WRITE = 0o022
LAYOUT_FILE = "window.ini"
THEMES = ("dark", "light")


@dataclass(frozen=True, slots=True)
class Settings:
    """What a trader sets once and keeps between runs."""

    fee: float = 0.001
    slippage: float = 0.0
    workers: int = 0
    data_folder: str = ""
    strategy_folders: tuple[str, ...] = field(default_factory=tuple)
    theme: str = "dark"
    server_enabled: bool = False
    server_host: str = "127.0.0.1"
    server_port: int = 8000
    server_token: str = ""
    server_allowed_hosts: tuple[str, ...] = field(default_factory=tuple)  # e.g. trading.lan
    binance_rest_url: str = BINANCE_REST_URL
    binance_ws_url: str = BINANCE_WS_URL
    keep_sessions: int = DEFAULT_KEEP_SESSIONS  # the journal's retention (0 = no limit)
    keep_gb: float = DEFAULT_KEEP_GB
    min_free_mb: float = DEFAULT_MIN_FREE_MB  # free space kept on the journal's disk (0 = off)

    @property
    def retention(self) -> Retention:
        return Retention(self.keep_sessions, self.keep_gb)

    def problems(self) -> list[str]:
        """Sentences saying what is wrong, empty when the settings can be used."""
        found = []
        if not 0 <= self.fee < 1:
            found.append("the fee is a fraction from 0 to 1 (0.001 = 0.1%)")
        if not 0 <= self.slippage < 1:
            found.append("the slippage is a fraction from 0 to 1 (0.0005 = 0.05%)")
        if not 0 <= self.workers <= 64:
            found.append("workers must be between 0 and 64")
        if self.theme not in THEMES:
            found.append(f"the theme is one of {', '.join(THEMES)}")
        if not 1 <= self.server_port <= 65535:
            found.append("the server port must be between 1 and 65535")
        if self.server_enabled and self.server_host not in ("127.0.0.1", "localhost") \
                and not self.server_token:
            found.append(f"a server bound to {self.server_host} needs an access token; "
                         "generate one or bind 127.0.0.1")
        for name in self.server_allowed_hosts:
            if not name.strip() or any(ch in name for ch in "/ @?#"):
                found.append(f"the allowed host {name!r} is a bare name, like trading.lan")
        for name, url, schemes in (("Binance REST", self.binance_rest_url, ("http://", "https://")),
                                   ("Binance WebSocket", self.binance_ws_url, ("ws://", "wss://"))):
            if not url.startswith(schemes):
                found.append(f"the {name} address starts with {' or '.join(schemes)}")
        if self.data_folder and not Path(self.data_folder).expanduser().is_dir():
            found.append(f"data folder {self.data_folder} does not exist")
        for folder in self.strategy_folders:
            if not Path(folder).expanduser().is_dir():
                found.append(f"strategy folder {folder} does not exist")
        found.extend(self.retention.problems())
        if not self.min_free_mb >= 0:
            found.append("the free space to keep on the journal's disk is 0 MB or more")
        return found

    @property
    def csv_folder(self) -> Path:
        """Where Browse… and Export… open: the data folder, or the user's data folder when it
        is not set or no longer exists (a dialog given a missing folder opens in the current
        directory, with the folder's name typed in as a file name)."""
        chosen = Path(self.data_folder).expanduser() if self.data_folder else None
        return chosen if chosen is not None and chosen.is_dir() else data_dir()


def settings_path() -> Path:
    return config_dir() / SETTINGS_FILE


def load_settings() -> Settings:
    """The saved settings, or the defaults when there are none or the file is unreadable."""
    path = settings_path()
    if not path.exists():
        return Settings()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(Settings)}
        values: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
        for name in ("strategy_folders", "server_allowed_hosts"):
            if name in values:
                values[name] = tuple(values[name])
        keep_private(path)  # written by a version that left it readable by everyone
        return replace(Settings(), **values)
    except (OSError, ValueError, TypeError) as exc:
        log.warning("settings file %s is unreadable (%s); using the defaults", path, exc)
        return Settings()


def with_retention(settings: Settings, keep_sessions: int | None,
                   keep_gb: float | None) -> Settings:
    """``settings`` with the journal limits given on the command line (None: as saved)."""
    return replace(settings,
                   keep_sessions=settings.keep_sessions if keep_sessions is None else keep_sessions,
                   keep_gb=settings.keep_gb if keep_gb is None else keep_gb)


def save_settings(settings: Settings) -> None:
    private_folder(config_dir())
    data = asdict(settings)
    for name in ("strategy_folders", "server_allowed_hosts"):
        data[name] = list(getattr(settings, name))
    write_private(settings_path(), json.dumps(data, indent=2))


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only from the first byte: a
    temporary file in the same folder (made 0600 by mkstemp) renamed over it, so no reader
    ever sees the token in a file open to others, nor a half-written file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def private_folder(folder: Path) -> Path:
    """``folder``, created for its owner only (0700); an existing one that others may write
    to (where they could swap the settings file) loses that permission."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if os.name == "posix":
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & OTHERS_WRITE:
            os.chmod(folder, mode & ~OTHERS_WRITE)
    return folder


def keep_private(path: Path) -> None:
    """Make ``path`` readable by its owner only, if others may read or write it."""
    if os.name == "posix" and stat.S_IMODE(path.stat().st_mode) & OTHERS:
        os.chmod(path, PRIVATE_FILE)
        log.info("settings file %s was readable by others; now by its owner only", path)


def layout_store() -> QSettings:
    """Where the dock layout and window geometry live (never the current directory)."""
    ensure(config_dir())
    return QSettings(str(config_dir() / LAYOUT_FILE), QSettings.Format.IniFormat)
