"""Test on history in the Copilot tab: the sample replayed through a rules file and a
strategy, off the Qt thread with progress; the firings and the action's effect listed."""

from __future__ import annotations

import json
from pathlib import Path

from gui_helpers import WAIT_MS, click, retype

from velocitas_desktop.copilot.tester import test_rules as replay_rules
from velocitas_desktop.paths import sample_data_dir

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"


def rules_file(path: Path) -> Path:
    rules = [{"id": "dd-guard", "name": "SMA drawdown guard",
              "condition": {"type": "drawdown", "params": {"percent": 3}},
              "scope": {"kind": "all", "value": None}, "frequency": {"mode": "once"},
              "severity": "critical", "message": "",
              "action": {"type": "pause_strategy", "params": {}, "auto": True}},
             {"id": "rsi-low", "name": "RSI under 25",
              "condition": {"type": "rsi", "params": {"timeframe": "1h", "period": 14,
                                                      "below": 25}},
              "scope": {"kind": "coin", "value": "BTC"},
              "frequency": {"mode": "every_time", "cooldown_s": 86_400},
              "severity": "info", "message": "RSI {value:.1f} at {price:,.0f}"}]
    path.write_text(json.dumps({"rules": rules}))
    return path


def test_a_rules_file_tested_on_the_sample_lists_the_firings_and_the_kill_switch_effect(
        qtbot, window, tmp_path):
    tab = window.copilot
    window.modes.setCurrentWidget(tab)
    tab.pages.setCurrentWidget(tab.tester)
    panel = tab.tester
    assert panel.bars_edit.text() == str(SAMPLE)
    retype(qtbot, panel.rules_edit, str(rules_file(tmp_path / "rules.json")))
    assert panel.file_radio.isChecked()  # typing a file chooses it
    panel.strategy_box.setCurrentText("SMA_Crossover")
    click(qtbot, panel.run_button)
    assert panel.running and not panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)

    expected = replay_rules(str(SAMPLE), json.loads((tmp_path / "rules.json").read_text())
                            ["rules"], strategy="SMA_Crossover", coin="BTC")
    assert panel.firings_model.rowCount() == len(expected["firings"]) > 0
    assert panel.progress.value() == panel.progress.maximum()
    shown = {panel.firings_model.value(r, "rule_id") for r in range(panel.firings_model.rowCount())}
    assert shown == {f["rule_id"] for f in expected["firings"]}
    assert panel.effects_model.rowCount() == len(expected["effects"])
    assert f"{len(expected['firings']):,} firings" in panel.message.text()


def test_a_missing_bar_file_is_said_in_the_panel(qtbot, window, tmp_path):
    panel = window.copilot.tester
    retype(qtbot, panel.bars_edit, str(tmp_path / "nowhere.csv"))
    click(qtbot, panel.run_button)
    qtbot.waitUntil(lambda: not panel.running, timeout=WAIT_MS)
    assert "The test did not run" in panel.message.text()
    assert "nowhere.csv" in panel.message.text()
