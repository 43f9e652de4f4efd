"""Specification of the sample data that ships with Velocitas: named ``sample:BTCUSD-1h``
wherever a bar file goes, listed by ``velocitas samples``, and usable from any folder once the
package is installed, as the README's examples use it."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from velocitas_desktop.cli import main
from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.engine.request import parse_csv_files
from velocitas_desktop.paths import resolve_sample, sample_data_dir, samples

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sample_data_dir() / "BTCUSD-1h-sample.csv"


def test_a_sample_is_named_by_its_file_without_the_sample_suffix():
    assert samples() == {"BTCUSD-1h": SHIPPED}


@pytest.mark.parametrize("text", ["sample:BTCUSD-1h", "sample:btcusd-1h", " sample:BTCUSD-1h ",
                                  "sample:BTCUSD-1h-sample.csv", "SAMPLE:BTCUSD-1h-sample"])
def test_a_sample_name_resolves_to_the_shipped_file(text):
    assert resolve_sample(text) == str(SHIPPED)


def test_other_paths_are_left_as_they_are():
    assert resolve_sample("btc-1m.csv") == "btc-1m.csv"
    assert resolve_sample("/data/sample:odd.csv") == "/data/sample:odd.csv"


def test_an_unknown_sample_names_the_ones_there_are():
    with pytest.raises(ValueError) as unknown:
        resolve_sample("sample:ETHUSD-1d")
    assert str(unknown.value) == ("no sample data named 'sample:ETHUSD-1d'; the samples are: "
                                  "sample:BTCUSD-1h (velocitas samples lists them with their "
                                  "paths)")


def test_csv_files_given_as_samples_get_their_coin_from_the_file():
    assert parse_csv_files(["sample:BTCUSD-1h"]) == {"BTC": str(SHIPPED)}
    assert parse_csv_files(["XBT=sample:BTCUSD-1h"]) == {"XBT": str(SHIPPED)}
    with pytest.raises(ParameterError, match=r"^csv_files: no sample data named 'sample:x'"):
        parse_csv_files(["BTC=sample:x"])


def test_velocitas_samples_lists_names_and_paths(capsys):
    assert main(["samples"]) == 0
    assert capsys.readouterr().out == f"sample:BTCUSD-1h  {SHIPPED}\n"
    assert main(["samples", "BTCUSD-1h"]) == 0
    assert capsys.readouterr().out == f"{SHIPPED}\n"
    assert main(["samples", "nope"]) == 2
    assert "no sample data named 'sample:nope'" in capsys.readouterr().err


def test_backtest_reads_a_sample_and_refuses_an_unknown_one(capsys):
    assert main(["backtest", "--csv", "sample:BTCUSD-1h", "--strategy", "RSI", "--json"]) == 0
    assert '"bars": 5000' in capsys.readouterr().out
    assert main(["backtest", "--csv", "sample:nope", "--strategy", "RSI"]) == 2
    assert capsys.readouterr().err.startswith("velocitas backtest: --csv: no sample data named")


# --------------------------------------------------------------------------- the README

def readme_commands(word: str) -> list[list[str]]:
    """The README's example command lines that contain ``word``, continuation lines joined
    and comments dropped."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("velocitas ") and word in line:
                commands.append(shlex.split(line)[1:])
    return commands


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files a wheel of this checkout installs (setuptools' build step, as pip runs it)."""
    from test_packaging import build_the_wheel_contents

    return build_the_wheel_contents(tmp_path_factory.mktemp("wheel"))


def installed_velocitas(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, "-m", "velocitas_desktop", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_readme_shows_examples_with_samples():
    assert len(readme_commands("sample:")) >= 3


@pytest.mark.slow
def test_the_installed_package_finds_its_own_sample(installed, cwd):
    done = installed_velocitas(installed, cwd, "samples", "BTCUSD-1h")
    assert done.returncode == 0, done.stderr
    path = Path(done.stdout.strip())
    assert path.is_file() and installed in path.parents  # the installed copy, not the checkout


def copilot_rules_example() -> str:
    """The rules file docs/copilot.md shows, which the README's ``--rules rules.json`` means."""
    text = (REPO / "docs" / "copilot.md").read_text(encoding="utf-8")
    found = re.search(r"```json\n(\{\"rules\": \[.*?)```", text, re.S)
    assert found, "docs/copilot.md shows a rules file"
    return found.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("command", readme_commands("sample:"), ids=lambda c: " ".join(c[:3]))
def test_the_readme_sample_examples_run_from_any_folder(installed, cwd, command):
    given = []
    if "rules.json" in command:  # the trader's own file: the one the copilot's docs show
        (cwd / "rules.json").write_text(copilot_rules_example(), encoding="utf-8")
        given.append(cwd / "rules.json")
    done = installed_velocitas(installed, cwd, *command)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(cwd.iterdir()) == given  # nothing written where the command ran
