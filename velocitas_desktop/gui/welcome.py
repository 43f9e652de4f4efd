"""The window's welcome: with no strategies registered, a ready set to add in one click."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from velocitas_desktop.catalog import BUILTIN_PACKAGE, Catalog
from velocitas_desktop.core.errors import VelocitasError
from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.request import DEFAULT_TIMEFRAME
from velocitas_desktop.gui.background import run_in_background

READY_COINS = ("BTC", "ETH")
# At maximum speed the simulated clock runs ahead of the wall clock (about a day and a half of
# data in ten seconds here); starting it two days back keeps the candles out of the future.
SIMULATED_HEAD_START = 48 * 3600  # seconds


def builtin_names(catalog: Catalog) -> list[str]:
    """The catalogue's built-in strategies (not those of the user's folders), in its order."""
    return [name for name, info in catalog.infos.items()
            if info.ref.module.startswith(BUILTIN_PACKAGE)]


def ready_set(names: Iterable[str], coins: Iterable[str] = READY_COINS,
              timeframe: str = DEFAULT_TIMEFRAME) -> list[StrategySpec]:
    """One strategy of each name on each coin, deciding on ``timeframe`` bars, at the
    parameters they declare."""
    coins = list(coins)
    return [StrategySpec(name, coin, timeframe=timeframe) for coin in coins for name in names]


def ready_session(window: Any) -> None:
    """Set the window's toolbar for the ready set: the simulated market, BTC and ETH, as fast
    as it goes, candles of the bars the strategies decide on. On one-minute bars at a paced
    1,000 ticks/s a crossover of 30 bars would first trade after half an hour; at full speed
    the bars close many times a second and the first fills come within a second or two."""
    window.source_box.setCurrentIndex(window.source_box.findData("simulated"))
    window.coins_edit.setText(",".join(READY_COINS))
    window.rate_edit.setText("max")
    window.simulated_start = time.time() - SIMULATED_HEAD_START
    window.charts.interval_box.setCurrentText(DEFAULT_TIMEFRAME)


def add_ready_set(window: Any) -> None:
    """The welcome's one click: the ready set registered off the Qt thread (while a session
    runs, each registration waits for the engine's next batch) and, if the engine is stopped,
    the toolbar set for it; problems go to the banner, progress to the log."""
    if not window.engine.status.busy:
        ready_session(window)
    engine = window.engine
    specs = ready_set(builtin_names(engine.catalog))
    window.welcome.button.setEnabled(False)

    def register_all() -> list[str]:
        problems = []
        for spec in specs:
            try:
                engine.register(spec)
            except VelocitasError as exc:
                problems.append(f"{spec.id}: {exc}")
        return problems

    def done(problems: list[str]) -> None:
        window.welcome.button.setEnabled(True)
        window.log_panel.add("info", f"added the ready set: {len(specs) - len(problems)} "
                                     f"strategies on {DEFAULT_TIMEFRAME} bars")
        if problems:
            window.show_error("Some strategies of the ready set were not added: "
                              + "; ".join(problems) + ".")
        window.refresh_strategies()

    def failed(exc: BaseException) -> None:
        window.welcome.button.setEnabled(True)
        window.show_error(f"The ready set could not be added: {exc}.")

    run_in_background(register_all, done, failed)


class WelcomePanel(QFrame):
    """Says why nothing trades yet and offers the ready set; hidden once a strategy exists."""

    ready_set_requested = Signal()

    def __init__(self, strategy_names: Iterable[str]) -> None:
        super().__init__()
        self.setObjectName("welcome")
        names = list(strategy_names)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        text = QVBoxLayout()
        title = QLabel("Welcome to Velocitas: no strategies yet, so nothing trades")
        title.setObjectName("welcomeTitle")
        self.message = QLabel(
            f"Start with a ready set: the {len(names)} built-in strategies "
            f"({', '.join(names)}) on {' and '.join(READY_COINS)}, each deciding on "
            f"one-minute bars, on the simulated market at full speed (paper trading, no "
            f"account). Then press ▶ Start. To pick your own, use Add… in the Strategies "
            f"panel; <code>velocitas gui --demo</code> opens the window with this set "
            f"already running.")
        self.message.setObjectName("welcomeText")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        text.addWidget(title)
        text.addWidget(self.message)
        layout.addLayout(text, 1)
        self.button = QPushButton(f"Add one of each built-in on {' and '.join(READY_COINS)} "
                                  f"({DEFAULT_TIMEFRAME} bars)")
        self.button.setObjectName("readySetButton")
        self.button.clicked.connect(self.ready_set_requested)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignVCenter)
