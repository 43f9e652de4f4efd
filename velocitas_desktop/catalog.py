"""Finds strategy classes in the built-in folder and the user's folders, and creates them.

A file that fails to import, or declares an invalid parameter, becomes a :class:`LoadProblem`
(its path and the reason) and does not stop the other files from loading.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from velocitas_desktop.core.errors import ParameterError, UnknownStrategyError
from velocitas_desktop.core.strategy import Strategy, StrategySpec, check_coin
from velocitas_desktop.core.types import timeframe_seconds

BUILTIN_PACKAGE = "velocitas_desktop.builtin_strategies"


@dataclass(frozen=True, slots=True)
class StrategyRef:
    """Where a strategy class lives, in a form any process can load: a module or a file."""

    class_name: str
    module: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    name: str
    cls: type[Strategy]
    ref: StrategyRef
    source: str  # file path, for messages


@dataclass(frozen=True, slots=True)
class LoadProblem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class Catalog:
    """The strategies available to this session, by name."""

    def __init__(self, infos: Iterable[StrategyInfo] = (),
                 problems: Iterable[LoadProblem] = ()) -> None:
        self.infos: dict[str, StrategyInfo] = {}
        self.problems: list[LoadProblem] = list(problems)
        for info in infos:
            self.add(info)

    def add(self, info: StrategyInfo) -> None:
        if info.name in self.infos:
            first = self.infos[info.name].source
            self.problems.append(LoadProblem(
                info.source, f"strategy {info.name!r} is already defined in {first}; ignored"))
            return
        self.infos[info.name] = info

    def names(self) -> list[str]:
        return list(self.infos)

    def get(self, name: str) -> type[Strategy]:
        return self.info(name).cls

    def info(self, name: str) -> StrategyInfo:
        try:
            return self.infos[name]
        except KeyError:
            known = ", ".join(self.infos) or "none loaded"
            raise UnknownStrategyError(
                f"unknown strategy {name!r}: available strategies are {known}") from None

    def validate(self, spec: StrategySpec) -> StrategySpec:
        """The spec with a checked coin, full typed parameters and a known timeframe."""
        cls = self.get(spec.name)
        coin = check_coin(spec.coin)
        params = cls.validate_params(spec.params)
        try:
            timeframe_seconds(spec.timeframe)
        except ValueError as exc:
            raise ParameterError(str(exc)) from None
        return StrategySpec(name=spec.name, coin=coin, params=params, timeframe=spec.timeframe,
                            strategy_id=spec.strategy_id, allow_short=spec.allow_short)

    def create(self, spec: StrategySpec) -> Strategy:
        return self.get(spec.name)(coin=spec.coin, timeframe=spec.timeframe, **spec.params)

    def schemas(self) -> list[dict[str, Any]]:
        return [info.cls.schema() for info in self.infos.values()]


def builtin_strategies_dir() -> Path:
    module = importlib.import_module(BUILTIN_PACKAGE)
    return Path(module.__file__).parent


def load_catalog(user_dirs: Iterable[str | Path] = (), builtin: bool = True) -> Catalog:
    """Load the built-in strategies and every ``*.py`` in ``user_dirs``."""
    catalog = Catalog()
    if builtin:
        folder = builtin_strategies_dir()
        for path in sorted(folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module_name = f"{BUILTIN_PACKAGE}.{path.stem}"
            _collect(catalog, path, lambda name=module_name: importlib.import_module(name))
    for folder in user_dirs:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            catalog.problems.append(LoadProblem(str(folder), "strategy folder does not exist"))
            continue
        for path in sorted(folder.glob("*.py")):
            if not path.name.startswith("_"):
                _collect(catalog, path, lambda p=path: load_file(p))
    return catalog


def _collect(catalog: Catalog, path: Path, load: Any) -> None:
    try:
        module = load()
    except (Exception, SystemExit) as exc:  # a broken plugin must not stop the others
        catalog.problems.append(LoadProblem(str(path), _describe(exc)))
        return
    found = False
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if issubclass(cls, Strategy) and cls is not Strategy and cls.__module__ == module.__name__:
            found = True
            is_file = module.__name__.startswith("velocitas_user_strategies.")
            ref = StrategyRef(cls.__name__, path=str(path) if is_file else "",
                              module="" if is_file else module.__name__)
            catalog.add(StrategyInfo(cls.name, cls, ref, str(path)))
    if not found:
        catalog.problems.append(LoadProblem(str(path), "defines no Strategy subclass"))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    return f"{type(exc).__name__}: {exc}"


def load_file(path: str | Path) -> Any:
    """Import a strategy file by path under a stable, unique module name."""
    path = Path(path).resolve()
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"velocitas_user_strategies.{path.stem}_{digest}"
    stamp = path.stat().st_mtime_ns
    cached = sys.modules.get(name)
    if cached is not None and getattr(cached, "__velocitas_mtime__", None) == stamp:
        return cached  # an edited file is imported again
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    module.__velocitas_mtime__ = stamp  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def resolve(ref: StrategyRef) -> type[Strategy]:
    """The class a :class:`StrategyRef` points to, importing it in this process if needed."""
    module = importlib.import_module(ref.module) if ref.module else load_file(ref.path)
    return getattr(module, ref.class_name)
