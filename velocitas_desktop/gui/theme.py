"""Dark and light themes: the Qt style sheet and the chart colours that go with it."""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from velocitas_desktop.paths import resources_dir


@dataclass(frozen=True, slots=True)
class ChartColours:
    background: str
    foreground: str
    grid: int          # grid alpha, 0-255
    up: str
    down: str
    volume_up: str
    volume_down: str
    crosshair: str
    total: str
    lines: tuple[str, ...]


DARK = ChartColours("#131722", "#b2b5be", 40, "#26a69a", "#ef5350", "#1f5f58", "#6e2f31",
                    "#787b86", "#ffffff",
                    ("#2962ff", "#ff9800", "#ab47bc", "#26c6da", "#d4e157", "#ec407a",
                     "#8d6e63", "#66bb6a"))
LIGHT = ChartColours("#ffffff", "#2a2e39", 60, "#089981", "#f23645", "#9ed8cf", "#f7b3b9",
                     "#9598a1", "#131722",
                     ("#2962ff", "#f57c00", "#8e24aa", "#00838f", "#9e9d24", "#d81b60",
                      "#6d4c41", "#2e7d32"))


def colours(theme: str) -> ChartColours:
    return LIGHT if theme == "light" else DARK


def style_sheet(theme: str) -> str:
    path = resources_dir() / "styles" / f"{'light' if theme == 'light' else 'dark'}.qss"
    return path.read_text(encoding="utf-8")


def apply_theme(app: QApplication, theme: str) -> ChartColours:
    """Style the whole application; charts created afterwards pick up the colours."""
    palette = colours(theme)
    app.setStyleSheet(style_sheet(theme))
    pg.setConfigOptions(background=palette.background, foreground=palette.foreground,
                        antialias=False)
    return palette
