"""The layering rules of DESIGN.md and docs/architecture.md, checked on the source: ``core/`` is
pure computation (no Qt, no web framework, no threads, no I/O), the engine-side layers never
import Qt or FastAPI, each part imports only the parts below it, views know the engine by its
contract, and no import cycle exists anywhere in the package."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "velocitas_desktop"
CORE_FILES = sorted((PACKAGE / "core").glob("*.py"))
HEADLESS_DIRS = ("engine", "research", "copilot", "feeds", "store")
HEADLESS_FILES = sorted(
    [path for folder in HEADLESS_DIRS for path in (PACKAGE / folder).rglob("*.py")]
    + list((ROOT / "strategies").glob("*.py")))

GUI_AND_WEB = {"PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "pyqtgraph", "fastapi",
               "fastapi_offline",
               "starlette", "uvicorn"}
# What core must not use: views and servers, threads and processes, networks, storage, and the
# modules through which a program reads or writes files.
NOT_IN_CORE = GUI_AND_WEB | {
    "threading", "_thread", "concurrent", "multiprocessing", "asyncio", "selectors", "signal",
    "socket", "ssl", "http", "urllib", "httpx", "requests", "aiohttp", "websockets",
    "sqlite3", "dbm", "shelve", "pickle",
    "os", "io", "pathlib", "shutil", "tempfile", "glob", "fileinput", "subprocess",
    "logging", "importlib", "platformdirs", "pandas",
}
FILE_CALLS = {"open", "input", "print", "__import__"}
FILE_METHODS = {"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "genfromtxt",
                "fromfile", "tofile", "memmap", "read_csv", "read_parquet", "read_json",
                "to_csv", "to_parquet", "to_json", "read_text", "write_text", "read_bytes",
                "write_bytes"}


def imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, at any depth; relative
    imports are resolved against ``package``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def imported_modules(path: Path) -> list[tuple[int, str]]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    return imports_in(path.read_text(encoding="utf-8"), package)


def top(module: str) -> str:
    return module.split(".")[0]


def label(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_checks_see_the_files_they_guard():
    names = {path.name for path in CORE_FILES}
    assert {"strategy.py", "ledger.py", "metrics.py", "indicators.py", "types.py"} <= names
    assert any(path.parent.name == "engine" for path in HEADLESS_FILES)
    assert any(path.parent.name == "strategies" for path in HEADLESS_FILES)


def test_the_import_reader_finds_nested_and_relative_imports():
    source = ("import os.path\nfrom . import ledger\nfrom ..feeds import csvdata\n"
              "def f():\n    import threading\n    from PySide6 import QtCore\n")
    modules = [module for _, module in imports_in(source, "velocitas_desktop.core")]
    assert modules == ["os.path", "velocitas_desktop.core", "velocitas_desktop.feeds",
                       "threading", "PySide6"]


@pytest.mark.parametrize("path", CORE_FILES, ids=label)
def test_core_imports_no_view_server_thread_network_storage_or_file_module(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if top(module) in NOT_IN_CORE]
    assert bad == [], f"{label(path)} imports what core must not use: {bad}"


@pytest.mark.parametrize("path", CORE_FILES, ids=label)
def test_core_depends_on_nothing_above_it_in_the_package(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if top(module) == "velocitas_desktop"
           and not module.startswith("velocitas_desktop.core")]
    assert bad == [], f"{label(path)} reaches above core: {bad}"


@pytest.mark.parametrize("path", CORE_FILES, ids=label)
def test_core_does_no_file_io(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in FILE_CALLS:
            bad.append(f"line {node.lineno}: {node.func.id}()")
        elif isinstance(node.func, ast.Attribute) and node.func.attr in FILE_METHODS:
            bad.append(f"line {node.lineno}: .{node.func.attr}()")
    assert bad == [], f"{label(path)} reads or writes outside memory: {bad}"


@pytest.mark.parametrize("path", HEADLESS_FILES, ids=label)
def test_engine_side_layers_import_no_qt_and_no_web_framework(path):
    bad = [f"line {line}: {module}" for line, module in imported_modules(path)
           if top(module) in GUI_AND_WEB
           or module.startswith(("velocitas_desktop.gui", "velocitas_desktop.server"))]
    assert bad == [], f"{label(path)} must run headless but imports {bad}"


def loaded_after_importing(modules: list[str]) -> set[str]:
    """Top-level names in sys.modules after importing ``modules`` in a fresh interpreter."""
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def module_name(path: Path) -> str:
    if path.parent == ROOT / "strategies":
        return f"velocitas_desktop.builtin_strategies.{path.stem}"
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.slow
def test_importing_core_pulls_in_no_framework_network_or_storage_module():
    loaded = loaded_after_importing([module_name(path) for path in CORE_FILES])
    pulled = loaded & (GUI_AND_WEB | {"asyncio", "socket", "sqlite3", "httpx", "websockets",
                                      "multiprocessing", "concurrent", "pandas"})
    assert pulled == set()


@pytest.mark.slow
def test_importing_the_engine_side_layers_pulls_in_no_qt_and_no_web_framework():
    loaded = loaded_after_importing([module_name(path) for path in HEADLESS_FILES])
    assert loaded & GUI_AND_WEB == set()


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (any depth, TYPE_CHECKING included: an
    annotation is a dependency too)."""
    files = {module_name(path): path for path in
             [*PACKAGE.rglob("*.py"), *(ROOT / "strategies").glob("*.py")]}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [base])])
                # ``from package import module`` names the module itself
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                           for alias in node.names]
            for target in targets:
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_the_import_reader_sees_a_cycle_when_there_is_one():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_takes_part_in_an_import_cycle():
    graph = import_graph()
    assert "velocitas_desktop.engine.session" in graph["velocitas_desktop.engine.engine"]
    assert import_cycles(graph) == []


