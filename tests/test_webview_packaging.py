"""The built browser view ships in the wheel when it was built, and a checkout without it (no
Node) still builds and installs: the package's files are gathered from a copy of the source
tree, once without ``webview/dist`` and once with one, as ``npm run build`` leaves it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "velocitas_desktop", "strategies",
           "resources")
BUILT = ("index.html", "assets/index-abc123.js", "assets/index-def456.css",
         "assets/fonts/nested.woff2")

pytestmark = pytest.mark.slow  # runs setuptools twice in a subprocess


def source_copy(folder: Path) -> Path:
    """The files a ``pip install .`` reads, without any build of the view or bytecode."""
    tree = folder / "src"
    tree.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "dist", "*.egg-info")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, tree / name, ignore=skip)
        else:
            shutil.copy2(origin, tree / name)
    return tree


def wheel_files(tree: Path) -> set[str]:
    """What setuptools' ``build_py`` gathers for the wheel, relative to the wheel's root."""
    out = tree / "build-lib"
    built = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
         "egg_info", "--egg-base", str(tree.parent), "build_py", "--build-lib", str(out)],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    return {path.relative_to(out).as_posix() for path in out.rglob("*") if path.is_file()}


def test_without_a_build_the_package_still_builds_with_its_fallback_page(tmp_path):
    tree = source_copy(tmp_path)
    shipped = wheel_files(tree)
    assert "velocitas_desktop/webview/__init__.py" in shipped
    assert "velocitas_desktop/server/pages.py" in shipped
    assert not [name for name in shipped if "/webview/dist/" in name]


def test_a_built_view_ships_whole_in_the_wheel(tmp_path):
    tree = source_copy(tmp_path)
    dist = tree / "velocitas_desktop" / "webview" / "dist"
    for name in BUILT:
        (dist / name).parent.mkdir(parents=True, exist_ok=True)
        (dist / name).write_text("built\n")
    shipped = wheel_files(tree)
    missing = [name for name in BUILT if f"velocitas_desktop/webview/dist/{name}" not in shipped]
    assert missing == []
