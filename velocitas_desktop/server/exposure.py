"""Least privilege for a server reachable from the network: what a session started by a
caller there may read and reach, and what its errors may tell.

On loopback the caller is the user, on their own machine: a start may name any csv file and
any exchange URL, and a bad file's message quotes the line it could not read. Off loopback
(``Access.network``) the caller may be anyone holding the token, so a start reads csv files
only from the data folders, connects only to the configured exchange, and a bad file's
message names the file and the line but never its contents (they go to the server's log):
``csv=BTC=/home/me/.ssh/id_rsa`` used to answer with the key's first line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from velocitas_desktop.engine.config import EngineConfig
from velocitas_desktop.engine.request import SessionRequest, Vocabulary, confine_csv_files
from velocitas_desktop.feeds.base import FeedError
from velocitas_desktop.server.security import Access, Forbidden

log = logging.getLogger(__name__)

EXCHANGE_URLS = ("binance_rest_url", "binance_ws_url")
LINE = re.compile(r"\bline (\d+)\b")


def confine_session(session: SessionRequest, access: Access, defaults: EngineConfig,
                    words: Vocabulary) -> SessionRequest:
    """``session`` as a caller on the network may ask it: its csv files inside
    ``access.data_folders`` (OutsideDataFolders if not), its exchange the configured one
    (Forbidden if not)."""
    for name in EXCHANGE_URLS:
        asked, configured = getattr(session, name), getattr(defaults, name)
        if asked is not None and asked.rstrip("/") != configured.rstrip("/"):
            raise Forbidden(f"{words.name(name)}: this server connects only to the exchange "
                            f"it was started with ({configured}); leave {words.name(name)} out")
    if not session.csv_files:
        return session
    files = confine_csv_files(session.csv_files, access.data_folders, words)
    return dataclasses.replace(session, csv_files=files)


@contextlib.contextmanager
def quiet_file_errors(access: Access, config: EngineConfig) -> Iterator[None]:
    """For a server on the network: a csv start's FeedError, which may quote the file, is
    logged and replaced by one that names the file and the line only."""
    try:
        yield
    except FeedError as exc:
        if not access.network or config.source != "csv":
            raise
        log.warning("a csv start from the network failed: %s", exc)
        raise FeedError(quiet_message(str(exc), config.csv_files)) from None


def quiet_message(message: str, files: dict[str, str]) -> str:
    """What a caller on the network is told of a csv file the engine could not replay."""
    named = [(coin, path) for coin, path in files.items() if path in message]
    where = ", ".join(f"{coin}={Path(path).name}" for coin, path in named) or "a csv file"
    line = LINE.search(message)
    at = f" (line {line.group(1)})" if line else ""
    return (f"{where} cannot be replayed{at}: the exact problem quotes the file, so this "
            "server, reachable from the network, writes it to its log instead of this reply")
