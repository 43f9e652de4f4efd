"""Access tokens: one maker for the server's generated token and the window's Generate button."""

import re

from velocitas_desktop.tokens import new_token


def test_a_new_token_is_32_url_safe_characters_and_never_repeats():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", token) for token in tokens)