def test_only_the_command_package_and_the_program_entry_import_the_command_line():
    graph = import_graph()
    outside = sorted(module for module, imported in graph.items()
                     if any(m == "velocitas_desktop.cli" or m.startswith("velocitas_desktop.cli.")
                            for m in imported)
                     and not module.startswith("velocitas_desktop.cli")
                     and module != "velocitas_desktop.__main__")
    assert outside == []


# What each part of the package may import, as docs/architecture.md states it ("." is the
# package's own face, velocitas_desktop/__init__.py, which holds the version).
MAY_IMPORT = {
    "core": set(),
    "builtin_strategies": {"core"},
    "feeds": {"core"},
    "store": {"core"},
    "catalog": {"core"},
    "paths": {"."},
    "tokens": set(),
    "webview": set(),  # the browser view's built files and the page shown without them
    # the engine hosts the copilot's monitor in its own process, as it hosts the live trend
    "engine": {"core", "feeds", "store", "catalog", "paths", "research", "copilot"},
    "research": {"core", "feeds", "catalog", "paths"},
    # of the engine, only its contract and errors (test_the_copilot_acts_through_the_contract)
    "copilot": {".", "core", "research", "store", "feeds", "catalog", "paths", "engine"},
    "server": {".", "core", "engine", "research", "feeds", "store", "catalog", "paths", "tokens",
               "webview", "copilot"},
    "gui": {".", "core", "engine", "research", "feeds", "store", "catalog", "paths", "tokens",
            "server", "copilot"},
}
# the engine modules the copilot may use: what it acts through, never a concrete engine
COPILOT_SEES_OF_THE_ENGINE = {"velocitas_desktop.engine.contract",
                              "velocitas_desktop.engine.errors"}
CONCRETE_ENGINES = {"velocitas_desktop.engine.engine", "velocitas_desktop.engine.host"}


def part(module: str) -> str:
    parts = module.split(".")
    return "." if len(parts) == 1 else parts[1]


def test_each_part_imports_only_the_parts_below_it():
    graph = import_graph()
    assert set(MAY_IMPORT) <= {part(m) for m in graph}
    bad = sorted(f"{module} -> {target}" for module, targets in graph.items()
                 for target in targets
                 if part(module) in MAY_IMPORT and part(target) != part(module)
                 and part(target) not in MAY_IMPORT[part(module)])
    assert bad == []


def test_views_reach_the_engine_only_through_its_contract_and_the_server_through_one_door():
    graph = import_graph()
    bad = sorted(f"{module} -> {target}" for module, targets in graph.items()
                 for target in targets
                 if part(module) in ("gui", "server")
                 and ((target in CONCRETE_ENGINES and module != "velocitas_desktop.gui.app")
                      or (part(module) == "gui" and part(target) == "server"
                          and target != "velocitas_desktop.server.embedded")))
    assert bad == []


def test_the_copilot_acts_on_the_engine_only_through_its_contract():
    graph = import_graph()
    copilot = {module: targets for module, targets in graph.items()
               if part(module) == "copilot"}
    assert "velocitas_desktop.copilot.service" in copilot
    bad = sorted(f"{module} -> {target}" for module, targets in copilot.items()
                 for target in targets
                 if part(target) == "engine" and target not in COPILOT_SEES_OF_THE_ENGINE)
    assert bad == []


def test_only_the_engine_and_the_views_import_the_copilot():
    graph = import_graph()
    bad = sorted(f"{module} -> {target}" for module, targets in graph.items()
                 for target in targets
                 if part(target) == "copilot" and part(module) not in
                 ("copilot", "engine", "server", "gui", "cli"))
    assert bad == []
