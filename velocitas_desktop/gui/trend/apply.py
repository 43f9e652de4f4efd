"""Apply a suggestion live: a dialog asking the coin, the timeframe and the id, then register.

The engine's refusal (an unknown coin, a taken id, parameters out of bounds) is written in the
dialog, which stays open for the trader to correct it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.core.types import TICK, TIMEFRAMES
from velocitas_desktop.engine.contract import TradingEngine
from velocitas_desktop.gui.optimization.helpers import unique_id
from velocitas_desktop.gui.theme import ChartColours
from velocitas_desktop.gui.trend.tables import params_text


class ApplyDialog(QDialog):
    """Register ``suggestion`` (its strategy and parameters) on ``engine``; ``registered``
    holds the engine's spec once it accepted it."""

    def __init__(self, engine: TradingEngine, suggestion: dict[str, Any], coins: list[str],
                 coin: str, palette: ChartColours, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.suggestion = suggestion
        self.palette = palette
        self.registered: StrategySpec | None = None
        self.setWindowTitle("Apply suggestion")
        self.setMinimumWidth(420)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Strategy", QLabel(suggestion["strategy"]))
        form.addRow("Parameters", QLabel(params_text(suggestion.get("params") or {})))
        self.coin_box = QComboBox()
        self.coin_box.setObjectName("applyCoin")
        self.coin_box.setEditable(True)
        self.coin_box.addItems(list(dict.fromkeys([coin, *coins])))
        self.coin_box.setCurrentText(coin)
        form.addRow("Coin", self.coin_box)
        self.timeframe_box = QComboBox()
        self.timeframe_box.setObjectName("applyTimeframe")
        self.timeframe_box.addItems([TICK, *TIMEFRAMES])
        # parameters tuned on these bars mean the same only on bars of the same length
        wanted = suggestion.get("timeframe") or TICK
        self.timeframe_box.setCurrentText(wanted if wanted in TIMEFRAMES else TICK)
        self.timeframe_box.setToolTip("The bars the strategy decides on live: the ones its "
                                      "parameters were tested on")
        form.addRow("Timeframe", self.timeframe_box)
        self.id_edit = QLineEdit()
        self.id_edit.setObjectName("applyId")
        self.id_edit.setPlaceholderText("automatic")
        form.addRow("Id", self.id_edit)
        layout.addLayout(form)
        self.message = QLabel()
        self.message.setObjectName("applyError")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(f"color: {palette.down};")
        self.message.hide()
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.register_button = buttons.addButton("Register",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.register_button.setObjectName("applyRegister")
        self.register_button.setDefault(True)
        buttons.accepted.connect(self.register)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.coin_box.currentTextChanged.connect(self._suggest_id)
        self._suggest_id()

    def _spec(self, strategy_id: str = "") -> StrategySpec:
        return StrategySpec(self.suggestion["strategy"],
                            self.coin_box.currentText().strip().upper(),
                            dict(self.suggestion.get("params") or {}),
                            self.timeframe_box.currentText(), strategy_id=strategy_id)

    def _suggest_id(self, *_: Any) -> None:
        """The automatic id (``BTC_RSI``, or the next free ``BTC_RSI_2``) as the placeholder."""
        taken = {s["strategy_id"] for s in self.engine.strategies()}
        self.id_edit.setPlaceholderText(unique_id(self._spec().id, taken))

    def register(self) -> None:
        """Register the strategy; on a refusal say why and stay open."""
        if not self.coin_box.currentText().strip():
            self._refuse("type the coin it trades, e.g. BTC")
            return
        typed = self.id_edit.text().strip()
        try:
            spec = self._spec(typed or self.id_edit.placeholderText())
            self.registered = self.engine.register(spec)
        except (VelocitasError, ValueError) as exc:
            self._refuse(str(exc))
            return
        self.accept()

    def _refuse(self, text: str) -> None:
        self.message.setText(f"Not registered: {text}")
        self.message.show()


__all__: list[str] = ["ApplyDialog"]
