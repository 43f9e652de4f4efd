"""The engine's own errors: a call its state does not allow, an id it does not know."""

from __future__ import annotations

from velocitas_desktop.core.errors import VelocitasError


class EngineError(VelocitasError):
    """The engine cannot do that now (already running, not running, duplicate id...)."""


class NotFoundError(VelocitasError, KeyError):
    """No registered strategy has that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"
