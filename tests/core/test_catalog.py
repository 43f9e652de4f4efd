"""Specification of the strategy catalogue: built-ins are found, user folders load file by file,
every broken file is reported with its path and reason without stopping the others, and a
strategy reference re-creates its class in any process."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from velocitas_desktop.catalog import (
    Catalog,
    LoadProblem,
    StrategyRef,
    builtin_strategies_dir,
    load_catalog,
    resolve,
)
from velocitas_desktop.core.errors import ParameterError, UnknownStrategyError
from velocitas_desktop.core.strategy import Strategy, StrategySpec
from velocitas_desktop.core.types import Action

BUILT_INS = {"SMA_Crossover", "Momentum", "RSI", "MACD"}

GOOD = """\
'''A user's breakout strategy.'''
from velocitas_desktop.core.strategy import Param, Strategy


class Breakout(Strategy):
    '''Buy when the price clears the previous one by a margin.'''

    margin = Param(1.0, low=0.0, high=10.0, step=0.5, doc="price units above the last")

    def init(self):
        self.last = None

    def next(self):
        last, self.last = self.last, self.price
        if last is not None and self.price > last + self.margin:
            return self.buy()
        return None
"""

SYNTAX_ERROR = """\
from velocitas_desktop.core.strategy import Strategy

class Broken(Strategy)
    pass
"""

RAISES = """\
from velocitas_desktop.core.strategy import Strategy

raise RuntimeError("exchange key missing")
"""

BAD_PARAM = """\
from velocitas_desktop.core.strategy import Param, Strategy


class Wide(Strategy):
    fast = Param(50, low=2, high=10)

    def next(self):
        return None
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def reasons(catalog: Catalog) -> dict[str, str]:
    return {Path(p.path).name: p.reason for p in catalog.problems}


# --- built-ins -----------------------------------------------------------------------------------

def test_the_four_built_ins_are_found_in_the_shipped_strategies_folder():
    catalog = load_catalog()
    assert set(catalog.names()) >= BUILT_INS
    assert catalog.problems == []
    assert (builtin_strategies_dir() / "sma_crossover.py").is_file()
    info = catalog.info("SMA_Crossover")
    assert info.ref == StrategyRef("SMA_Crossover",
                                   module="velocitas_desktop.builtin_strategies.sma_crossover")
    assert Path(info.source).name == "sma_crossover.py"


def test_the_catalogue_gives_every_schema():
    names = {schema["name"] for schema in load_catalog().schemas()}
    assert names >= BUILT_INS


def test_built_ins_can_be_left_out():
    assert load_catalog(builtin=False).names() == []


def test_an_unknown_strategy_is_refused_with_the_available_names():
    with pytest.raises(UnknownStrategyError) as caught:
        load_catalog().get("Scalper")
    message = str(caught.value)
    assert message.startswith("unknown strategy 'Scalper': available strategies are ")
    for name in BUILT_INS:
        assert name in message
    assert isinstance(caught.value, KeyError)  # and still catchable as a failed lookup
    with pytest.raises(UnknownStrategyError, match="none loaded"):
        Catalog().get("RSI")


# --- user folders ----------------------------------------------------------------------------------

def test_a_good_file_loads_and_each_broken_file_is_reported_with_its_path_and_reason(tmp_path):
    good = write(tmp_path, "breakout.py", GOOD)
    broken = write(tmp_path, "broken.py", SYNTAX_ERROR)
    raises = write(tmp_path, "needs_key.py", RAISES)
    wide = write(tmp_path, "wide.py", BAD_PARAM)

    catalog = load_catalog([tmp_path])

    assert set(catalog.names()) == BUILT_INS | {"Breakout"}
    assert catalog.info("Breakout").source == str(good)
    problems = {p.path: p.reason for p in catalog.problems}
    assert set(problems) == {str(broken), str(raises), str(wide)}
    assert problems[str(broken)].startswith("syntax error on line 3:")
    assert problems[str(raises)] == "RuntimeError: exchange key missing"
    assert problems[str(wide)] == (
        "StrategyDefinitionError: parameter 'fast': default fast must be between 2 and 10 "
        "(got 50)")
    assert all(isinstance(p, LoadProblem) for p in catalog.problems)
    assert str(catalog.problems[0]) == f"{catalog.problems[0].path}: {catalog.problems[0].reason}"


def test_a_user_strategy_trades_like_a_built_in(tmp_path):
    write(tmp_path, "breakout.py", GOOD)
    catalog = load_catalog([tmp_path])
    spec = catalog.validate(StrategySpec("Breakout", "eth", {"margin": "2"}))
    assert (spec.id, spec.coin, dict(spec.params)) == (
        "ETH_Breakout", "ETH", {"margin": 2.0, "quantity": 0.0})
    strategy = catalog.create(spec)
    decisions = [strategy.update(p) for p in [10.0, 11.0, 14.0, 15.0]]
    assert [d.action if d else None for d in decisions] == [None, None, Action.BUY, None]


def test_a_file_that_exits_on_import_is_reported_and_does_not_stop_the_others(tmp_path):
    write(tmp_path, "a_script.py", "import sys\nsys.exit('run me from a terminal')\n")
    write(tmp_path, "breakout.py", GOOD)
    catalog = load_catalog([tmp_path])
    assert "Breakout" in catalog.names()
    assert reasons(catalog) == {"a_script.py": "SystemExit: run me from a terminal"}


def test_a_file_without_a_strategy_is_reported(tmp_path):
    write(tmp_path, "helpers.py", "def average(xs):\n    return sum(xs) / len(xs)\n")
    assert reasons(load_catalog([tmp_path], builtin=False)) == {
        "helpers.py": "defines no Strategy subclass"}


