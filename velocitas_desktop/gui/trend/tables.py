"""The Trend tab's tables declared as columns: one row per timeframe, one per suggestion.

The rows are read from the report JSON (docs/trend.md) as the analyzer wrote it; a figure
the report leaves out (None, a timeframe with too few bars) stays an empty cell.
"""

from __future__ import annotations

from typing import Any

from velocitas_desktop.gui.plots import price_text
from velocitas_desktop.gui.table import CATEGORY, CODES, FLOAT, INT, NUMBERS, TEXT, Column, Kind


def _by_direction(value: str) -> str | None:
    return {"up": "up", "down": "down"}.get(value)


def _by_sign(value: float) -> str | None:
    return "up" if value > 0 else "down" if value < 0 else None


def _as_text(value: Any, fmt: str) -> str:
    return str(value)


def _as_signed_percent(value: float, fmt: str) -> str:
    return f"{value:{fmt}}%"


DIRECTION = Kind("direction", CODES, _as_text, align="left", colour=_by_direction,
                 sample="sideways")
# a return or a difference of returns, in percent, green above zero and red below
SIGNED_PERCENT = Kind("signed_percent", NUMBERS, _as_signed_percent, fmt="+,.2f",
                      colour=_by_sign, sample=-123.45)

TIMEFRAME_COLUMNS = (
    Column("timeframe", "Timeframe", CATEGORY),
    Column("direction", "Direction", DIRECTION),
    Column("strength", "Strength", CATEGORY),
    Column("adx", "ADX", FLOAT, ".1f"),
    Column("slope_t", "Slope t", FLOAT, "+.1f"),
    Column("r2", "R²", FLOAT, ".2f"),
    Column("moving_averages", "Averages", TEXT),
    Column("volatility", "Volatility", TEXT),
    Column("character", "Character", TEXT),
    Column("support", "Support", TEXT),
    Column("resistance", "Resistance", TEXT),
    Column("summary", "Summary", TEXT),
)

SUGGESTION_COLUMNS = (
    Column("rank", "#", INT),
    Column("strategy", "Strategy", CATEGORY),
    Column("params", "Parameters", TEXT),
    Column("timeframe", "On", CATEGORY),
    Column("in_sample_score", "Score (in)", FLOAT),
    Column("out_of_sample_score", "Score (out)", FLOAT),
    Column("oos_return_pct", "Return (out)", SIGNED_PERCENT),
    Column("trades", "Trades", INT),
    Column("fees", "Fees", FLOAT),
    Column("vs_hold", "vs hold", SIGNED_PERCENT),
    Column("verdict", "Verdict", TEXT),
)


def _nearest(levels: list[dict[str, Any]], kind: str) -> str:
    """The nearest level of ``kind`` as ``71,200.00 (4×, +3.2%)``."""
    for level in levels:  # the report lists them nearest first
        if level.get("kind") == kind:
            distance = level.get("distance_pct")
            away = "" if distance is None else f", {distance:+.1f}%"
            return f"{price_text(level['price'])} ({level.get('touches', 0)}×{away})"
    return ""


def _averages(averages: dict[str, Any]) -> str:
    text = averages.get("alignment") or ""
    cross = averages.get("last_cross")
    if cross:
        text += f", {cross['kind']} cross {cross['bars_ago']} bars ago"
    return text


def _volatility(volatility: dict[str, Any]) -> str:
    regime = volatility.get("regime") or ""
    atr, rank = volatility.get("atr_pct"), volatility.get("atr_percentile")
    parts = [regime]
    if atr is not None:
        parts.append(f"ATR {atr:.2f}%")
    if rank is not None:
        parts.append(f"p{rank:.0f}")
    return " · ".join(p for p in parts if p)


def _character(character: dict[str, Any]) -> str:
    label = (character.get("label") or "").replace("_", "-")
    parts = [label]
    if character.get("hurst") is not None:
        parts.append(f"H {character['hurst']:.2f}")
    if character.get("variance_ratio") is not None:
        parts.append(f"VR {character['variance_ratio']:.2f}")
    if character.get("p_value") is not None:
        parts.append(f"p {character['p_value']:.3f}")
    return " · ".join(p for p in parts if p)


def timeframe_row(frame: dict[str, Any]) -> dict[str, Any]:
    """One timeframe of the report as a row of :data:`TIMEFRAME_COLUMNS`."""
    row: dict[str, Any] = {"timeframe": frame["timeframe"],
                           "summary": frame.get("summary") or frame.get("message") or ""}
    if not frame.get("ok"):
        row["direction"] = "—"
        return row
    adx = frame.get("adx") or {}
    regression = frame.get("regression") or {}
    levels = frame.get("levels") or []
    row.update(direction=frame.get("direction"), strength=frame.get("strength"),
               adx=adx.get("adx"), slope_t=regression.get("t_stat"), r2=regression.get("r2"),
               moving_averages=_averages(frame.get("moving_averages") or {}),
               volatility=_volatility(frame.get("volatility") or {}),
               character=_character(frame.get("character") or {}),
               support=_nearest(levels, "support"), resistance=_nearest(levels, "resistance"))
    return row


def params_text(params: dict[str, Any]) -> str:
    """``fast=10  slow=40``: a suggestion's parameters as the table shows them."""
    return "  ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


def suggestion_row(item: dict[str, Any], rank: int, rejected: bool = False) -> dict[str, Any]:
    """A suggestion (or, ``rejected``, a strategy that did not beat holding or cash) as a row
    of :data:`SUGGESTION_COLUMNS`; ``rank`` numbers the rows of the list, both kinds."""
    oos, hold = item.get("oos_return_pct"), item.get("hold_return_pct")
    if not rejected:
        verdict = "beats hold and cash"
    elif not item.get("beats_hold", False):
        verdict = "below holding"
    else:
        verdict = "below cash"
    return {"rank": rank, "strategy": item["strategy"],
            "params": params_text(item.get("params") or {}),
            "timeframe": item.get("timeframe") or "",
            "in_sample_score": item.get("in_sample_score"),
            "out_of_sample_score": item.get("out_of_sample_score"),
            "oos_return_pct": oos, "trades": item.get("trades"), "fees": item.get("fees"),
            "vs_hold": None if oos is None or hold is None else oos - hold,
            "verdict": verdict}


__all__: list[str] = ["SUGGESTION_COLUMNS", "TIMEFRAME_COLUMNS", "params_text",
                      "suggestion_row", "timeframe_row"]
