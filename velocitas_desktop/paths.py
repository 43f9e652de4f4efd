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


SAMPLE_PREFIX = "sample:"
SAMPLE_SUFFIX = "-sample"


def samples() -> dict[str, Path]:
    """The bar files shipped with Velocitas by their short name: ``BTCUSD-1h`` for
    ``BTCUSD-1h-sample.csv``, wherever the package is installed."""
    found = sorted(sample_data_dir().glob(f"*{SAMPLE_SUFFIX}.csv"))
    return {path.name.removesuffix(".csv").removesuffix(SAMPLE_SUFFIX): path for path in found}


def resolve_sample(text: str) -> str:
    """``sample:BTCUSD-1h`` → the shipped file's path; any other text unchanged. ValueError
    naming the samples there are if no sample has that name."""
    if not text.strip().lower().startswith(SAMPLE_PREFIX):
        return text
    wanted = text.strip()[len(SAMPLE_PREFIX):].strip().lower().removesuffix(".csv")
    wanted = wanted.removesuffix(SAMPLE_SUFFIX)
    shipped = samples()
    for name, path in shipped.items():
        if name.lower() == wanted:
            return str(path)
    names = ", ".join(SAMPLE_PREFIX + name for name in shipped) or "none"
    raise ValueError(f"no sample data named {text.strip()!r}; the samples are: {names} "
                     "(velocitas samples lists them with their paths)")
