"""Specification of ``velocitas copilot``: the rules kept in the journal listed, added from a
file (all of them, or none with one line naming the bad rule and field, exit 2) and exported
as a file ``add`` reads back, all without an engine; and ``test``, which replays a bar file
through rules and lists when each would have fired and what its action would have changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from velocitas_desktop.cli import main
from velocitas_desktop.copilot.rules import Rule
from velocitas_desktop.copilot.tester import test_rules
from velocitas_desktop.paths import sample_data_dir
from velocitas_desktop.research.trend import load_bars
from velocitas_desktop.store.copilot import CopilotStore

BTC_70K = {"id": "btc-70k", "name": "BTC above 70k",
           "condition": {"type": "price_cross", "params": {"level": 70000, "direction": "up"}},
           "scope": {"kind": "coin", "value": "BTC"}, "severity": "critical",
           "message": "{coin} crossed {threshold:,.0f} at {price:,.2f}"}
DD_GUARD = {"id": "dd-guard", "name": "Drawdown guard",
            "condition": {"type": "drawdown", "params": {"percent": 10}},
            "scope": {"kind": "strategy", "value": "BTC_SMA_Crossover"},
            "action": {"type": "pause_strategy", "params": {}, "auto": True}}
# each bad rule, and the words its one line must say (the rule, the field, what to write)
BAD_RULES = {
    "unknown condition": ({**BTC_70K, "condition": {"type": "moon_phase", "params": {}}},
                          "rule 2 of the file: rule 'btc-70k': unknown condition type "
                          "'moon_phase'; choose one of price_cross,"),
    "wrong scope": ({**DD_GUARD, "scope": {"kind": "coin", "value": "BTC"}},
                    "rule 2 of the file: rule 'dd-guard': a drawdown condition cannot be "
                    "scoped to a coin; its scope must be strategy or all"),
    "malformed template": ({**BTC_70K, "message": "{coin crossed"},
                           "rule 2 of the file: rule 'btc-70k': the message has a '{' that "
                           "is not closed: close the placeholder, or write '{{' for a brace"),
    "out-of-range threshold": ({**BTC_70K, "condition": {"type": "rsi", "params": {
        "timeframe": "1h", "above": 150}}},
        "rule 2 of the file: rule 'btc-70k': rsi above must be between 0 and 100 (got 150)"),
}


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["copilot", *args])
    out, err = capsys.readouterr()
    return code, out, err


def write_rules(path: Path, *rules: dict) -> Path:
    path.write_text(json.dumps({"rules": list(rules)}), encoding="utf-8")
    return path


def saved(db: Path) -> list[dict]:
    store = CopilotStore(db)
    try:
        return store.rules()
    finally:
        store.close()


def test_added_rules_are_listed_and_exported_as_a_file_that_adds_back_the_same(
        capsys, tmp_path) -> None:
    db = tmp_path / "journal.sqlite3"
    code, out, err = run(capsys, "add", str(write_rules(tmp_path / "r.json", BTC_70K,
                                                         DD_GUARD)), "--db", str(db))
    assert code == 0, err
    assert out.startswith(f"added 2 rules (btc-70k, dd-guard) in {db}")
    rules = saved(db)
    assert [r["id"] for r in rules] == ["btc-70k", "dd-guard"]
    assert rules[0] == {**Rule.from_json(BTC_70K).to_json(), "created": rules[0]["created"]}
    assert rules[0]["created"] > 0

    code, out, _ = run(capsys, "list", "--db", str(db), "--json")
    assert code == 0 and json.loads(out) == rules
    code, out, _ = run(capsys, "list", "--db", str(db))
    assert code == 0 and out.startswith("2 copilot rules\n") and f"journal {db}\n" in out
    for words in ("btc-70k", "price_cross(level=70000, direction=up)", "coin BTC",
                  "dd-guard", "drawdown(percent=10)", "strategy BTC_SMA_Crossover",
                  "pause_strategy auto", "critical"):
        assert words in out, words

    code, exported, _ = run(capsys, "export", "--db", str(db))
    assert code == 0 and json.loads(exported) == {"rules": rules}
    other = tmp_path / "other.sqlite3"
    (tmp_path / "exported.json").write_text(exported, encoding="utf-8")
    assert run(capsys, "add", str(tmp_path / "exported.json"), "--db", str(other))[0] == 0
    assert saved(other) == rules


def test_a_rule_added_again_replaces_the_old_one_and_keeps_its_history(capsys,
                                                                        tmp_path) -> None:
    db = tmp_path / "journal.sqlite3"
    run(capsys, "add", str(write_rules(tmp_path / "r.json", BTC_70K)), "--db", str(db))
    store = CopilotStore(db)
    first = store.rules()[0]
    store.save_rules([{**first, "fired": 3, "last_fired": 1_765_000_000.0}])
    store.close()
    changed = {**BTC_70K, "severity": "info"}
    code, out, _ = run(capsys, "add", str(write_rules(tmp_path / "r2.json", changed, DD_GUARD)),
                       "--db", str(db))
    assert code == 0
    assert out.startswith("added 1 rule (dd-guard); replaced 1 (btc-70k)")
    rule = saved(db)[0]
    assert rule["severity"] == "info"
    assert (rule["fired"], rule["last_fired"], rule["created"]) == (
        3, 1_765_000_000.0, first["created"])


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_a_file_with_one_bad_rule_saves_none_and_says_which_rule_and_field(
        capsys, tmp_path, case) -> None:
    db = tmp_path / "journal.sqlite3"
    bad, words = BAD_RULES[case]
    good = DD_GUARD if bad["id"] == "btc-70k" else BTC_70K
    path = write_rules(tmp_path / "rules.json", good, bad)
    code, out, err = run(capsys, "add", str(path), "--db", str(db))
    assert code == 2 and out == ""
    assert err.startswith(f"velocitas copilot: {path}: {words}")
    assert err.rstrip().endswith("; nothing was saved") and err.count("\n") == 1
    assert saved(db) == []  # the good rule before it was not saved either


def test_the_built_in_guard_of_an_exported_file_is_left_to_the_settings(capsys,
                                                                       tmp_path) -> None:
    guard = {**DD_GUARD, "id": "daily-loss-guard"}
    path = write_rules(tmp_path / "rules.json", BTC_70K, guard)
    code, out, err = run(capsys, "add", str(path), "--db", str(tmp_path / "j.sqlite3"))
    assert code == 0 and out.startswith("added 1 rule (btc-70k)")
    assert err == ("velocitas copilot: skipped 'daily-loss-guard': the built-in daily-loss "
                   "guard is set in the copilot settings (daily_loss), not added as a rule\n")
    assert [r["id"] for r in saved(tmp_path / "j.sqlite3")] == ["btc-70k"]


def test_a_missing_or_unreadable_rules_file_is_one_line_and_exit_2(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "add", str(tmp_path / "none.json"), "--db",
                       str(tmp_path / "j.sqlite3"))
    assert code == 2 and err == f"velocitas copilot: {tmp_path / 'none.json'}: no such rules " \
                                "file\n"
    (tmp_path / "broken.json").write_text('{"rules": [', encoding="utf-8")
    code, _, err = run(capsys, "add", str(tmp_path / "broken.json"))
    assert code == 2
    assert err.startswith(f"velocitas copilot: {tmp_path / 'broken.json'}: the rules file is "
                          "not JSON: ")


def test_listing_a_journal_that_is_not_there_says_so_and_makes_nothing(capsys, home,
                                                                       tmp_path) -> None:
    code, out, _ = run(capsys, "list")
    assert code == 0 and out.startswith("no copilot rules in ")
    assert run(capsys, "list", "--json")[1] == "[]\n"
    assert json.loads(run(capsys, "export", "--db", str(tmp_path / "j.sqlite3"))[1]) == {
        "rules": []}
    assert not home.exists() and not (tmp_path / "j.sqlite3").exists()


def test_without_db_the_rules_go_to_the_journal_in_the_user_folder(capsys, home,
                                                                   tmp_path) -> None:
    assert run(capsys, "add", str(write_rules(tmp_path / "r.json", BTC_70K)))[0] == 0
    from velocitas_desktop.paths import default_journal_path

    assert [r["id"] for r in saved(default_journal_path())] == ["btc-70k"]
    assert json.loads(run(capsys, "list", "--json")[1])[0]["id"] == "btc-70k"


# --- the history: alerts and actions ----------------------------------------------------------

T0 = 1_765_000_000.0


def journal_with_history(db: Path, alerts: int = 3) -> tuple[list[dict], list[dict]]:
    """A journal whose copilot has raised ``alerts`` alerts (every third critical, with a
    proposed action: the first confirmed in the window, the second rejected from the API)."""
    store = CopilotStore(db)
    try:
        store.save_rules([Rule.from_json(rule).to_json() for rule in (BTC_70K, DD_GUARD)])
        raised = store.add_alerts([
            {"rule_id": "btc-70k", "rule_name": "BTC above 70k", "time": T0 + 60 * i,
             "severity": "critical" if i % 3 == 0 else "info", "coin": "BTC",
             "strategy_id": None, "price": 70_000.0 + i, "value": 70_000.0 + i,
             "threshold": 70_000.0, "message": f"BTC crossed 70,000, at {70_000 + i:,}",
             "acknowledged": i == 1, "action_id": None, "throttled": False}
            for i in range(alerts)])
        actions = []
        for n, alert in enumerate(a for a in raised if a["severity"] == "critical"):
            action = store.add_action({
                "alert_id": alert["id"], "rule_id": "btc-70k", "type": "pause_strategy",
                "params": {"strategy_id": "BTC_SMA_Crossover"}, "reason": alert["message"],
                "status": "pending", "auto": False, "created": alert["time"], "decided": None,
                "decided_by": None, "result": None})
            if n < 2:
                action = {**action, "status": ("executed", "rejected")[n],
                          "decided": alert["time"] + 5, "decided_by": ("window", "api")[n],
                          "result": ("BTC_SMA_Crossover paused", "rejected by api")[n]}
                store.update_action(action)
            actions.append(action)
    finally:
        store.close()
    return raised, actions


def test_the_alerts_are_listed_newest_first_and_filtered_by_severity(capsys, tmp_path) -> None:
    db = tmp_path / "journal.sqlite3"
    raised, _ = journal_with_history(db, alerts=7)
    code, out, err = run(capsys, "alerts", "--db", str(db))
    assert code == 0, err
    assert out.startswith("The newest 7 copilot alerts\n") and f"journal {db}\n" in out
    lines = out.splitlines()
    newest, oldest = (next(i for i, line in enumerate(lines) if f"70,00{k}" in line)
                      for k in (6, 0))
    assert newest < oldest
    assert "2025-12-06 05:46:40" in out  # the first alert's time, in UTC
    code, out, _ = run(capsys, "alerts", "--db", str(db), "--severity", "critical", "--json")
    assert code == 0
    assert [a["id"] for a in json.loads(out)] == [a["id"] for a in reversed(raised)
                                                 if a["severity"] == "critical"]
    code, out, _ = run(capsys, "alerts", "--db", str(db), "--limit", "2", "--json")
    assert [a["id"] for a in json.loads(out)] == [raised[-1]["id"], raised[-2]["id"]]


def test_the_actions_show_who_decided_and_the_result_and_filter_by_status(capsys,
                                                                          tmp_path) -> None:
    db = tmp_path / "journal.sqlite3"
    _, actions = journal_with_history(db, alerts=9)
    code, out, err = run(capsys, "actions", "--db", str(db))
    assert code == 0, err
    assert out.startswith("The newest 3 copilot actions\n")
    for words in ("pause_strategy(strategy_id=BTC_SMA_Crossover)", "executed", "window",
                  "BTC_SMA_Crossover paused", "rejected", "rejected by api", "pending"):
        assert words in out, words
    code, out, _ = run(capsys, "actions", "--db", str(db), "--status", "pending", "--json")
    assert code == 0 and [a["id"] for a in json.loads(out)] == [actions[2]["id"]]


def test_the_whole_history_exports_as_csv_oldest_first_past_one_page(capsys,
                                                                     tmp_path) -> None:
    import csv

    from velocitas_desktop.store.copilot import MAX_LIST

    db = tmp_path / "journal.sqlite3"
    count = MAX_LIST + 2_345  # more than one read of the store returns
    raised, actions = journal_with_history(db, alerts=count)
    target = tmp_path / "alerts.csv"
    code, out, err = run(capsys, "alerts", "--db", str(db), "--csv", str(target))
    assert code == 0, err
    assert out == f"wrote {count:,} alerts to {target}\n"
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == count
    assert [int(r["id"]) for r in rows] == [a["id"] for a in raised]  # oldest first, all
    first = rows[0]
    assert first["time_utc"] == "2025-12-06T05:46:40+00:00"
    assert float(first["price"]) == 70_000.0 and first["message"] == "BTC crossed 70,000, at 70,000"
    assert rows[1]["acknowledged"] == "True" and first["action_id"] == ""

    target = tmp_path / "actions.csv"
    assert run(capsys, "actions", "--db", str(db), "--csv", str(target))[0] == 0
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["id"]) for r in rows] == [a["id"] for a in actions]
    assert json.loads(rows[0]["params"]) == {"strategy_id": "BTC_SMA_Crossover"}
    assert rows[0]["decided_by"] == "window" and rows[0]["decided_utc"].startswith("2025-12-06")
    assert rows[-1]["status"] == "pending" and rows[-1]["decided_utc"] == ""


def test_history_of_an_empty_or_missing_journal_and_bad_options(capsys, tmp_path) -> None:
    missing = tmp_path / "none.sqlite3"
    code, out, _ = run(capsys, "alerts", "--db", str(missing))
    assert code == 0 and out == f"no copilot alerts in {missing}\n"
    assert run(capsys, "actions", "--db", str(missing), "--json")[1] == "[]\n"
    assert not missing.exists()  # reading made nothing
    for args, words in ((("alerts", "--severity", "loud"), "invalid choice: 'loud'"),
                        (("actions", "--status", "done"), "invalid choice: 'done'"),
                        (("alerts", "--limit", "-1"), "must be 0 (every one) or more"),
                        (("alerts", "--limit", "ten"), "expected a whole number")):
        code, _, err = run(capsys, *args, "--db", str(missing))
        assert code == 2 and words in err, (args, err)
    journal_with_history(tmp_path / "j.sqlite3")
    code, _, err = run(capsys, "alerts", "--db", str(tmp_path / "j.sqlite3"), "--csv",
                       str(tmp_path / "no-such-folder" / "a.csv"))
    assert code == 2 and err.startswith("velocitas copilot: --csv: cannot write ")
    assert "Traceback" not in err


# --- test on history -------------------------------------------------------------------------

SAMPLE = sample_data_dir() / "BTCUSD-1h-sample.csv"
BTC_10K = {"id": "btc-10k", "name": "BTC above 10k", "frequency": {"mode": "once"},
           "condition": {"type": "price_cross", "params": {"level": 10000, "direction": "up"}},
           "scope": {"kind": "coin", "value": "BTC"}}
FEED = {"id": "feed", "condition": {"type": "feed_stalled", "params": {"seconds": 10}}}


def test_the_sample_replayed_through_rules_lists_each_firing_with_its_time_and_price(
        capsys, tmp_path) -> None:
    rules = write_rules(tmp_path / "rules.json", BTC_10K, FEED)
    code, out, err = run(capsys, "test", "--csv", "sample:BTCUSD-1h", "--rules", str(rules),
                         "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result == json.loads(json.dumps(test_rules(load_bars(SAMPLE), [BTC_10K, FEED])))
    (firing,) = result["firings"]
    assert firing["rule_id"] == "btc-10k" and firing["price"] > 10_000
    assert result["counts"] == {"btc-10k": 1, "feed": 0}

    code, out, _ = run(capsys, "test", "--csv", "sample:BTCUSD-1h", "--rules", str(rules))
    assert code == 0
    assert out.startswith("Copilot test · BTCUSD-1h-sample.csv · 1 firing (btc-10k 1, feed 0)")
    when = datetime.fromtimestamp(firing["time"], UTC).strftime("%Y-%m-%d %H:%M:%S")
    for words in (when, f"{firing['price']:,.2f}", firing["message"],
                  "feed: not replayed: a bar file has no feed"):
        assert words in out, words


def test_with_a_strategy_the_kill_switch_shows_the_drawdown_it_would_have_saved(
        capsys, tmp_path) -> None:
    rules = write_rules(tmp_path / "rules.json", DD_GUARD)
    args = ("test", "--csv", str(SAMPLE), "--rules", str(rules), "--strategy",
            "SMA_Crossover", "--params", "fast=10,slow=30")
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    (effect,) = json.loads(out)["effects"]
    assert effect["rule_id"] == "dd-guard" and effect["strategy"] == "BTC_SMA_Crossover"
    saved_pct = effect["drawdown_saved_pct"]
    assert saved_pct == pytest.approx(effect["without"]["max_drawdown_pct"]
                                      - effect["with"]["max_drawdown_pct"])
    assert saved_pct > 0
    code, out, _ = run(capsys, *args)
    assert code == 0
    assert "What the actions would have changed on the backtest" in out
    assert f"{saved_pct:+,.2f} pp" in out


@pytest.mark.parametrize(("extra", "words"), [
    (("--strategy", "Nope"), "unknown strategy 'Nope': available strategies are "),
    (("--params", "fast=3"), "--params: give --strategy too: the parameters are a strategy's"),
    (("--strategy", "SMA_Crossover", "--params", "fast=-3"),
     "fast must be between 2 and 500 (got -3)"),
    (("--coin", "BT-C"), "BT-C"),
])
def test_a_bad_strategy_or_parameter_is_one_line_and_exit_2(capsys, tmp_path, extra,
                                                             words) -> None:
    rules = write_rules(tmp_path / "rules.json", BTC_10K)
    code, out, err = run(capsys, "test", "--csv", "sample:BTCUSD-1h", "--rules", str(rules),
                         *extra)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("velocitas copilot: ") and words in err


@pytest.mark.parametrize("case", list(BAD_RULES))
def test_a_bad_rule_to_test_is_named_before_anything_is_replayed(capsys, tmp_path,
                                                                 case) -> None:
    bad, words = BAD_RULES[case]
    path = write_rules(tmp_path / "rules.json", FEED, bad)
    code, out, err = run(capsys, "test", "--csv", "sample:BTCUSD-1h", "--rules", str(path))
    assert code == 2 and out == ""
    assert err.startswith(f"velocitas copilot: {path}: {words}")


def test_a_rule_on_bars_finer_than_the_files_says_what_to_choose(capsys, tmp_path) -> None:
    rsi = {"id": "rsi-5m", "condition": {"type": "rsi", "params": {
        "timeframe": "5m", "below": 30}}, "scope": {"kind": "coin", "value": "BTC"}}
    path = write_rules(tmp_path / "rules.json", rsi)
    code, _, err = run(capsys, "test", "--csv", "sample:BTCUSD-1h", "--rules", str(path))
    assert code == 2
    assert err == (f"velocitas copilot: {path}: rule 'rsi-5m': its rsi reads 5m bars, finer "
                   "than the file's 1h bars; choose 1h or longer, or a finer file\n")


def test_copilot_test_backtests_a_strategy_from_the_traders_own_folder(capsys, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "steady.py").write_text(
        "from velocitas_desktop.core.indicators import SMA\n"
        "from velocitas_desktop.core.rules import Rule, crossed_above, crossed_below\n"
        "from velocitas_desktop.core.strategy import Param, Strategy\n\n\n"
        "class Steady(Strategy):\n"
        '    """A trader\'s own crossover."""\n\n'
        "    fast = Param(12, low=2, high=50)\n"
        "    slow = Param(48, low=5, high=200)\n\n"
        "    def init(self):\n"
        "        self.fast_ma = self.indicator(SMA, self.fast)\n"
        "        self.slow_ma = self.indicator(SMA, self.slow)\n\n"
        "    def rule(self):\n"
        "        return Rule(buy=crossed_above(self.fast_ma, self.slow_ma),\n"
        "                    sell=crossed_below(self.fast_ma, self.slow_ma))\n",
        encoding="utf-8")
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": [{
        "id": "dd", "name": "drawdown 5%", "scope": {"kind": "all", "value": None},
        "condition": {"type": "drawdown", "params": {"percent": 5}},
        "message": "{strategy} drew down", "action": {"type": "pause_strategy", "params": {},
                                                       "auto": True}}]}), encoding="utf-8")
    code = main(["copilot", "test", "--csv", "sample:BTCUSD-1h", "--rules", str(rules),
                 "--strategy", "Steady", "--strategy-folder", str(folder), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["strategy"] == "BTC_Steady"  # the id the backtest gives it, as live
    assert [effect["rule_id"] for effect in result["effects"]] == ["dd"]
