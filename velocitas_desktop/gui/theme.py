"""Dark and light themes: a Qt palette, a style sheet for the chrome, and the chart colours.

Everything that repaints every frame (tables, scroll bars, charts, plain panels) is painted by
the Fusion style from the palette. The style sheet styles only the chrome (toolbar, buttons,
inputs, tabs, dock titles, status bar, KPI tiles): a style-sheet rule that matches every widget
or every table cell made a whole-window repaint ~47 ms instead of ~9 ms (measured offscreen,
1600x960), which is most of a frame's budget on the Qt thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QPalette
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
    muted: str         # the note shown in place of a plot with nothing to draw yet
    neutral: str       # the middle of a two-colour scale (a heatmap's middling score)
    cell_text: str     # numbers written on coloured heatmap cells


# The heatmap's cells are dark or saturated in both themes, so the text on them and the
# middle of their scale are the same in both; the muted note reads on either background.
DARK = ChartColours("#131722", "#b2b5be", 40, "#26a69a", "#ef5350", "#1f5f58", "#6e2f31",
                    "#787b86", "#ffffff",
                    ("#2962ff", "#ff9800", "#ab47bc", "#26c6da", "#d4e157", "#ec407a",
                     "#8d6e63", "#66bb6a"),
                    muted="#787b86", neutral="#2a2e39", cell_text="#ffffff")
LIGHT = ChartColours("#ffffff", "#2a2e39", 60, "#089981", "#f23645", "#9ed8cf", "#f7b3b9",
                     "#9598a1", "#131722",
                     ("#2962ff", "#f57c00", "#8e24aa", "#00838f", "#9e9d24", "#d81b60",
                      "#6d4c41", "#2e7d32"),
                     muted="#787b86", neutral="#2a2e39", cell_text="#ffffff")


@dataclass(frozen=True, slots=True)
class WidgetColours:
    window: str
    text: str
    alternate: str     # every other table row
    header: str        # table headers and buttons the style sheet does not style
    border: str
    muted: str         # placeholders, disabled text
    selection: str
    selected_text: str
    accent: str


DARK_WIDGETS = WidgetColours("#131722", "#d1d4dc", "#171b26", "#1c2030", "#2a2e39", "#5d6270",
                             "#2a3a5e", "#ffffff", "#2962ff")
LIGHT_WIDGETS = WidgetColours("#ffffff", "#131722", "#f7f8fa", "#f0f3fa", "#d6d9e0", "#a3a6af",
                              "#cfdcff", "#131722", "#2962ff")
FONT_POINTS = 10


def palette_for(theme: str) -> QPalette:
    """The Qt palette of a theme, for the Fusion style."""
    c = LIGHT_WIDGETS if theme == "light" else DARK_WIDGETS
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    palette = QPalette()
    for r, colour in ((role.Window, c.window), (role.WindowText, c.text), (role.Base, c.window),
                      (role.AlternateBase, c.alternate), (role.Text, c.text),
                      (role.Button, c.header), (role.ButtonText, c.text),
                      (role.Highlight, c.selection), (role.HighlightedText, c.selected_text),
                      (role.ToolTipBase, c.header), (role.ToolTipText, c.text),
                      (role.PlaceholderText, c.muted), (role.Link, c.accent),
                      (role.Light, c.border), (role.Midlight, c.border), (role.Mid, c.border),
                      (role.Dark, c.border), (role.Shadow, c.window), (role.BrightText, c.text)):
        palette.setColor(r, QColor(colour))
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, r, QColor(c.muted))
    return palette


def colours(theme: str) -> ChartColours:
    return LIGHT if theme == "light" else DARK


def style_sheet(theme: str) -> str:
    """The theme's style sheet, its ``{icons}`` naming the shipped icons' folder (a style
    sheet's relative url is read from the current directory, not from the sheet's own)."""
    path = resources_dir() / "styles" / f"{'light' if theme == 'light' else 'dark'}.qss"
    icons = (resources_dir() / "icons").as_posix()
    return path.read_text(encoding="utf-8").replace("{icons}", icons)


def apply_theme(app: QApplication, theme: str) -> ChartColours:
    """Style the whole application; charts created afterwards pick up the colours."""
    palette = colours(theme)
    app.setStyle("Fusion")
    app.setPalette(palette_for(theme))
    font = QFont(app.font())
    font.setPointSize(FONT_POINTS)
    app.setFont(font)
    app.setStyleSheet(style_sheet(theme))
    pg.setConfigOptions(background=palette.background, foreground=palette.foreground,
                        antialias=False)
    return palette
