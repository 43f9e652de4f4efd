"""Helpers shared by the server tests (a plain module: conftest.py is for fixtures)."""

from __future__ import annotations

from velocitas_desktop.server.runner import ServerThread


def ws_url(server: ServerThread, path: str) -> str:
    return server.url.replace("http://", "ws://") + path
