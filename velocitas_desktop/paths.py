"""Where Velocitas keeps its data, settings and logs: the user's folders, each overridable.

Nothing is ever written to the current directory. ``VELOCITAS_HOME`` moves all three folders
under one root (tests and portable installs use it); otherwise platformdirs decides.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "velocitas"


def _root_override() -> Path | None:
    root = os.environ.get("VELOCITAS_HOME")
    return Path(root).expanduser() if root else None


def data_dir() -> Path:
    root = _root_override()
    return root / "data" if root else Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    root = _root_override()
    return root / "config" if root else Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    root = _root_override()
    return root / "logs" if root else Path(platformdirs.user_log_dir(APP, appauthor=False))


def default_journal_path() -> Path:
    return data_dir() / "journal.sqlite3"


def exports_dir() -> Path:
    """Where exported sessions go unless another folder is named."""
    return data_dir() / "exports"


def ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def resources_dir() -> Path:
    from velocitas_desktop import resources

    return Path(resources.__file__).parent


def sample_data_dir() -> Path:
    return resources_dir() / "data"
