"""Copilot strategy and engine health conditions: scripted engine events, exact triggers."""

from __future__ import annotations

from test_conditions_price import make

from velocitas_desktop.copilot import Evaluator

S1 = {"kind": "strategy", "value": "S1"}
ALL = {"kind": "all"}


def snapshot(now_value=10_000.0, journal="ok", **strategies):
    return {"global": {"account_value": now_value, "journal": {"state": journal,
                                                               "message": "disk full"}},
            "strategies": {sid: {"coin": "BTC", "status": "active", "max_drawdown": 0.0,
                                 "max_drawdown_pct": 0.0, "equity": 0.0, "total_trades": 0,
                                 "last_price": 64000.0, **figures}
                           for sid, figures in strategies.items()}}


def told(triggers):
    return [(t.rule.id, t.time, t.strategy_id, t.message) for t in triggers]


def test_drawdown_fires_when_it_passes_the_percentage_for_each_strategy_in_scope():
    one = make("drawdown", {"percent": 10}, rule_id="one", scope=S1)
    every = make("drawdown", {"amount": 500}, rule_id="every", scope=ALL,
                 frequency={"mode": "once"})
    evaluator = Evaluator([one, every])
    assert evaluator.on_metrics(snapshot(S1={"max_drawdown_pct": 9.9}), 1.0) == []
    first = evaluator.on_metrics(snapshot(S1={"max_drawdown_pct": 12.5, "max_drawdown": 400},
                                          S2={"max_drawdown": 600}), 2.0)
    assert told(first) == [("one", 2.0, "S1", "S1's drawdown 12.50% passed 10%"),
                           ("every", 2.0, "S2", "S2's drawdown 600 passed 500")]
    assert (first[0].coin, first[0].price, first[0].value, first[0].threshold) == (
        "BTC", 64000.0, 12.5, 10.0)
    # still above: said once; the once rule is finished
    assert evaluator.on_metrics(snapshot(S1={"max_drawdown_pct": 13, "max_drawdown": 700}),
                                3.0) == []


def test_losing_streak_counts_losses_in_a_row_from_the_trades():
    rule = make("losing_streak", {"count": 3}, scope=S1)
    evaluator = Evaluator([rule])

    def trades(*pnls):
        return [{"strategy_id": "S1", "coin": "BTC", "price": 100.0, "profit_loss": p}
                for p in pnls]

    assert evaluator.on_event("trades", trades(0.0, -5.0, -1.0, 0.0, 4.0), 1.0) == []
    assert evaluator.on_event("trades", trades(-1.0, -2.0), 2.0) == []
    streak = evaluator.on_event("trades", trades(0.0, -3.0, -1.0), 3.0)
    assert told(streak) == [("r", 3.0, "S1", "S1 lost 3 trades in a row")]
    assert evaluator.on_event("trades", [{"strategy_id": "S2", "profit_loss": -1.0}] * 5,
                              4.0) == []


def test_pnl_target_fires_when_the_equity_reaches_it():
    evaluator = Evaluator([make("pnl_target", {"amount": 250}, scope=S1)])
    assert evaluator.on_metrics(snapshot(S1={"equity": 249.0}), 1.0) == []
    assert told(evaluator.on_metrics(snapshot(S1={"equity": 251.5}), 2.0)) == [
        ("r", 2.0, "S1", "S1 reached its P&L target 250: 251.50")]


def test_no_trade_counts_the_silence_of_an_active_strategy():
    evaluator = Evaluator([make("no_trade", {"seconds": 600}, scope=S1)])
    evaluator.on_metrics(snapshot(S1={"total_trades": 4}), 1000.0)
    assert evaluator.on_clock(1599.0) == []
    assert told(evaluator.on_clock(1600.0)) == [
        ("r", 1600.0, "S1", "S1 has made no trade for 600 s")]
    assert evaluator.on_clock(1900.0) == []  # said once per silence
    evaluator.on_metrics(snapshot(S1={"total_trades": 5}), 2000.0)  # a trade: a new silence
    evaluator.on_metrics(snapshot(S1={"total_trades": 5, "status": "paused"}), 2100.0)
    assert evaluator.on_clock(3000.0) == []  # paused: no count
    evaluator.on_metrics(snapshot(S1={"total_trades": 5}), 3000.0)
    assert [t.time for t in evaluator.on_clock(3600.0)] == [3600.0]


