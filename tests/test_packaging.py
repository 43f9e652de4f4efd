"""What the wheel ships: the application, and no test double or placeholder package."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAKES = ROOT / "tests" / "fakes"
TEST_ONLY_PACKAGES = {"tests", "fakes", "testing"}


def build_the_wheel_contents(folder: Path) -> Path:
    """Run setuptools' ``build_py`` step, which gathers exactly the files a wheel holds, into
    ``folder``; returns the folder that is the wheel's root. The repository is not written."""
    built = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
         "egg_info", "--egg-base", str(folder), "build_py", "--build-lib", str(folder / "lib")],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    return folder / "lib"


def imported_tops(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    tops = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
            for alias in node.names}
    return tops | {(node.module or "").split(".")[0] for node in ast.walk(tree)
                   if isinstance(node, ast.ImportFrom) and node.level == 0}


@pytest.fixture(scope="module")
def wheel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_the_wheel_contents(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def shipped(wheel_root: Path) -> list[Path]:
    """The wheel's files, relative to its root."""
    return sorted(path.relative_to(wheel_root) for path in wheel_root.rglob("*") if path.is_file())


@pytest.mark.slow
def test_the_wheel_ships_the_app_its_strategies_and_its_sample_data(shipped):
    assert Path("velocitas_desktop/cli/__init__.py") in shipped
    assert Path("velocitas_desktop/feeds/binance.py") in shipped
    assert Path("velocitas_desktop/builtin_strategies/sma_crossover.py") in shipped
    assert Path("velocitas_desktop/resources/data/BTCUSD-1h-sample.csv") in shipped


@pytest.mark.slow
def test_the_wheel_ships_every_module_of_the_package(shipped):
    source = sorted(path.relative_to(ROOT) for path in (ROOT / "velocitas_desktop").rglob("*.py")
                    if "__pycache__" not in path.parts)
    missing = [str(path) for path in source if path not in shipped]
    assert missing == []


@pytest.mark.slow
def test_the_wheel_ships_no_test_double(shipped):
    double_names = {path.name for path in FAKES.glob("*.py")} - {"__init__.py"}
    assert "fake_exchange.py" in double_names  # the check knows what it keeps out
    doubles = [str(path) for path in shipped
               if path.name in double_names or path.name.startswith(("fake", "test_"))
               or TEST_ONLY_PACKAGES & set(path.parts)]
    assert doubles == []


@pytest.mark.slow
def test_no_module_in_the_wheel_imports_a_test_double(wheel_root, shipped):
    importers = [str(path) for path in shipped if path.suffix == ".py"
                 and imported_tops(wheel_root / path) & TEST_ONLY_PACKAGES]
    assert importers == []


@pytest.mark.slow
def test_no_package_in_the_wheel_is_an_empty_placeholder(shipped):
    packages = {path.parent for path in shipped if path.name == "__init__.py"}
    empty = [str(package) for package in packages
             if [path for path in shipped if package in path.parents] == [package / "__init__.py"]]
    assert empty == []
