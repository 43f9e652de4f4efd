"""How the window's pyqtgraph plots look, and what a plot shows before it has anything to draw."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel


def placeholder(text: str) -> QLabel:
    """The muted note shown in place of a plot until there is something to draw."""
    label = QLabel(text)
    label.setObjectName("mutedLabel")
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setStyleSheet("color: #787b86; padding: 24px;")
    return label