def test_strategy_error_fires_when_a_strategy_enters_its_error_state():
    evaluator = Evaluator([make("strategy_error", {}, scope=ALL)])
    evaluator.on_metrics(snapshot(S1={}), 1.0)
    failed = evaluator.on_event("strategy", {"strategy_id": "S1", "status": "error",
                                             "error": "ValueError: bad bar"}, 2.0)
    assert told(failed) == [("r", 2.0, "S1", "S1 stopped on an error: ValueError: bad bar")]
    assert failed[0].coin == "BTC"
    # the metrics that follow show the same error: not a second alert
    assert evaluator.on_metrics(snapshot(S1={"status": "error"}), 3.0) == []


def test_feed_stalled_counts_from_the_last_price_while_the_feed_is_open():
    evaluator = Evaluator([make("feed_stalled", {"seconds": 30}, scope=ALL)])
    evaluator.on_event("feed", {"state": "live", "message": ""}, 100.0)
    assert evaluator.on_clock(129.0) == []
    assert [(t.time, t.value, t.message) for t in evaluator.on_clock(130.0)] == [
        (130.0, 30.0, "no price for 30 s: the feed is live")]
    assert evaluator.on_clock(150.0) == []
    evaluator.on_prices("BTC", [1.0], [150.0], 150.0)
    assert [t.time for t in evaluator.on_clock(181.0)] == [181.0]
    evaluator.on_event("feed", {"state": "finished", "message": ""}, 190.0)
    assert evaluator.on_clock(500.0) == []  # a finished replay is no stalled feed


def test_feed_reconnecting_journal_paused_and_worker_died():
    rules = [make("feed_reconnecting", {}, rule_id="feed", scope=ALL),
             make("journal_paused", {}, rule_id="journal", scope=ALL),
             make("worker_died", {}, rule_id="worker", scope=ALL)]
    evaluator = Evaluator(rules)
    reconnecting = {"state": "reconnecting", "message": "connection reset"}
    assert told(evaluator.on_event("feed", reconnecting, 1.0)) == [
        ("feed", 1.0, None, "the feed is reconnecting: connection reset")]
    assert evaluator.on_event("feed", reconnecting, 2.0) == []
    paused = {"status": "paused", "message": "the journal's disk is nearly full"}
    assert told(evaluator.on_event("engine", paused, 3.0)) == [
        ("journal", 3.0, None, "trading paused: the journal's disk is nearly full")]
    assert evaluator.on_metrics(snapshot(journal="paused"), 4.0) == []  # the same pause
    log = {"level": "warning", "time": 5.0, "message": "worker 1 (pid 4242) exited with code "
           "-9; a new worker took over S1, re-created from their specs"}
    assert told(evaluator.on_event("log", log, 5.0)) == [("worker", 5.0, None, log["message"])]
    assert evaluator.on_event("log", {"level": "info", "message": "started"}, 6.0) == []


def test_daily_loss_measures_from_the_days_opening_value():
    rule = make("daily_loss", {"percent": 5}, scope=ALL,
                action={"type": "pause_all", "params": {}, "auto": True})
    evaluator = Evaluator([rule])
    day = 86_400.0
    assert evaluator.on_metrics(snapshot(10_000.0), day + 1) == []
    assert evaluator.on_metrics(snapshot(9_600.0), day + 2) == []
    hit = evaluator.on_metrics(snapshot(9_480.0), day + 3)
    assert [(t.time, t.value, t.message) for t in hit] == [
        (day + 3, 5.2, "the day's loss 5.20% passed the limit 5%")]
    assert hit[0].rule.action.type == "pause_all"
    # a new day opens at its own value
    assert evaluator.on_metrics(snapshot(9_400.0), 2 * day + 1) == []
    assert len(evaluator.on_metrics(snapshot(8_900.0), 2 * day + 2)) == 1
