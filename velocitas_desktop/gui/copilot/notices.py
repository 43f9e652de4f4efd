"""Alerts told outside the Copilot tab: toasts over the window and the system tray's message.

A toast is a small child widget in the window's bottom-right corner, never a modal: it fades
out by itself, and a click on it opens the alert in the Copilot tab. A burst of alerts (a
runaway rule, a crash of the market firing every price rule) is coalesced into one toast
that counts them, so the screen never fills with boxes. The tray message is shown only when
the window is minimised or hidden: a trader looking at the window has the toast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEasingCurve, QObject, QPropertyAnimation, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGraphicsOpacityEffect,
    QLabel,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

SHOWN_MS = 6_000   # a toast stays this long before it fades
FADE_MS = 600
MAX_TOASTS = 3     # toasts on screen at once; more alerts make one counting toast
BORDER = {"info": "#2962ff", "warning": "#ff9800", "critical": "#ef5350"}


class Toast(QFrame):
    """One alert (or a count of several) in a box that fades; ``clicked(alert_id)``."""

    clicked = Signal(int)

    def __init__(self, title: str, text: str, severity: str, alert_id: int,
                 parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("alertToast")
        self.alert_id = alert_id
        self.severity = severity
        self.setFixedWidth(340)
        # the theme's palette (a light toast in the light theme), the severity's edge
        self.setStyleSheet(f"#alertToast {{ background: palette(button); border: 1px solid "
                           f"palette(mid); border-left: 4px solid "
                           f"{BORDER.get(severity, BORDER['info'])}; border-radius: 4px; }}"
                           " QLabel { color: palette(text); background: transparent; }")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 8)
        layout.setSpacing(2)
        self.title = QLabel(title)
        self.title.setStyleSheet("font-weight: 700;")
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.text)
        self.setToolTip("Open this alert in the Copilot tab")
        self.opacity = QGraphicsOpacityEffect(self)
        self.opacity.setOpacity(1.0)
        self.setGraphicsEffect(self.opacity)
        self.fade = QPropertyAnimation(self.opacity, b"opacity", self)
        self.fade.setDuration(FADE_MS)
        self.fade.setStartValue(1.0)
        self.fade.setEndValue(0.0)
        self.fade.setEasingCurve(QEasingCurve.Type.InQuad)
        self.fade.finished.connect(self.close)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.fade.start)

    def start(self, shown_ms: int = SHOWN_MS) -> None:
        self.adjustSize()
        self.show()
        self.raise_()
        self.timer.start(shown_ms)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.timer.stop()
        self.fade.stop()
        self.clicked.emit(self.alert_id)
        self.close()


class Toasts(QObject):
    """The toasts over ``host``'s bottom-right corner, newest at the bottom.

    ``show_alerts`` takes a frame's new alerts (the bridge coalesces them per frame): up to
    the room left of :data:`MAX_TOASTS` each get their own toast; past that one toast counts
    them and names the most severe. ``opened(alert_id)`` when a toast is clicked."""

    opened = Signal(int)

    def __init__(self, host: QWidget) -> None:
        super().__init__(host)
        self.host = host
        self.shown_ms = SHOWN_MS
        self.toasts: list[Toast] = []  # the host's children, placed by hand

    def show_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self.toasts = [t for t in self.toasts if t.isVisible()]
        room = MAX_TOASTS - len(self.toasts)
        if len(alerts) > max(room, 1):
            self._count(alerts)
        else:
            for alert in alerts:
                self._add(Toast(_title(alert), alert.get("message") or "",
                                alert.get("severity") or "info", int(alert["id"]), self.host))
        self.place()

    def _count(self, alerts: list[dict[str, Any]]) -> None:
        """One toast for a burst: how many, the most severe first, and the newest."""
        for toast in self.toasts[:-1] if len(self.toasts) >= MAX_TOASTS else []:
            toast.close()
        worst = max(alerts, key=lambda a: _RANK.get(a.get("severity") or "info", 0))
        newest = max(alerts, key=lambda a: a["id"])
        rules = sorted({a.get("rule_name") or a.get("rule_id") or "" for a in alerts})
        named = ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
        self._add(Toast(f"{len(alerts)} new alerts", f"{named}. Newest: "
                        f"{newest.get('message') or ''}", worst.get("severity") or "info",
                        int(newest["id"]), self.host))

    def _add(self, toast: Toast) -> None:
        toast.clicked.connect(self.opened)
        self.toasts.append(toast)
        toast.start(self.shown_ms)

    def visible(self) -> list[Toast]:
        return [t for t in self.toasts if t.isVisible()]

    def place(self) -> None:
        """Stack the visible toasts up from the host's bottom-right corner."""
        margin, y = 16, self.host.height() - 40   # above the status bar
        for toast in reversed(self.visible()):
            toast.adjustSize()
            y -= toast.height()
            toast.move(self.host.width() - toast.width() - margin, y)
            y -= 8

    def clear(self) -> None:
        for toast in self.toasts:
            toast.close()
        self.toasts = []


_RANK = {"info": 0, "warning": 1, "critical": 2}


def _title(alert: dict[str, Any]) -> str:
    severity = (alert.get("severity") or "info").upper()
    return f"{severity} · {alert.get('rule_name') or alert.get('rule_id') or 'alert'}"


class TrayNotifier:
    """The system tray's icon and its messages (where the desktop has a tray).

    ``notify`` is the one door: the window calls it for alerts while it is minimised or
    hidden. ``requested`` keeps what was asked (the tests read it; a desktop without a tray
    shows nothing, but the request is still made and counted)."""

    def __init__(self, parent: QWidget, on_click: Callable[[], None] | None = None) -> None:
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon: QSystemTrayIcon | None = None
        self.requested: list[tuple[str, str]] = []
        if self.available:
            icon = parent.windowIcon()
            if icon.isNull():
                icon = QApplication.style().standardIcon(
                    QStyle.StandardPixmap.SP_MessageBoxInformation)
            self.icon = QSystemTrayIcon(icon, parent)
            self.icon.setToolTip("Velocitas")
            if on_click is not None:
                self.icon.messageClicked.connect(on_click)
            self.icon.show()

    def notify(self, title: str, text: str, severity: str = "info") -> None:
        self.requested.append((title, text))
        if self.icon is not None:
            icon = (QSystemTrayIcon.MessageIcon.Critical if severity == "critical" else
                    QSystemTrayIcon.MessageIcon.Warning if severity == "warning" else
                    QSystemTrayIcon.MessageIcon.Information)
            self.icon.showMessage(title, text, icon, 10_000)

    def alerts(self, alerts: list[dict[str, Any]]) -> None:
        """One message for a frame's alerts: the alert itself, or how many and the newest."""
        if not alerts:
            return
        if len(alerts) == 1:
            alert = alerts[0]
            self.notify(_title(alert), alert.get("message") or "", alert.get("severity") or "")
            return
        worst = max(alerts, key=lambda a: _RANK.get(a.get("severity") or "info", 0))
        newest = max(alerts, key=lambda a: a["id"])
        self.notify(f"{len(alerts)} new alerts", newest.get("message") or "",
                    worst.get("severity") or "info")

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()


__all__: list[str] = ["MAX_TOASTS", "Toast", "Toasts", "TrayNotifier"]
