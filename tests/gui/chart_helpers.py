"""What a trader does to a chart: replay the sample, point, wheel, drag (with a key held)."""

from __future__ import annotations

from typing import Any

from gui_helpers import WAIT_MS, choose, press_start, retype
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from velocitas_desktop.paths import sample_data_dir

NO_KEY = Qt.KeyboardModifier.NoModifier
MOVE_GAP_MS = 12  # pyqtgraph drops mouse moves closer than 10 ms (100 a second): a hand is slower
SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def replay_sample(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    """Choose CSV files, type the sample's path, press Start, wait for the end of the data."""
    choose(qtbot, window.source_box, "CSV")
    retype(qtbot, window.csv_edit, f"BTC={SAMPLE}")
    press_start(qtbot, window)
    qtbot.waitUntil(lambda: window.engine.status == "finished" and not window.busy
                    and window.start_button.isEnabled(), timeout=WAIT_MS)


def screen_point(chart: Any, pane: Any, x: float, y: float) -> QPoint:
    """Where the data point (x, y) of a pane is in the chart view's viewport."""
    scene = pane.box.mapViewToScene(QPointF(x, y))
    return chart.view.mapFromScene(scene)


def middle_of(chart: Any, pane: Any) -> QPoint:
    rect = pane.box.viewRect()
    return screen_point(chart, pane, rect.center().x(), rect.center().y())


def point_at(qtbot: Any, chart: Any, where: QPoint) -> None:
    """Move the mouse there (no button held)."""
    QTest.qWait(MOVE_GAP_MS)
    qtbot.mouseMove(chart.view.viewport(), where)
    _send(chart, QMouseEvent.Type.MouseMove, where, Qt.MouseButton.NoButton,
          Qt.MouseButton.NoButton, NO_KEY)


def wheel(chart: Any, where: QPoint, clicks: int, keys: Qt.KeyboardModifier = NO_KEY) -> None:
    """Turn the wheel ``clicks`` notches there (positive: away from the trader, zoom in)."""
    viewport = chart.view.viewport()
    event = QWheelEvent(QPointF(where), QPointF(viewport.mapToGlobal(where)), QPoint(0, 0),
                        QPoint(0, 120 * clicks), Qt.MouseButton.NoButton, keys,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, event)


def drag(chart: Any, start: QPoint, end: QPoint, keys: Qt.KeyboardModifier = NO_KEY,
         steps: int = 8) -> None:
    """Press the left button at ``start``, move to ``end`` in steps, release."""
    left = Qt.MouseButton.LeftButton
    _send(chart, QMouseEvent.Type.MouseButtonPress, start, left, left, keys)
    for i in range(1, steps + 1):
        point = start + (end - start) * (i / steps)
        QTest.qWait(MOVE_GAP_MS)
        _send(chart, QMouseEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left, keys)
    _send(chart, QMouseEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton, keys)


def _send(chart: Any, kind: QMouseEvent.Type, where: QPoint, button: Qt.MouseButton,
          buttons: Qt.MouseButton, keys: Qt.KeyboardModifier) -> None:
    viewport = chart.view.viewport()
    event = QMouseEvent(kind, QPointF(where), QPointF(viewport.mapToGlobal(where)), button,
                        buttons, keys)
    QApplication.sendEvent(viewport, event)
