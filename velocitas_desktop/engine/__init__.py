"""The live engine: its contract with the views, the session request, the engine in this
process and the engine in a child process (docs/architecture.md has the map).

- ``contract``: TradingEngine, the statuses, events and errors a view sees;
- ``request``: SessionRequest and session_config, the rules of starting a session;
- ``config``: EngineConfig and the feed it builds;
- ``engine``: Engine (registry and control calls), run by a ``session`` (threads), which fills
  signals in tick order (``fills``) in shards inline or in ``workers``;
- ``host``: HostedEngine, the engine in its own process, for the window.

The names below load on first use, so importing the contract does not start the engine's
machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_PUBLIC = {
    "TradingEngine": "contract", "EngineStatus": "contract", "StrategyStatus": "contract",
    "EventKind": "contract", "Event": "contract",
    "EngineError": "errors", "NotFoundError": "errors",
    "EngineConfig": "config", "SessionRequest": "request", "session_config": "request",
    "Engine": "engine", "HostedEngine": "host",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
