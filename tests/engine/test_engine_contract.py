"""The engine contract: both engines satisfy it, the hosted one forwards it generically, and
the views depend on it alone."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from velocitas_desktop.core.strategy import StrategySpec
from velocitas_desktop.engine.contract import (
    CALL_TIMEOUT,
    EngineStatus,
    StrategyStatus,
    TradingEngine,
    call_timeout,
    contract_calls,
)
from velocitas_desktop.engine.engine import Engine
from velocitas_desktop.engine.errors import EngineError
from velocitas_desktop.engine.host import HostedEngine, _Host

PACKAGE = Path(__file__).resolve().parents[2] / "velocitas_desktop"
STATE = ("catalog", "status", "status_message", "session_id")


def _parameters(call) -> list[tuple[str, object]]:
    """(name, default) of each parameter after ``self``; variadics by their kind."""
    found = []
    for param in list(inspect.signature(call).parameters.values())[1:]:
        if param.kind is param.VAR_POSITIONAL:
            found.append(("*", None))
        elif param.kind is param.VAR_KEYWORD:
            found.append(("**", None))
        else:
            found.append((param.name, param.default))
    return found


@pytest.mark.parametrize("engine_class", [Engine, HostedEngine], ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", contract_calls())
def test_each_engine_answers_every_call_of_the_contract_as_it_is_declared(engine_class, name):
    declared = _parameters(getattr(TradingEngine, name))
    implemented = _parameters(getattr(engine_class, name))
    # an engine may take more (Engine.start accepts a ready-made feed), never less or other
    assert implemented[:len(declared)] == declared
    extra = implemented[len(declared):]
    assert all(default is not inspect.Parameter.empty for _, default in extra), extra


def test_the_contract_names_the_calls_and_state_the_views_use():
    calls = set(contract_calls())
    assert {"register", "unregister", "pause", "resume", "update_params", "strategies",
            "strategy", "start", "stop", "wait", "state", "snapshot", "metrics", "trades",
            "pnl_history", "subscribe", "reload_catalog", "attach", "close"} <= calls
    assert not calls & set(STATE)


def test_only_a_slow_call_says_how_long_it_may_take():
    assert call_timeout("start") == 600.0  # large files are read before a session starts
    assert call_timeout("register") == CALL_TIMEOUT


def test_the_hosted_engine_writes_out_only_what_needs_more_than_forwarding():
    written = {name for name in contract_calls() if "forward" not in
               getattr(HostedEngine, name).__code__.co_name}
    assert written == {"subscribe", "start", "wait", "reload_catalog", "attach", "close"}


def test_a_forwarded_call_carries_the_contracts_signature_and_documentation():
    assert inspect.signature(HostedEngine.trades) == inspect.signature(TradingEngine.trades)
    assert HostedEngine.update_params.__doc__ == TradingEngine.update_params.__doc__


def test_the_host_runs_contract_calls_and_its_own_operations_only(tmp_path):
    engine = Engine(restore=False)
    try:
        host = _Host(None, engine)  # type: ignore[arg-type]
        assert host._method("state")()["status"] == EngineStatus.STOPPED
        assert host._method("ping")() == "pong"
        with pytest.raises(EngineError, match="no call named '_shutdown'"):
            host._method("_shutdown")
        with pytest.raises(EngineError, match="no call named 'journal'"):
            host._method("journal")
    finally:
        engine.close()


@pytest.mark.slow
def test_the_hosted_engine_answers_as_the_engine_does(tmp_path):
    local = Engine(restore=False)
    hosted = HostedEngine(journal_path=str(tmp_path / "j.sqlite3"), restore=False)
    try:
        for engine in (local, hosted):
            engine.register(StrategySpec("RSI", "BTC", {"period": 10}))
            engine.pause("BTC_RSI")
        assert hosted.strategies() == local.strategies()
        assert hosted.strategy("BTC_RSI")["status"] == StrategyStatus.PAUSED
        local_state, hosted_state = local.state(), hosted.state()
        assert hosted_state.keys() == local_state.keys()
        assert hosted_state["status"] == local_state["status"] == EngineStatus.STOPPED
        assert hosted.status is EngineStatus.STOPPED and not hosted.status.busy
    finally:
        local.close()
        hosted.close()


VIEWS = sorted([*PACKAGE.joinpath("gui").glob("*.py"), *PACKAGE.joinpath("server").glob("*.py")])
CONCRETE = ("velocitas_desktop.engine.engine", "velocitas_desktop.engine.host")
BUILDS_THE_ENGINE = {"app.py"}  # gui/app.py opens the window's engine


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_views_know_the_engine_only_by_its_contract(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    concrete = [node.lineno for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module in CONCRETE]
    if path.name in BUILDS_THE_ENGINE and path.parent.name == "gui":
        concrete = []
    checks = [node.lineno for node in ast.walk(tree)
              if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "isinstance"
              and any(isinstance(arg, ast.Name) and arg.id in ("Engine", "HostedEngine")
                      for arg in ast.walk(node))]
    assert concrete == [] and checks == [], (
        f"{path.name} reaches a concrete engine (lines {concrete + checks}): type it against "
        "engine.contract.TradingEngine")
