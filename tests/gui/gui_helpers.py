"""What a trader does with the mouse and keyboard, as small steps the tests share."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QComboBox, QLineEdit, QTableView

WAIT_MS = 20_000


def retype(qtbot: Any, edit: QLineEdit, text: str) -> None:
    """Select what is in a text field and type over it."""
    edit.setFocus()
    qtbot.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(edit, Qt.Key.Key_Delete)
    qtbot.keyClicks(edit, text)


def type_number(qtbot: Any, spin: QAbstractSpinBox, text: str) -> None:
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, text)


def choose(qtbot: Any, combo: QComboBox, text: str) -> None:
    """Pick an entry of a drop-down by typing its first letters, as the keyboard allows."""
    combo.setFocus()
    # Qt searches a drop-down by the keys typed within keyboardInputInterval (400 ms) of each
    # other; a machine busy enough to hold the window's thread longer between two keys makes
    # each key a search of its own ("S", "M": MACD). A person then types the name again, and
    # so does this, after the pause that starts a new search.
    for _attempt in range(3):
        # a pause first, as a person makes: quick keys extend the previous search instead
        qtbot.wait(QApplication.keyboardInputInterval() + 50)
        if combo.isEditable():
            retype(qtbot, combo.lineEdit(), text)
        else:
            qtbot.keyClicks(combo, text)
        if combo.currentText().lower().startswith(text.lower()):
            return
    assert combo.currentText().lower().startswith(text.lower()), combo.currentText()


def click(qtbot: Any, widget: Any) -> None:
    assert widget.isEnabled(), f"{widget.text() if hasattr(widget, 'text') else widget} is disabled"
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def click_row(qtbot: Any, table: QTableView, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def add_strategy(qtbot: Any, window: Any, name: str, coin: str,
                 params: dict[str, str] | None = None, press_ok: bool = True,
                 timeframe: str | None = "tick") -> Any:
    """Click Add…, fill the generated form, press Add; returns the form.

    The tests decide on every tick unless they say otherwise (``None`` keeps the form's own
    default, 1m bars): at the few thousand ticks a second they run, ticks trade within a second
    where one-minute bars of wall-clock time would take half an hour."""
    click(qtbot, window.strategies_panel.add_button)
    qtbot.waitUntil(lambda: bool(window.forms) and window.forms[-1].isVisible(), timeout=WAIT_MS)
    form = window.forms[-1]
    choose(qtbot, form.name_box, name)
    choose(qtbot, form.coin_box, coin)
    if timeframe is not None:
        choose(qtbot, form.timeframe_box, timeframe)
    for key, value in (params or {}).items():
        type_number(qtbot, form.editors[key], value)
    if press_ok:
        click(qtbot, form.ok_button)
    return form


def table_row(table: QTableView, row: int) -> dict[str, Any]:
    """Every column's value in ``row``, by column key, as the table shows it."""
    model = table.model()
    return {column.key: model.value(row, column.key) for column in model.columns}


def table_column(table: QTableView, key: str) -> list[Any]:
    model = table.model()
    return [model.value(r, key) for r in range(model.rowCount())]


def start_simulated(qtbot: Any, window: Any, coins: str = "BTC", rate: str = "2000") -> None:
    """Choose the simulated feed, type the coins and the pace, press Start."""
    choose(qtbot, window.source_box, "Simulated")
    retype(qtbot, window.coins_edit, coins)
    retype(qtbot, window.rate_edit, rate)
    press_start(qtbot, window)
    qtbot.waitUntil(lambda: window.engine.status == "running" and not window.busy,
                    timeout=WAIT_MS)


def press_start(qtbot: Any, window: Any) -> None:
    """Press Start; when the toolbar names another market while the last session holds open
    positions, the window asks what becomes of them: keep its choice (close them)."""
    asked = len(window.dialogs)
    click(qtbot, window.start_button)
    qtbot.waitUntil(lambda: len(window.dialogs) > asked or not window.busy, timeout=WAIT_MS)
    dialog = window.dialogs[-1] if len(window.dialogs) > asked else None
    if dialog is not None and hasattr(dialog, "close_choice"):
        click(qtbot, dialog.start_button)


def stop(qtbot: Any, window: Any) -> None:
    click(qtbot, window.stop_button)
    qtbot.waitUntil(lambda: window.engine.status in ("stopped", "finished")
                    and window.start_button.isEnabled(), timeout=WAIT_MS)


def click_header(qtbot: Any, table: QTableView, title: str) -> None:
    """Click a column's title (scrolled into view first, as a person scrolls to it)."""
    model = table.model()
    section = [model.headerData(i, Qt.Orientation.Horizontal)
               for i in range(model.columnCount())].index(title)
    header = table.horizontalHeader()
    bar = table.horizontalScrollBar()
    while header.sectionViewportPosition(section) + header.sectionSize(section) > \
            header.viewport().width() and bar.value() < bar.maximum():
        bar.setValue(bar.value() + bar.singleStep())
    while header.sectionViewportPosition(section) < 0 and bar.value() > 0:
        bar.setValue(bar.value() - bar.singleStep())
    x = header.sectionViewportPosition(section) + min(header.sectionSize(section) // 2, 20)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(x, header.height() // 2))


def remove_selected(qtbot: Any, window: Any) -> None:
    """Press Remove on the selected strategy; if it holds a position, the window asks first:
    agree (the position is closed with a fill)."""
    before = len(window.dialogs)
    click(qtbot, window.strategies_panel.remove_button)
    if len(window.dialogs) > before:
        click(qtbot, window.confirm_remove)


def answer_close(qtbot: Any, window: Any, dont_ask_again: bool = False) -> None:
    """The window asked before closing while the engine runs: say Stop and close."""
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=WAIT_MS)
    if dont_ask_again:
        window.dont_ask_again.click()
    click(qtbot, window.confirm_close)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
