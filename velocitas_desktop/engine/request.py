"""What a user asks for: a session to start, strategies to run. One typed request for each,
with its cross-field rules and its messages, whichever front end asked.

The command line (``velocitas run``), ``POST /api/engine/start`` and the window's toolbar each
read their own form (flags, a query string, text fields) into a :class:`SessionRequest` with the
parsers below, and turn it into an :class:`EngineConfig` with :func:`session_config`. Messages
name the fields as the user typed them: each front end passes its :class:`Vocabulary`
(``--csv COIN=PATH`` on the command line, ``csv=COIN=PATH`` in a query, ``Files`` in the
window). Every error is a :class:`~velocitas_desktop.core.errors.ParameterError`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from velocitas_desktop.core.errors import ParameterError
from velocitas_desktop.core.strategy import StrategySpec, check_coin
from velocitas_desktop.core.types import TICK, timeframe_seconds
from velocitas_desktop.engine.config import (
    MAX_WORKERS,
    SOURCES,
    EngineConfig,
    PositionsChoice,
    SessionChoice,
)
from velocitas_desktop.feeds.simulated import session_start
from velocitas_desktop.paths import resolve_sample

Choice = TypeVar("Choice", bound=StrEnum)
DEFAULT_COINS = ("BTC", "ETH")
# What a strategy decides on unless told: one-minute bars. Deciding on every tick, the four
# built-ins on the simulated market made 228,000 fills in a 1,000,000-tick run and lost
# about 8,000,000 to fees (win rates near 1%); on 1m bars the same run makes 64.
# `velocitas run`, the window's Add-strategy form and its welcome share this value; the API's
# register keeps `tick` as its documented default.
DEFAULT_TIMEFRAME = "1m"
TIMEFRAME_KEY = "timeframe"  # the k=v key of --strategy that sets the timeframe
QUOTE_CURRENCIES = ("USDT", "USDC", "BUSD", "USD", "EUR")


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """How a front end spells the request's fields: ``names`` maps a field to what the user
    typed (``"--csv"``, ``"csv"``, ``"Files"``), ``assign`` joins a name to an example value,
    and ``hints`` adds what to do to a field's messages (``"choose the files with Browse…"``)."""

    names: Mapping[str, str] = field(default_factory=dict)
    assign: str = "="
    hints: Mapping[str, str] = field(default_factory=dict)

    def name(self, field_name: str) -> str:
        return self.names.get(field_name, field_name)

    def example(self, field_name: str, value: str) -> str:
        return f"{self.name(field_name)}{self.assign}{value}"

    def hint(self, field_name: str, message: str) -> str:
        hint = self.hints.get(field_name)
        return f"{message} — {hint}" if hint else message


PLAIN = Vocabulary()


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """A session to start, as asked for; :func:`session_config` checks it.

    ``None`` means "the default": BTC,ETH (or the coins of the csv files), the defaults' fee,
    slippage, capital, risk-free rate and exchange URLs; for a pace (``rate``, ``speed``) it
    means as fast as possible.
    """

    source: str = "simulated"
    coins: tuple[str, ...] | None = None
    csv_files: Mapping[str, str] = field(default_factory=dict)
    speed: float | None = None          # csv replay: 1 = real time
    rate: float | None = 1000.0         # simulated ticks per second, in total
    workers: int = 0
    fee: float | None = None
    slippage: float | None = None
    duration: float | None = None       # stop after this many seconds
    ticks: int | None = None            # stop after this many ticks
    seed: int | None = None
    start_time: float | None = None     # simulated: where the data clock begins (None: a
                                        # seeded run on 2024-01-01, an unseeded one at maximum
                                        # speed two days back, a paced one now)
    binance_rest_url: str | None = None
    binance_ws_url: str | None = None
    quote_asset: str | None = None
    capital: float | None = None        # each strategy's starting capital (quote currency)
    risk_free_rate: float | None = None  # yearly, for Sharpe
    min_free_mb: float | None = None    # free space kept on the journal's disk (0: no guard)
    session: str = SessionChoice.AUTO   # go on with the last session (auto, continue) or new
    positions: str = PositionsChoice.CLOSE  # a new session: close or carry the open positions


