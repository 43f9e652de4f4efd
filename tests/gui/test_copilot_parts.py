"""The Copilot tab's parts without an engine: the rule form built from every declared
condition type writes rules the copilot accepts, and a burst of alerts makes one toast."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from velocitas_desktop.copilot.rules import Rule, describe_conditions


def fill_required(dialog) -> None:  # type: ignore[no-untyped-def]
    """Type a value in each empty number field: the first of each one-of group and every
    required one, rising so that pairs such as a channel's low and high stay in order."""
    condition = dialog.conditions[dialog.type_box.currentData()]
    skip = {name for group in condition.get("one_of") or [] for name in group[1:]}
    for i, param in enumerate(condition["params"]):
        editor = dialog.editors[param["name"]]
        if param["name"] in skip or not hasattr(editor, "value") or editor.text():
            continue
        value = (param["low"] or 0) + 1 + i
        editor.setText(str(min(value, param["high"]) if param["high"] else value))


@pytest.mark.parametrize("kind", [c["type"] for c in describe_conditions()])
def test_every_condition_type_gets_a_form_that_writes_a_rule_the_copilot_accepts(qtbot, kind):
    from velocitas_desktop.gui.copilot.rule_dialog import RuleDialog

    dialog = RuleDialog(None, describe_conditions(), ["BTC"], ["BTC_SMA"])  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.type_box.setCurrentIndex(dialog.type_box.findData(kind))
    declared = next(c for c in describe_conditions() if c["type"] == kind)
    assert set(dialog.editors) == {p["name"] for p in declared["params"]}
    # only the scopes the type takes are offered
    offered = [dialog.scope_box.itemData(i) for i in range(dialog.scope_box.count())]
    assert offered == [s for s in ("coin", "strategy", "all") if s in declared["scopes"]]
    if "strategy" in offered:
        dialog.scope_box.setCurrentIndex(offered.index("strategy"))
    dialog.name_edit.setText(f"a {kind} rule")
    fill_required(dialog)
    made = Rule.from_json(dialog.rule())
    assert made.condition.type == kind


def test_a_required_parameter_left_empty_is_named_before_the_engine_is_asked(qtbot):
    from velocitas_desktop.gui.copilot.rule_dialog import RuleDialog
    from velocitas_desktop.gui.fields import FieldError

    dialog = RuleDialog(None, describe_conditions(), ["BTC"], [])  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("price_cross"))
    assert dialog.editors["level"].placeholderText() == "required"
    with pytest.raises(FieldError, match="type the level"):
        dialog.rule()


def test_a_burst_of_alerts_makes_one_toast_that_counts_them(qtbot):
    from velocitas_desktop.gui.copilot.notices import MAX_TOASTS, Toasts

    host = QWidget()
    qtbot.addWidget(host)
    host.resize(1200, 800)
    host.show()
    toasts = Toasts(host)
    opened: list[int] = []
    toasts.opened.connect(opened.append)
    one = {"id": 1, "rule_name": "BTC above 70k", "severity": "warning",
           "message": "BTC crossed 70,000 at 70,012.50"}
    toasts.show_alerts([one])
    assert [t.text.text() for t in toasts.visible()] == [one["message"]]
    burst = [{"id": i, "rule_name": f"rule {i % 4}", "severity": "critical" if i == 7
              else "info", "message": f"alert {i}"} for i in range(2, 12)]
    toasts.show_alerts(burst)
    shown = toasts.visible()
    assert len(shown) <= MAX_TOASTS
    assert shown[-1].title.text() == "10 new alerts"
    assert shown[-1].severity == "critical" and "alert 11" in shown[-1].text.text()
    assert all(t.geometry().bottom() < host.height() for t in shown)  # stacked in view
    qtbot.mouseClick(shown[-1], Qt.MouseButton.LeftButton)
    assert opened == [11]
    assert not shown[-1].isVisible()


def test_the_message_may_name_the_conditions_own_placeholders_and_no_other(qtbot):
    from velocitas_desktop.gui.copilot.rule_dialog import RuleDialog

    dialog = RuleDialog(None, describe_conditions(), ["BTC"], [])  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("price_move"))
    assert "{percent}" in dialog.placeholders_hint.text()
    dialog.message_edit.setText("{coin} moved {percent:.1f}% in {window_s:,.0f} s")
    assert not dialog.message_error.isVisible()
    dialog.message_edit.setText("{coin} passed {level}")  # a price_cross's, not a move's
    assert dialog.message_error.isVisible() and "{level}" in dialog.message_error.text()
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("price_cross"))
    assert not dialog.message_error.isVisible()  # checked again for the new type
