"""The API server as a view attached beside an engine, wherever the engine runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from velocitas_desktop.engine.contract import TradingEngine
    from velocitas_desktop.server.runner import ServerThread


def embedded_server(engine: TradingEngine, host: str = "127.0.0.1", port: int = 8000,
                    token: str | None = None, allowed_hosts: Sequence[str] = (),
                    data_folders: Sequence[str] = ()) -> ServerThread:
    """The server for ``engine`` (not yet started): the factory the window hands to
    ``engine.attach``. The web framework is imported here, in the engine's process."""
    from velocitas_desktop.server.runner import ServerThread

    return ServerThread(engine, host=host, port=port, token=token,
                        allowed_hosts=allowed_hosts, data_folders=data_folders)
