"""The embedded HTTP/WebSocket server: the same engine, served to browsers and scripts.

The public names load on first use, so a process that only names the server (the window,
which attaches it beside an engine running elsewhere) does not import the web framework.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {"create_app": "velocitas_desktop.server.app",
           "ServerError": "velocitas_desktop.server.runner",
           "ServerThread": "velocitas_desktop.server.runner"}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_PUBLIC[name]), name)