def session_config(request: SessionRequest, defaults: EngineConfig | None = None, *,
                   max_workers: int | None = None,
                   words: Vocabulary = PLAIN) -> EngineConfig:
    """The :class:`EngineConfig` for ``request`` over ``defaults``; ParameterError naming the
    field (as ``words`` spells it) and what to do."""
    defaults = defaults or EngineConfig()
    source = request.source
    if source not in SOURCES:
        raise ParameterError(f"{words.name('source')} {source!r} is not a data source: choose "
                             + ", ".join(SOURCES))
    files = dict(request.csv_files)
    if source == "csv" and not files:
        raise ParameterError(words.hint("csv_files", f"{words.example('source', 'csv')} needs "
                             f"{words.example('csv_files', 'COIN=PATH')} for each coin"))
    if source != "csv" and files:
        raise ParameterError(f"{words.name('csv_files')} is only used with "
                             f"{words.example('source', 'csv')}")
    coins = _session_coins(request, files, defaults, words)
    _check_positive(request, ("rate", "speed", "duration"), words)
    if request.ticks is not None and request.ticks < 1:
        raise ParameterError(f"{words.name('ticks')} must be at least 1")
    if request.workers < 0:
        raise ParameterError(f"{words.name('workers')} must be 0 or more")
    if max_workers is not None and request.workers > max_workers:
        raise ParameterError(f"{words.name('workers')} must be at most {max_workers} on this "
                             "server")
    fee = defaults.fee if request.fee is None else request.fee
    slippage = defaults.slippage if request.slippage is None else request.slippage
    for name, value in (("fee", fee), ("slippage", slippage)):
        if not 0 <= value < 1:
            raise ParameterError(f"{words.name(name)} must be a fraction from 0 to 1 "
                                 "(0.001 = 0.1%)")
    capital, risk_free = _account(request, defaults, words)
    session = _choice(SessionChoice, request.session, "session", words)
    positions = _choice(PositionsChoice, request.positions, "positions", words)
    start_time = request.start_time
    if start_time is None and source == "simulated":
        start_time = session_start(request.seed, request.rate is not None, time.time())
    min_free = defaults.min_free_mb if request.min_free_mb is None else request.min_free_mb
    if not (min_free >= 0 and math.isfinite(min_free)):
        raise ParameterError(f"{words.name('min_free_mb')} is the free space to keep on the "
                             f"journal's disk, in MB: 0 or more (got {min_free:g})")
    return dataclasses.replace(
        defaults, source=source, coins=coins, csv_files=files, speed=request.speed,
        rate=request.rate,
        workers=request.workers, fee=fee, slippage=slippage, seed=request.seed,
        max_ticks=request.ticks, duration=request.duration, start_time=start_time,
        binance_rest_url=request.binance_rest_url or defaults.binance_rest_url,
        binance_ws_url=request.binance_ws_url or defaults.binance_ws_url,
        quote_asset=(request.quote_asset or defaults.quote_asset).upper(), capital=capital,
        risk_free_rate=risk_free, min_free_mb=float(min_free), session=session,
        positions=positions)


def _choice(kind: type[Choice], value: str, field_name: str, words: Vocabulary) -> Choice:
    """``value`` as one of ``kind``'s members; ParameterError listing them if it is none."""
    try:
        return kind(value)
    except ValueError:
        raise ParameterError(f"{words.name(field_name)} must be "
                             f"{' or '.join(member.value for member in kind)} "
                             f"(got {value!r})") from None