def test_files_starting_with_an_underscore_and_other_files_are_not_read(tmp_path):
    write(tmp_path, "_private.py", RAISES)
    write(tmp_path, "notes.txt", "not python")
    catalog = load_catalog([tmp_path], builtin=False)
    assert (catalog.names(), catalog.problems) == ([], [])


def test_a_file_importing_a_built_in_registers_only_its_own_classes(tmp_path):
    write(tmp_path, "slow_rsi.py", """\
        from velocitas_desktop.builtin_strategies.rsi import RSI
        from velocitas_desktop.core.strategy import Param


        class SlowRSI(RSI):
            name = "Slow RSI"
            period = Param(28, low=2, high=500, step=1)
        """)
    catalog = load_catalog([tmp_path])
    assert catalog.problems == []
    assert set(catalog.names()) == BUILT_INS | {"Slow RSI"}
    assert catalog.get("Slow RSI").defaults()["period"] == 28


def test_a_duplicate_name_is_reported_and_the_first_definition_kept(tmp_path):
    clash = write(tmp_path, "my_sma.py", """\
        from velocitas_desktop.core.strategy import Strategy


        class SMA_Crossover(Strategy):
            def next(self):
                return None
        """)
    other = tmp_path / "other"
    other.mkdir()
    write(other, "breakout.py", GOOD)
    twin = write(tmp_path, "zz_breakout.py", GOOD)
    catalog = load_catalog([other, tmp_path])
    builtin_source = Path(catalog.info("SMA_Crossover").source)
    assert builtin_source.parent == builtin_strategies_dir()
    assert catalog.info("Breakout").source == str(other / "breakout.py")
    problems = {p.path: p.reason for p in catalog.problems}
    assert problems == {
        str(clash): f"strategy 'SMA_Crossover' is already defined in {builtin_source}; ignored",
        str(twin): f"strategy 'Breakout' is already defined in {other / 'breakout.py'}; ignored",
    }


def test_a_missing_folder_is_reported_and_the_others_still_load(tmp_path):
    missing = tmp_path / "nowhere"
    write(tmp_path, "breakout.py", GOOD)
    catalog = load_catalog([missing, tmp_path])
    assert "Breakout" in catalog.names()
    assert catalog.problems == [LoadProblem(str(missing), "strategy folder does not exist")]


# --- validating and creating -------------------------------------------------------------------------

def test_validate_gives_a_spec_with_a_checked_coin_and_full_typed_parameters():
    spec = load_catalog().validate(
        StrategySpec("SMA_Crossover", " btc", {"fast": "5", "slow": 20.0}, "1m"))
    assert spec.to_dict() == {
        "strategy_id": "BTC_SMA_Crossover", "name": "SMA_Crossover", "coin": "BTC",
        "params": {"fast": 5, "slow": 20, "quantity": 0.0}, "timeframe": "1m",
        "allow_short": False}


@pytest.mark.parametrize(("spec", "error", "message"), [
    (StrategySpec("Scalper", "BTC"), UnknownStrategyError, "unknown strategy 'Scalper'"),
    (StrategySpec("RSI", "BTC-USD"), ParameterError, "'BTC-USD' is not a coin symbol"),
    (StrategySpec("SMA_Crossover", "BTC", {"fast": 30, "slow": 10}), ParameterError,
     r"fast \(30\) must be less than slow \(10\)"),
    (StrategySpec("RSI", "BTC", timeframe="7m"), ValueError, "unknown timeframe '7m'"),
])
def test_validate_refuses_a_bad_spec_with_a_clear_message(spec, error, message):
    with pytest.raises(error, match=message):
        load_catalog().validate(spec)


def test_create_builds_the_strategy_bound_to_its_coin_and_timeframe():
    catalog = load_catalog()
    strategy = catalog.create(catalog.validate(StrategySpec("MACD", "ETH", {"fast": 5},
                                                            timeframe="5m")))
    assert (type(strategy).__name__, strategy.coin, strategy.timeframe, strategy.fast) == (
        "MACD", "ETH", "5m", 5)


# --- references ------------------------------------------------------------------------------------------

def test_resolve_gives_back_the_class_of_a_built_in_or_a_user_file(tmp_path):
    write(tmp_path, "breakout.py", GOOD)
    catalog = load_catalog([tmp_path])
    for name in ("RSI", "Breakout"):
        assert resolve(catalog.info(name).ref) is catalog.get(name)
    ref = catalog.info("Breakout").ref
    assert (ref.class_name, ref.module, ref.path) == ("Breakout", "", str(tmp_path / "breakout.py"))


@pytest.mark.slow
def test_a_file_ref_recreates_the_class_in_a_fresh_process(tmp_path):
    write(tmp_path, "breakout.py", GOOD)
    ref = load_catalog([tmp_path], builtin=False).info("Breakout").ref
    script = textwrap.dedent(f"""
        import json, sys
        from velocitas_desktop.catalog import StrategyRef, resolve
        cls = resolve(StrategyRef({ref.class_name!r}, module={ref.module!r}, path={ref.path!r}))
        strategy = cls(coin="BTC", margin=0.5)
        signals = [strategy.update(p) for p in (1.0, 2.0)]
        print(json.dumps({{"schema": cls.schema(),
                          "signals": [s.action.value if s else None for s in signals]}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["schema"]["name"] == "Breakout"
    assert result["schema"]["params"][0]["name"] == "margin"
    assert result["signals"] == [None, "BUY"]


def test_every_catalogue_class_is_a_strategy():
    catalog = load_catalog()
    assert all(issubclass(catalog.get(name), Strategy) for name in catalog.names())
