"""The embedded HTTP/WebSocket server: the same engine, served to browsers and scripts."""

from velocitas_desktop.server.app import create_app
from velocitas_desktop.server.runner import ServerError, ServerThread

__all__ = ["ServerError", "ServerThread", "create_app"]