def _account(request: SessionRequest, defaults: EngineConfig,
             words: Vocabulary) -> tuple[float, float]:
    """The starting capital and the risk-free rate asked for, checked."""
    capital = defaults.capital if request.capital is None else request.capital
    if not (capital > 0 and math.isfinite(capital)):
        raise ParameterError(f"{words.name('capital')} must be a positive amount in the quote "
                             f"currency, like 10000 (got {capital:g})")
    rate = defaults.risk_free_rate if request.risk_free_rate is None else request.risk_free_rate
    if not -1 < rate < 1:
        raise ParameterError(f"{words.name('risk_free_rate')} must be a yearly fraction, like "
                             f"0.04 for 4% (got {rate:g})")
    return float(capital), float(rate)


def check_config(config: EngineConfig) -> None:
    """The same rules for a configuration made directly (tests, embedding): ParameterError if
    it breaks one; the coins are normalised in place."""
    request = SessionRequest(
        source=config.source, coins=None if config.source == "csv" else tuple(config.coins),
        csv_files=config.csv_files, speed=config.speed, rate=config.rate,
        workers=config.workers, fee=config.fee, slippage=config.slippage,
        duration=config.duration, ticks=config.max_ticks, capital=config.capital,
        risk_free_rate=config.risk_free_rate, min_free_mb=config.min_free_mb,
        session=config.session, positions=config.positions)
    checked = session_config(request, config, max_workers=MAX_WORKERS)
    config.coins, config.session, config.positions = (checked.coins, checked.session,
                                                      checked.positions)


def _session_coins(request: SessionRequest, files: dict[str, str], defaults: EngineConfig,
                   words: Vocabulary) -> list[str]:
    if request.coins is None:
        return list(files) if request.source == "csv" else list(defaults.coins)
    coins = [check_coin(c) for c in request.coins]
    if not coins:
        raise ParameterError(f"{words.name('coins')}: give at least one coin, like BTC,ETH")
    if request.source == "csv" and set(coins) != set(files):
        raise ParameterError(f"{words.name('coins')} must match the coins given with "
                             f"{words.name('csv_files')}")
    return coins


def _check_positive(request: SessionRequest, names: Iterable[str], words: Vocabulary) -> None:
    for name in names:
        value = getattr(request, name)
        if value is not None and not value > 0:
            raise ParameterError(f"{words.name(name)} must be positive (got {value:g})")


# --- parsing what a user typed ---------------------------------------------------------------

def parse_coins(text: str, words: Vocabulary = PLAIN) -> tuple[str, ...]:
    """``"btc, eth"`` → ``("BTC", "ETH")``: checked, in order, without repeats."""
    coins: list[str] = []
    for part in text.split(","):
        if part.strip():
            coin = check_coin(part)
            if coin not in coins:
                coins.append(coin)
    if not coins:
        raise ParameterError(f"{words.name('coins')}: give at least one coin, like BTC,ETH")
    return tuple(coins)


def parse_csv_files(items: Iterable[str], words: Vocabulary = PLAIN, *,
                    must_exist: bool = True) -> dict[str, str]:
    """``["BTC=btc.csv", "eth-1m.csv"]`` → ``{"BTC": "btc.csv", "ETH": "eth-1m.csv"}``: each
    item is COIN=PATH, or a bare path whose file name starts with the coin. A PATH may name a
    sample shipped with Velocitas (``sample:BTCUSD-1h``)."""
    files: dict[str, str] = {}
    for item in items:
        text = item.strip()
        if not text:
            continue
        coin, sep, path = text.partition("=")
        if not sep:
            path = _sample_or_path(text, words)
            coin = coin_from_filename(path)
        path = _sample_or_path(path.strip(), words)
        if not coin.strip() or not path:
            raise ParameterError(f"{words.name('csv_files')} {item!r}: give it as "
                                 "COIN=PATH, like BTC=btc-1m.csv")
        files[check_coin(coin)] = _local_file(path, words) if must_exist else path
    return files


