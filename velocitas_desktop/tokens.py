"""Access tokens for the embedded server, made in one place for the server and the window.

Its own small module, so the window can make one without importing the web server.
"""

from __future__ import annotations

import secrets

TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters


def new_token() -> str:
    """A fresh access token from the operating system's secure random source, URL-safe (it
    may travel in a WebSocket URL as ``?token=``)."""
    return secrets.token_urlsafe(TOKEN_BYTES)
