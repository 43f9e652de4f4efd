"""The window by keyboard and its chrome: shortcuts, menus, focus rings, boxes, docks and layout."""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import WAIT_MS, click
from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QDockWidget,
    QLineEdit,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop import __version__
from velocitas_desktop.gui.theme import apply_theme

VISIBLE = 80  # how far apart (RGB distance, of 441) two colours are to be told at a glance


def distance(a: QColor, b: QColor) -> float:
    return ((a.red() - b.red()) ** 2 + (a.green() - b.green()) ** 2
            + (a.blue() - b.blue()) ** 2) ** 0.5


def standout(image: QImage, rect: QRect, against: QColor) -> float:
    """How far the pixel of ``rect`` most unlike ``against`` is from it."""
    return max((distance(image.pixelColor(x, y), against)
                for x in range(max(rect.left(), 0), min(rect.right() + 1, image.width()))
                for y in range(max(rect.top(), 0), min(rect.bottom() + 1, image.height()))),
               default=0.0)


def edge_change(before: QImage, after: QImage) -> float:
    """The largest change of colour along a widget's outer two pixels."""
    width, height = before.width(), before.height()
    return max(distance(before.pixelColor(x, y), after.pixelColor(x, y))
               for x in range(width) for y in range(height)
               if not (2 <= x < width - 2 and 2 <= y < height - 2))


@pytest.fixture
def panel(qtbot):  # type: ignore[no-untyped-def]
    """A plain panel of a field, a button and two check boxes, on screen."""
    holder = QWidget()
    column = QVBoxLayout(holder)
    holder.edit, holder.button = QLineEdit("BTC,ETH"), QPushButton("Browse…")
    holder.unticked, holder.other = QCheckBox("allow short selling"), QCheckBox("vary")
    for widget in (holder.edit, holder.button, holder.unticked, holder.other):
        column.addWidget(widget)
    qtbot.addWidget(holder)
    holder.show()
    qtbot.waitExposed(holder)
    yield holder
    apply_theme(QApplication.instance(), "dark")


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_an_unticked_box_is_visible_in_both_themes(qtbot, panel, theme):
    apply_theme(QApplication.instance(), theme)
    box = panel.unticked
    qtbot.wait(20)
    option = QStyleOptionButton()
    box.initStyleOption(option)
    indicator = box.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, box)
    image = box.grab().toImage()
    background = box.palette().color(box.backgroundRole())
    assert standout(image, indicator, background) >= VISIBLE


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_the_focus_ring_shows_on_fields_buttons_and_boxes_in_both_themes(qtbot, panel, theme):
    apply_theme(QApplication.instance(), theme)
    panel.activateWindow()
    for widget in (panel.edit, panel.button, panel.unticked):
        panel.other.setFocus()
        qtbot.wait(20)
        before = widget.grab().toImage()
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(widget.hasFocus, timeout=WAIT_MS)
        qtbot.wait(20)
        after = widget.grab().toImage()
        assert edge_change(before, after) >= VISIBLE or _box_change(widget, before, after), \
            widget.text()


def _box_change(widget: QWidget, before: QImage, after: QImage) -> bool:
    """For a check box the ring is its box's border."""
    if not isinstance(widget, QCheckBox):
        return False
    option = QStyleOptionButton()
    widget.initStyleOption(option)
    box = widget.style().subElementRect(QStyle.SubElement.SE_CheckBoxIndicator, option, widget)
    return any(distance(before.pixelColor(x, box.center().y()),
                        after.pixelColor(x, box.center().y())) >= VISIBLE
               for x in range(box.left(), box.right() + 1))


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_a_docks_close_button_shows_its_cross(qtbot, window, theme):
    window.set_theme(theme)
    apply_theme(QApplication.instance(), theme)
    qtbot.wait(50)
    close = window.strategies_dock.findChild(QAbstractButton, "qt_dockwidget_closebutton")
    assert close is not None and close.isVisible() and not close.icon().isNull()
    image = close.grab().toImage()
    background = image.pixelColor(0, 0)
    strokes = sum(1 for x in range(image.width()) for y in range(image.height())
                  if distance(image.pixelColor(x, y), background) >= VISIBLE)
    assert strokes >= 8  # the two strokes of an ×, not an empty square
    apply_theme(QApplication.instance(), "dark")


def test_tab_reaches_the_toolbars_buttons_and_their_tips_name_the_keys(qtbot, window):
    assert window.start_action.toolTip() == "Start a session on the toolbar's source (Ctrl+R)"
    assert window.stop_action.toolTip() == "Stop the session (Ctrl+T)"
    assert window.settings_action.toolTip().endswith("(Ctrl+,)")
    window.activateWindow()
    window.workers_box.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(window.workers_box.hasFocus, timeout=WAIT_MS)
    reached = []
    for _ in range(3):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        reached.append(QApplication.focusWidget())
    assert window.start_button in reached
    assert window.settings_button in reached  # Stop is disabled while stopped: Tab skips it
    window.settings_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(window.settings_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.settings_dialog is not None
                    and window.settings_dialog.isVisible(), timeout=WAIT_MS)


