"""The API server as a view attached beside an engine, wherever the engine runs, and the
address of its browser view."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

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


def browser_link(url: str, token: str | None = None) -> str:
    """The browser view of the server at ``url``; with ``token``, carried in the fragment
    (``http://HOST:PORT/#token=T``), which a browser never sends, so it reaches no server or
    proxy log. The page keeps it for the tab and takes it out of the address. A server on
    every address (0.0.0.0) is opened on this machine by 127.0.0.1."""
    parts = urlsplit(url)
    if parts.hostname in ("0.0.0.0", "::") and parts.port is not None:
        url = f"{parts.scheme}://127.0.0.1:{parts.port}"
    page = url.rstrip("/") + "/"
    return f"{page}#token={quote(token, safe='')}" if token else page
