"""The heatmap and equity chart of the Optimisation tab take every colour from the theme."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
from PySide6.QtGui import QColor

from velocitas_desktop.gui.optimization.equity import EquityChart
from velocitas_desktop.gui.optimization.heatmap import Heatmap
from velocitas_desktop.gui.theme import DARK, LIGHT

PACKAGE = Path(__file__).resolve().parents[2] / "velocitas_desktop" / "gui"
TAB_MODULES = [PACKAGE / "optimization_tab.py", PACKAGE / "plots.py",
               *sorted((PACKAGE / "optimization").glob("*.py"))]
# a palette no built-in theme uses, so a colour that did not come from it shows
ODD = dataclasses.replace(DARK, background="#010203", foreground="#040506", up="#070809",
                          down="#0a0b0c", neutral="#0d0e0f", cell_text="#101112",
                          muted="#131415", total="#161718")


def hex_of(rgba: np.ndarray) -> str:
    return QColor(*(int(c) for c in rgba[:3])).name()


def test_no_colour_is_written_out_in_the_tabs_modules():
    literals = {path.name: re.findall(r"#[0-9a-fA-F]{6}\b", path.read_text(encoding="utf-8"))
                for path in TAB_MODULES}
    assert {name: found for name, found in literals.items() if found} == {}


def test_both_themes_name_the_heatmaps_colours():
    for palette in (DARK, LIGHT):
        assert palette.neutral and palette.cell_text and palette.muted


def test_the_heatmap_paints_cells_labels_and_note_in_the_palettes_colours(qtbot):
    heatmap = Heatmap(ODD)
    qtbot.addWidget(heatmap)
    assert "#131415" in heatmap.placeholder.styleSheet()
    grid = np.array([[1.0, 2.0], [3.0, np.nan]])
    heatmap.show_grid("fast", "slow", [5, 10], [20, 30], grid, False, (10, 20))
    _, colours = heatmap.colour_bar.colorMap().getStops()
    assert [hex_of(c) for c in colours] == ["#0a0b0c", "#0d0e0f", "#070809"]  # down..up
    assert len(heatmap.labels) == 3  # the empty cell has no label
    assert {label.color.name() for label in heatmap.labels} == {"#101112"}
    assert heatmap.plot.backgroundBrush().color().name() == "#010203"
    assert heatmap.plot.getAxis("left").textPen().color().name() == "#040506"
    assert heatmap.marker.pen().color().name() == "#161718"


def test_a_lower_is_better_heatmap_turns_its_scale_round(qtbot):
    heatmap = Heatmap(ODD)
    qtbot.addWidget(heatmap)
    heatmap.show_grid("fast", "slow", [5, 10], [20, 30], np.ones((2, 2)), True, (5, 20))
    _, colours = heatmap.colour_bar.colorMap().getStops()
    assert [hex_of(c) for c in colours] == ["#070809", "#0d0e0f", "#0a0b0c"]  # up..down


def test_the_equity_chart_follows_a_change_of_theme(qtbot):
    chart = EquityChart(DARK)
    qtbot.addWidget(chart)
    chart.set_palette(ODD)
    assert chart.plot.backgroundBrush().color().name() == "#010203"
    for side in ("right", "bottom"):
        assert chart.plot.getAxis(side).pen().color().name() == "#040506"
    assert not chart.plot.getAxis("left").isVisible()  # the value scale is on the right
    assert "#131415" in chart.placeholder.styleSheet()