def test_f1_lists_the_shortcuts_and_the_help_menu_names_the_version(qtbot, window):
    titles = [action.text() for action in window.menuBar().actions()]
    assert titles == ["&File", "&View", "&Journal", "&Help"]
    qtbot.keyClick(window, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: window.help_dialog is not None and window.help_dialog.isVisible(),
                    timeout=WAIT_MS)
    listed = window.help_dialog.table.text()
    for keys, what in (("Ctrl+R", "Start"), ("Ctrl+T", "Stop"), ("Ctrl+Q", "Quit"),
                       ("F11", "Full screen"), ("F1", "Keyboard shortcuts"),
                       ("Ctrl+,", "Settings")):
        assert f"<b>{keys}</b></td><td>{what}" in listed, keys
    window.help_dialog.reject()
    window.about_action.trigger()
    qtbot.waitUntil(lambda: window.help_dialog.isVisible(), timeout=WAIT_MS)
    assert f"Velocitas {__version__}" in window.help_dialog.text()


def test_f11_fills_the_screen_and_brings_the_window_back(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(window.isFullScreen, timeout=WAIT_MS)
    assert window.full_screen_action.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_F11)
    qtbot.waitUntil(lambda: not window.isFullScreen(), timeout=WAIT_MS)


def test_ctrl_q_closes_the_window_and_stops_the_engine(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert window.engine.status == "stopped"


def test_reset_layout_docks_every_panel_back_where_it_started(qtbot, window):
    docks = window.findChildren(QDockWidget)
    areas = {dock.objectName(): window.dockWidgetArea(dock) for dock in docks}
    window.strategies_dock.setFloating(True)
    window.log_dock.close()
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, window.pnl_dock)
    window.view_menu.setActiveAction(window.reset_layout_action)
    window.reset_layout_action.trigger()
    qtbot.wait(50)
    assert all(not dock.isFloating() for dock in docks)
    assert {dock.objectName(): window.dockWidgetArea(dock) for dock in docks} == areas
    assert window.log_dock.toggleViewAction().isChecked()


class ZOrderSpy(QObject):
    """Notes the docks whose place in the stack of windows changed."""

    def __init__(self) -> None:
        super().__init__()
        self.raised: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ZOrderChange and isinstance(watched, QDockWidget):
            self.raised.append(watched.objectName())
        return False


def test_a_floating_dock_comes_back_floating_in_front_of_the_window(qtbot, make_window):
    window = make_window()
    window.strategies_dock.setFloating(True)
    window.pnl_dock.setFloating(True)
    assert window.pnl_dock.windowTitle() == "P&L — equity per strategy and total"  # to the WM
    window.close()
    spy = ZOrderSpy()
    QApplication.instance().installEventFilter(spy)
    try:
        again = make_window()
        qtbot.waitUntil(lambda: "strategiesDock" in spy.raised, timeout=WAIT_MS)
    finally:
        QApplication.instance().removeEventFilter(spy)
    assert again.strategies_dock.isFloating() and again.strategies_dock.isVisible()
    assert again.pnl_dock.windowTitle() == "P&L — equity per strategy and total"
    assert again.pnl_dock.toggleViewAction().text() == "P&&L — equity per strategy and total"
    again.pnl_dock.setFloating(False)  # docked, its title bar reads && as one &
    assert again.pnl_dock.windowTitle() == "P&&L — equity per strategy and total"


def test_the_window_reopens_where_it_was_closed_run_after_run(qtbot, make_window, home: Path):
    place = QRect(60, 70, 1600, 960)
    window = make_window()
    window.setGeometry(place)
    qtbot.wait(20)
    for _ in range(3):
        window.close()
        window = make_window()
        assert window.geometry().topLeft() == place.topLeft()  # not a frame lower each run


def test_an_info_banner_reads_as_news_not_as_an_error(qtbot, window):
    window.show_error("The data could not be opened")
    error = window.banner.label.palette().color(window.banner.label.foregroundRole())
    window.banner.hide()
    window.show_info("The session finished: the data ran out or a limit was reached.")
    info = window.banner.label.palette().color(window.banner.label.foregroundRole())
    assert info != error
    assert 180 <= info.hslHue() <= 260  # blue, as the banner's frame, not the error's red


def test_the_settings_dialog_opens_from_the_file_menu(qtbot, window):
    file_menu = window.menuBar().actions()[0].menu()
    assert [a.text() for a in file_menu.actions() if a.text()] == [
        window.start_action.text(), window.stop_action.text(), window.settings_action.text(),
        "&Quit"]
    click(qtbot, window.settings_button)
    qtbot.waitUntil(lambda: window.settings_dialog.isVisible(), timeout=WAIT_MS)
