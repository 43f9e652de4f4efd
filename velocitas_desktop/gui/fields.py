"""Number fields of the window's forms: what was typed is kept and refused with its reason, never clamped."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

Number = int | float


class FieldError(ValueError):
    """What is wrong with a field's text, in a sentence the form shows under the field."""


def number_text(value: Number) -> str:
    """A number as a trader types it: ``5``, ``0.075``, ``0.00001``; never ``1e-05`` or
    ``1.0000000000``."""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.10f}".rstrip("0").rstrip(".")


class NumberField(QLineEdit):
    """A number typed as text, checked against its bounds when it is read.

    A spin box refuses what it cannot hold without a word: a period of 1 below a lowest of 2
    came back as the previous 5 when the box lost focus, and port 99999 lost its last digit
    as it was typed. This field keeps the text, says what is wrong under itself (``message``)
    and clears the message as soon as the text is right again. ``words`` name special values
    (``{0: "no limit"}``): the word is shown for the value and read back as it, and an empty
    field reads as the first word's value. Up and Down step by ``step``.
    """

    def __init__(self, value: Number, *, label: str, integer: bool = False,
                 low: Number | None = None, high: Number | None = None,
                 step: Number | None = None, unit: str = "",
                 words: Mapping[Number, str] | None = None,
                 warn: Callable[[Number], str | None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label, self.integer, self.low, self.high = label, integer, low, high
        self.step = step if step is not None else 1
        self.unit = unit
        self.words = dict(words or {})
        self.warn = warn
        self.message = QLabel()
        self.message.setObjectName("fieldError")
        self.message.setWordWrap(True)
        self.message.hide()
        if self.words:
            self.setPlaceholderText(next(iter(self.words.values())))
        self.setValue(value)
        self.editingFinished.connect(self.check)
        self.textChanged.connect(self._recheck)

    # --- reading ----------------------------------------------------------------------------

    def value(self) -> Number:
        """The number typed; FieldError saying why it cannot be used."""
        text = self.text().strip()
        for number, word in self.words.items():
            if text.lower() == word.lower():
                return number
        if not text:
            if self.words:
                return next(iter(self.words))
            raise FieldError(f"type the {self.label}")
        number = self._parse(text)
        if self.low is not None and number < self.low:
            raise FieldError(f"{text} is below the lowest {self.label}, {number_text(self.low)}")
        if self.high is not None and number > self.high:
            raise FieldError(f"{text} is above the highest {self.label}, "
                             f"{number_text(self.high)}")
        return number

    def _parse(self, text: str) -> Number:
        plain = text.removesuffix(self.unit.strip()).strip() if self.unit.strip() else text
        if "," in plain and "." not in plain:
            raise FieldError(f"the {self.label} takes a point for decimals: "
                             f"{plain.replace(',', '.')}, not {plain}")
        try:
            number = float(plain)
        except ValueError:
            raise FieldError(f"the {self.label} is a number, not “{text}”") from None
        if not math.isfinite(number):
            raise FieldError(f"the {self.label} is a number, not “{text}”")
        if self.integer:
            if not number.is_integer():
                raise FieldError(f"the {self.label} is a whole number, not {plain}")
            return int(number)
        return number

    @property
    def problem(self) -> str | None:
        try:
            self.value()
        except FieldError as exc:
            return str(exc)
        return None

    # --- writing and showing -------------------------------------------------------------------

    def setValue(self, value: Number) -> None:
        word = self.words.get(value)
        self.setText(word if word is not None else number_text(value))
        self.check()

    def check(self) -> bool:
        """Show what is wrong under the field (or a warning that does not block); True if
        the value can be used."""
        problem = self.problem
        note = None
        if problem is None and self.warn is not None:
            note = self.warn(self.value())
        self.message.setText(problem or note or "")
        self.message.setProperty("warning", problem is None and note is not None)
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setVisible(bool(problem or note))
        self.setProperty("invalid", problem is not None)
        self.style().unpolish(self)
        self.style().polish(self)
        return problem is None

    def _recheck(self) -> None:
        # a message already shown follows the text, so a corrected value clears it at once;
        # a first message waits for the end of the typing (a 1 on the way to 14 is fine)
        if self.message.isVisible():
            self.check()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and self.problem is None:
            self._step(1 if key == Qt.Key.Key_Up else -1)
            return
        super().keyPressEvent(event)

    def _step(self, direction: int) -> None:
        value = self.value() + direction * self.step
        if self.low is not None:
            value = max(value, self.low)
        if self.high is not None:
            value = min(value, self.high)
        self.setValue(round(value, 10) if not self.integer else int(value))

    def row(self) -> QWidget:
        """The field with its unit beside it and its message under it, for a form's row."""
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self, 1)
        if self.unit:
            unit = QLabel(self.unit.strip())
            unit.setObjectName("fieldUnit")
            line.addWidget(unit)
        column.addLayout(line)
        column.addWidget(self.message)
        return holder


def first_problem(fields: Mapping[str, NumberField]) -> str | None:
    """Check every field (each shows its own message) and return the first problem."""
    problems = [field.problem for field in fields.values() if not field.check()]
    return problems[0] if problems else None


def job_progress(object_name: str) -> QProgressBar:
    """The progress bar of a background job (an optimisation, an analysis, a rule test),
    empty and reading "idle" until a job starts."""
    bar = QProgressBar()
    bar.setObjectName(object_name)
    bar.setRange(0, 100)
    bar.setValue(0)
    bar.setFormat("idle")
    return bar


def job_message(object_name: str, text: str = "") -> QLabel:
    """The wrapped, selectable line under a job's controls that says what it did or why not."""
    label = QLabel(text)
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label