def _local_file(path: str, words: Vocabulary) -> str:
    """``path`` with ``~`` expanded; ParameterError unless it names a file (missing, or a
    name the system refuses: an unknown ``~user``, a NUL, over 255 bytes), in one line."""
    try:
        local = Path(path).expanduser()
        found = local.is_file()  # False for a missing file; raises for a name it refuses
    except (OSError, RuntimeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ParameterError(words.hint(
            "csv_files", f"cannot use {_cut(path)} as a file: {reason}")) from None
    if not found:
        raise ParameterError(words.hint("csv_files", f"no such file {path}"))
    return str(local)


def _cut(text: str, most: int = 80) -> str:
    return text if len(text) <= most else f"{text[:most]}… ({len(text):,} characters)"


class OutsideDataFolders(ParameterError):
    """A csv file outside the folders a server reachable from the network may read."""


def confine_csv_files(files: Mapping[str, str], folders: Sequence[Path],
                      words: Vocabulary = PLAIN) -> dict[str, str]:
    """``files`` (coin → path) with each path inside one of ``folders``: a relative path is
    looked up in each folder in turn, the first file found wins; an absolute one must lie in
    a folder. Links and ``..`` are resolved first, so neither leads out. OutsideDataFolders
    naming the folders if a path leads out (said before anything is read, so the reply tells
    nothing about files elsewhere); ParameterError if no folder holds the file."""
    roots = [Path(folder).expanduser().resolve() for folder in folders]
    confined: dict[str, str] = {}
    for coin, text in files.items():
        try:
            found = _locate(Path(text).expanduser(), roots)
        except OutsideDataFolders:
            shown = ", ".join(str(root) for root in roots)
            raise OutsideDataFolders(
                f"{words.name('csv_files')} {coin}={text}: this server reads csv files only "
                f"from its data folders ({shown}); put the file there and name it by its "
                "file name") from None
        if found is None:
            raise ParameterError(words.hint("csv_files", f"no such file {text} in the data "
                                            "folders"))
        confined[coin] = str(found)
    return confined


def find_bare_names(files: Mapping[str, str], folders: Sequence[Path]) -> dict[str, str]:
    """``files`` (coin → path) with each bare file name that names no file where the server
    runs looked up in ``folders`` (the first holding it wins); other paths as given. On
    loopback a caller may name any file, but one typing ``BTCUSD-1h-sample.csv`` in a browser
    means the file in the data folders, not one in the server's working directory."""
    found: dict[str, str] = {}
    for coin, text in files.items():
        path = Path(text).expanduser()
        if path.name == text and not path.is_file():
            for folder in folders:
                candidate = Path(folder).expanduser() / text
                if candidate.is_file():
                    text = str(candidate.resolve())
                    break
        found[coin] = text
    return found


def _locate(path: Path, roots: Sequence[Path]) -> Path | None:
    """The file ``path`` names inside ``roots``, or None; OutsideDataFolders if it leads out."""
    candidates = [path.resolve()] if path.is_absolute() else \
        [(root / path).resolve() for root in roots]
    inside = False
    for candidate in candidates:
        if any(candidate.is_relative_to(root) for root in roots):
            inside = True
            if candidate.is_file():
                return candidate
        elif candidate.exists():  # a link in a folder, or a "..", that leads to a file out
            raise OutsideDataFolders(str(path))
    if not inside:
        raise OutsideDataFolders(str(path))
    return None


def _sample_or_path(text: str, words: Vocabulary) -> str:
    try:
        return resolve_sample(text)
    except ValueError as exc:
        raise ParameterError(f"{words.name('csv_files')}: {exc}") from None


def coin_from_filename(path: str) -> str:
    """``BTCUSDT-1m-2024-01.csv`` → ``BTC``: the leading letters without a quote currency."""
    stem = Path(path).name.split("-")[0].split("_")[0].split(".")[0].upper()
    for quote in QUOTE_CURRENCIES:
        if stem.endswith(quote) and len(stem) > len(quote):
            return stem[: -len(quote)]
    return "".join(ch for ch in stem if ch.isalnum())[:15] or "COIN"


def parse_pace(text: str, field_name: str, words: Vocabulary = PLAIN) -> float | None:
    """A rate or speed as typed: ``max`` (or nothing) → None, else a positive number
    (``60``, ``60x``)."""
    raw = text.strip().lower()
    if raw in ("max", ""):
        return None
    try:
        value = float(raw.rstrip("x"))
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ParameterError(f"{words.name(field_name)} must be a positive number or max "
                             f"(got {text!r})")
    return value


def parse_params(text: str, what: str) -> dict[str, str]:
    """``"fast=10,slow=30"`` → ``{"fast": "10", "slow": "30"}`` (typed later, by the
    strategy's declaration); ``what`` names the text in messages."""
    params: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(f"{what}: parameters are k=v pairs, like fast=10")
        params[key.strip()] = value.strip()
    return params


def parse_strategy(text: str, default_coins: Iterable[str], flag: str = "--strategy",
                   timeframe: str = DEFAULT_TIMEFRAME) -> list[StrategySpec]:
    """``NAME:COIN[:k=v,...]`` → one spec; ``NAME`` (or ``NAME::k=v,...``) → one spec for each
    of ``default_coins``. ``timeframe=1m`` among the pairs sets what it decides on (else
    ``timeframe``); the other pairs are its parameters."""
    parts = text.split(":", 2)
    name = parts[0].strip()
    if not name:
        raise ParameterError(f"{flag} {text!r}: give it as NAME:COIN[:k=v,...]")
    coin_text = parts[1].strip() if len(parts) > 1 else ""
    if "=" in coin_text:
        raise ParameterError(f"{flag} {text!r}: the coin comes before the parameters: "
                             f"{name}:COIN:{coin_text} (or {name}::{coin_text} for every coin)")
    coins = [check_coin(coin_text)] if coin_text else list(default_coins)
    params = parse_params(parts[2], f"{flag} {text!r}") if len(parts) > 2 else {}
    chosen = check_timeframe(params.pop(TIMEFRAME_KEY, timeframe), f"{flag} {text!r}")
    return [StrategySpec(name, coin, params, chosen) for coin in coins]


def check_timeframe(text: str, what: str = "timeframe") -> str:
    """``text`` if it names a timeframe (``tick``, ``1m``, ``1h``...); ParameterError listing
    the choices if not."""
    timeframe = text.strip()
    try:
        timeframe_seconds(timeframe)
    except ValueError as exc:
        raise ParameterError(f"{what}: {exc}") from None
    return timeframe


def default_timeframe(source: str) -> str:
    """What strategies decide on when the user does not say: 1m bars built from the ticks of
    the simulated market or Binance; for a csv replay every price is already a bar's close,
    so ``tick`` decides on the file's own bars without waiting a bar more for them."""
    return TICK if source == "csv" else DEFAULT_TIMEFRAME


def parse_named_params(text: str, flag: str = "--strategy") -> tuple[str, dict[str, str]]:
    """``NAME[:k=v,...]`` → the strategy's name and its parameters as typed."""
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ParameterError(f"{flag} {text!r}: give it as NAME[:k=v,...]")
    return name, parse_params(rest, f"{flag} {text!r}")


def strategy_spec(name: str, coin: str, params: Mapping[str, Any] | None = None,
                  timeframe: str | None = None, strategy_id: str | None = None,
                  allow_short: bool = False) -> StrategySpec:
    """A strategy to register, from the fields every front end asks for (the API's
    ``RegisterIn``, the window's form); the engine validates it against its catalogue."""
    spec = StrategySpec(name.strip(), check_coin(coin), dict(params or {}),
                        strategy_id=strategy_id or "", allow_short=allow_short)
    return dataclasses.replace(spec, timeframe=timeframe) if timeframe else spec
