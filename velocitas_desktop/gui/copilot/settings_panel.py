"""The copilot's settings in the window: the daily-loss guard, webhooks, heartbeat, throttle.

It edits the Settings JSON of docs/copilot.md and hands it whole to
``engine.update_copilot_settings`` (off the Qt thread); the engine's refusal (a bad URL, a
negative amount) is written under the panel and nothing is half-applied.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.gui.copilot.tables import SEVERITIES
from velocitas_desktop.gui.fields import FieldError, NumberField, first_problem

FORMATS = ("json", "discord", "slack", "telegram")


class SettingsPanel(QWidget):
    """The Settings JSON as a form; ``apply_requested(dict)`` when Apply is pressed with
    values that can be used."""

    apply_requested = Signal(object)
    test_requested = Signal(object)  # a webhook (its settings JSON): send it a test message

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loaded: dict[str, Any] = {}
        layout = QVBoxLayout(self)
        columns = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 2)
        layout.addLayout(columns, 1)

        guard = QGroupBox("Daily-loss guard")
        form = QFormLayout(guard)
        self.guard_box = QCheckBox("pause every strategy when the day's loss passes the limit")
        self.guard_box.setObjectName("guardEnabled")
        form.addRow(self.guard_box)
        self.guard_amount = NumberField(None, label="loss amount", low=0,  # type: ignore[arg-type]
                                        words={None: ""})  # type: ignore[dict-item]
        self.guard_amount.setObjectName("guardAmount")
        self.guard_amount.setPlaceholderText("no amount")
        self.guard_amount.setToolTip("the day's loss in the account's currency (UTC days); "
                                     "when given, it is the limit and the percentage is not")
        self.guard_percent = NumberField(5.0, label="loss percentage", low=0, high=100,
                                         unit="%", words={None: ""})  # type: ignore[dict-item]
        self.guard_percent.setObjectName("guardPercent")
        self.guard_percent.setPlaceholderText("no percentage")
        self.guard_percent.setToolTip("the day's loss as a share of the account at the day's "
                                      "start")
        form.addRow("Amount", self.guard_amount.row())
        form.addRow("Or percent", self.guard_percent.row())
        self.guard_close = QCheckBox("Close every position too")
        self.guard_close.setObjectName("guardClosePositions")
        self.guard_close.setChecked(True)
        self.guard_close.setToolTip("after pausing every strategy, close every open position "
                                    "(a pause alone leaves the day's losers open)")
        form.addRow(self.guard_close)
        left.addWidget(guard)

        heartbeat = QGroupBox("Heartbeat")
        form = QFormLayout(heartbeat)
        self.heartbeat_url = QLineEdit()
        self.heartbeat_url.setObjectName("heartbeatUrl")
        self.heartbeat_url.setPlaceholderText("https://… (off when empty)")
        self.heartbeat_url.setToolTip("told that the app is alive every interval, so that "
                                      "silence itself can be noticed")
        self.heartbeat_interval = NumberField(60, label="heartbeat interval", low=5,
                                              high=86_400, unit=" s")
        self.heartbeat_interval.setObjectName("heartbeatInterval")
        form.addRow("URL", self.heartbeat_url)
        form.addRow("Every", self.heartbeat_interval.row())
        left.addWidget(heartbeat)

        throttle = QGroupBox("Runaway rules")
        form = QFormLayout(throttle)
        self.throttle_count = NumberField(15, label="throttle count", integer=True, low=1,
                                          high=10_000)
        self.throttle_count.setObjectName("throttleCount")
        self.throttle_window = NumberField(180, label="throttle window", low=1,
                                           high=86_400, unit=" s")
        self.throttle_window.setObjectName("throttleWindow")
        form.addRow("Throttle after", self.throttle_count.row())
        form.addRow("alerts within", self.throttle_window.row())
        left.addWidget(throttle)
        left.addStretch(1)

        hooks = QGroupBox("Webhooks")
        column = QVBoxLayout(hooks)
        self.webhooks = QTableWidget(0, 5)
        self.webhooks.setObjectName("webhooksTable")
        self.webhooks.setHorizontalHeaderLabels(["URL", "Format", "Min severity",
                                                 "Chat id (Telegram)", "On"])
        header = self.webhooks.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.webhooks.verticalHeader().setVisible(False)
        column.addWidget(self.webhooks, 1)
        buttons = QHBoxLayout()
        self.add_hook = QPushButton("Add webhook")
        self.add_hook.setObjectName("addWebhook")
        self.add_hook.clicked.connect(lambda: self.add_webhook({}))
        self.remove_hook = QPushButton("Remove")
        self.remove_hook.setObjectName("removeWebhook")
        self.remove_hook.clicked.connect(self._remove_webhook)
        self.test_hook = QPushButton("Send test")
        self.test_hook.setObjectName("testWebhook")
        self.test_hook.setToolTip("Send the chosen webhook a test message now, as it is "
                                  "written here (applied or not), and say whether it arrived")
        self.test_hook.clicked.connect(self.send_test)
        buttons.addWidget(self.add_hook)
        buttons.addWidget(self.remove_hook)
        buttons.addWidget(self.test_hook)
        buttons.addStretch(1)
        column.addLayout(buttons)
        right.addWidget(hooks, 1)

        bottom = QHBoxLayout()
        self.message = QLabel()
        self.message.setObjectName("settingsMessage")
        self.message.setWordWrap(True)
        bottom.addWidget(self.message, 1)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("settingsApply")
        self.apply_button.clicked.connect(self.apply)
        bottom.addWidget(self.apply_button)
        layout.addLayout(bottom)

    def add_webhook(self, hook: dict[str, Any]) -> None:
        row = self.webhooks.rowCount()
        self.webhooks.insertRow(row)
        self.webhooks.setItem(row, 0, QTableWidgetItem(hook.get("url") or "https://"))
        fmt = QComboBox()
        fmt.addItems(list(FORMATS))
        fmt.setCurrentText(hook.get("format") or "json")
        self.webhooks.setCellWidget(row, 1, fmt)
        severity = QComboBox()
        severity.addItems(list(SEVERITIES))
        severity.setCurrentText(hook.get("min_severity") or "warning")
        self.webhooks.setCellWidget(row, 2, severity)
        self.webhooks.setItem(row, 3, QTableWidgetItem(str(hook.get("chat_id") or "")))
        on = QCheckBox()
        on.setChecked(hook.get("enabled", True))
        self.webhooks.setCellWidget(row, 4, on)

    def _remove_webhook(self) -> None:
        row = self.webhooks.currentRow()
        if row >= 0:
            self.webhooks.removeRow(row)

    def show_settings(self, settings: dict[str, Any]) -> None:
        """Fill the form from the engine's Settings JSON."""
        self.loaded = dict(settings)
        guard = settings.get("daily_loss") or {}
        self.guard_box.setChecked(bool(guard.get("enabled")))
        self.guard_amount.setValue(guard.get("amount"))  # type: ignore[arg-type]
        self.guard_percent.setValue(guard.get("percent"))  # type: ignore[arg-type]
        self.guard_close.setChecked(guard.get("close_positions", True) is not False)
        beat = settings.get("heartbeat") or {}
        self.heartbeat_url.setText(beat.get("url") or "")
        self.heartbeat_interval.setValue(beat.get("interval_s") or 60)
        throttle = settings.get("throttle") or {}
        self.throttle_count.setValue(throttle.get("count") or 15)
        self.throttle_window.setValue(throttle.get("window_s") or 180)
        self.webhooks.setRowCount(0)
        for hook in settings.get("webhooks") or []:
            self.add_webhook(hook)
        self.show_message("", error=False)

    def settings(self) -> dict[str, Any]:
        """The Settings JSON the form describes; FieldError for a number that cannot be used."""
        problem = first_problem({"amount": self.guard_amount, "percent": self.guard_percent,
                                 "interval": self.heartbeat_interval,
                                 "count": self.throttle_count, "window": self.throttle_window})
        if problem is not None:
            raise FieldError(problem)
        hooks = [self.webhook(row) for row in range(self.webhooks.rowCount())]
        return {**self.loaded,
                "daily_loss": {"enabled": self.guard_box.isChecked(),
                               "amount": self.guard_amount.value(),
                               "percent": self.guard_percent.value(),
                               "close_positions": self.guard_close.isChecked()},
                "webhooks": hooks,
                "heartbeat": {"url": self.heartbeat_url.text().strip() or None,
                              "interval_s": self.heartbeat_interval.value()},
                "throttle": {"count": self.throttle_count.value(),
                             "window_s": self.throttle_window.value()}}

    def webhook(self, row: int) -> dict[str, Any]:
        """The webhook settings JSON of ``row``."""
        hook = {"url": self._text(row, 0),
                "format": self.webhooks.cellWidget(row, 1).currentText(),
                "min_severity": self.webhooks.cellWidget(row, 2).currentText(),
                "enabled": self.webhooks.cellWidget(row, 4).isChecked()}
        if hook["format"] == "telegram":  # the chat the bot posts to
            hook["chat_id"] = self._text(row, 3)
        return hook

    def send_test(self) -> None:
        """Ask for a test message to the chosen webhook (the only one, if one)."""
        row = self.webhooks.currentRow()
        if row < 0 and self.webhooks.rowCount() == 1:
            row = 0
        if row < 0:
            self.show_message("Choose the webhook to send a test message to.", error=True)
            return
        hook = self.webhook(row)
        self.test_hook.setEnabled(False)
        self.show_message(f"Sending a test message to {hook['url']}…", error=False)
        self.test_requested.emit(hook)

    def tested(self, result: dict[str, Any]) -> None:
        """Say what came of a test message (copilot_test_webhook's answer)."""
        self.test_hook.setEnabled(True)
        if result.get("delivered"):
            self.show_message(f"Test message delivered to {result['url']} "
                              f"({result['format']}, {result['elapsed_ms']:,.0f} ms).",
                              error=False)
        else:
            self.show_message(f"Test message not delivered to {result['url']}: "
                              f"{result.get('error')}", error=True)

    def test_refused(self, text: str) -> None:
        self.test_hook.setEnabled(True)
        self.show_message(f"No test message sent: {text}", error=True)

    def _text(self, row: int, column: int) -> str:
        item = self.webhooks.item(row, column)
        return (item.text() if item else "").strip()

    def apply(self) -> None:
        try:
            settings = self.settings()
        except FieldError as exc:
            self.show_message(f"Not applied: {exc}.", error=True)
            return
        self.apply_button.setEnabled(False)
        self.show_message("Applying…", error=False)
        self.apply_requested.emit(settings)

    def applied(self, settings: dict[str, Any]) -> None:
        self.apply_button.setEnabled(True)
        self.show_settings(settings)
        self.show_message("Applied.", error=False)

    def refused(self, text: str) -> None:
        self.apply_button.setEnabled(True)
        self.show_message(f"Not applied: {text}", error=True)

    def show_message(self, text: str, error: bool) -> None:
        self.message.setText(text)
        self.message.setProperty("error", error)
        self.message.setStyleSheet("color: #ef5350;" if error else "")


__all__: list[str] = ["FORMATS", "SettingsPanel"]
