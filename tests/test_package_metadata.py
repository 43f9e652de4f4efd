"""The package's metadata: the licence in the form setuptools keeps building (PEP 639),
dependency minimums past the advisories docs/api.md's security section names, and the version
from its one source."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from velocitas_desktop import __version__

ROOT = Path(__file__).resolve().parents[1]


def minimums() -> dict[str, Version]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = {}
    for text in project["dependencies"]:
        requirement = Requirement(text)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                found[requirement.name.lower()] = Version(spec.version)
    return found


def test_the_web_stack_minimums_are_past_the_known_advisories():
    floor = minimums()
    assert floor["python-multipart"] >= Version("0.0.31")  # negative Content-Length (0.0.31)
    assert floor["starlette"] >= Version("1.3.1")          # Host header path confusion (1.0.1)
    assert floor["fastapi"] >= Version("0.133")            # the first to accept starlette 1.x
    assert floor["uvicorn"] >= Version("0.35")             # the websockets-sansio protocol
    assert floor["h11"] >= Version("0.16")                 # request smuggling (0.16.0)


def test_the_version_has_one_source_the_package():
    """pyproject.toml reads it from velocitas_desktop.__version__, which the command line, the
    About dialog and the desktop bundle (no package metadata there) show."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "velocitas_desktop.__version__"}
    assert Version(__version__)  # a valid version


@pytest.mark.slow
def test_the_licence_is_an_spdx_expression_with_its_file_and_no_deprecation(tmp_path):
    built = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c",
         "import setuptools; setuptools.setup()", "-q", "egg_info", "--egg-base", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    assert "license" not in built.stderr.lower()  # setuptools warned of the table form
    info = (tmp_path / "velocitas_desktop.egg-info" / "PKG-INFO").read_text(encoding="utf-8")
    assert "License-Expression: MIT" in info
    assert "License-File: LICENSE" in info
    assert f"Version: {__version__}\n" in info
