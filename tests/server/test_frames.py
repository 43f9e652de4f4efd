"""WebSocket frames made once for every client: the bytes a WebSocket library would send."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from velocitas_desktop.server.frames import text_frame


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536])
def test_a_text_frame_is_the_one_the_websockets_library_makes(size: int) -> None:
    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)
