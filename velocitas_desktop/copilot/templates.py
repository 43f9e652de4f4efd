"""Alert message templates: ``"{coin} crossed {threshold} at {price:,.2f}"`` checked and filled.

A template is Python's format syntax limited to the placeholders in :data:`PLACEHOLDERS` (and
those its condition type adds: its parameters and figures), each with an optional format spec (``{price:,.2f}``, ``{time:%H:%M}``). A template is checked when
the rule is saved (:func:`template_problem`), so an alert never fails to render: a value the
alert does not have (a strategy alert has no price) renders as ``n/a`` whatever its spec.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

PLACEHOLDERS: dict[str, str] = {
    "coin": "the coin (BTC); n/a for a strategy or engine alert without one",
    "price": "the price that triggered the alert",
    "value": "the condition's value: the price, the RSI, the move in %, the drawdown...",
    "threshold": "the level the condition compares with",
    "strategy": "the strategy's id, for strategy alerts",
    "time": "when it happened, UTC (format it with {time:%H:%M:%S})",
    "rule": "the rule's name",
}
MISSING = "n/a"
_FORMATTER = string.Formatter()
# what a check renders each placeholder with, so a spec that does not suit it fails then
_SAMPLE: dict[str, Any] = {"coin": "BTC", "price": 70012.5, "value": 70012.5,
                           "threshold": 70000.0, "strategy": "BTC_SMA",
                           "time": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "rule": "rule"}


def template_problem(template: str, extra: Mapping[str, Any] | None = None,
                     kind: str = "") -> str | None:
    """A sentence saying what is wrong with ``template``, or None if it renders. ``extra``:
    the placeholders a ``kind`` of condition adds (its parameters and figures), with a
    sample value of each."""
    if not isinstance(template, str):
        return f"must be text (got {type(template).__name__})"
    try:
        fields = list(_FORMATTER.parse(template))
    except ValueError as exc:
        return _syntax(str(exc))
    extra = dict(extra or {})
    samples = {**_SAMPLE, **extra}
    names = ", ".join("{" + name + "}" for name in PLACEHOLDERS)
    if extra:
        names += f"; a {kind} rule's also " + ", ".join("{" + name + "}" for name in extra
                                                       if name not in PLACEHOLDERS)
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name == "":
            return f"has an empty placeholder {{}}: name one of {names}"
        if name not in samples:
            return f"has an unknown placeholder {{{name}}}: the placeholders are {names}"
        if conversion not in (None, "r", "s", "a"):
            return f"has an unknown conversion !{conversion} in {{{name}}}"
        if "{" in (spec or ""):
            return f"nests a placeholder in the format spec of {{{name}}}; write the spec out"
        try:
            _format(samples[name], spec or "", conversion)
        except (ValueError, TypeError):
            what = "text" if isinstance(samples[name], str) else (
                "a time" if name == "time" else "a number")
            return f"has a format spec {spec!r} that does not suit {{{name}}} ({what})"
    return None


def _syntax(error: str) -> str:
    if "Single '}'" in error:
        return "has a '}' with no '{' before it: write '}}' for a brace in the text"
    if "Single '{'" in error or "expected '}'" in error:
        return "has a '{' that is not closed: close the placeholder, or write '{{' for a brace"
    return f"is not a valid template ({error})"


def render(template: str, values: dict[str, Any]) -> str:
    """``template`` filled with ``values`` (placeholders absent or None read ``n/a``).

    Numbers without a spec read as a trader writes them: ``70,000`` for a whole level,
    ``70,012.50`` for a price; the time without a spec reads ``2026-01-02 03:04:05 UTC``."""
    out = []
    for literal, name, spec, conversion in _FORMATTER.parse(template):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            if name == "time" and isinstance(value, int | float):
                value = datetime.fromtimestamp(value, UTC)
            out.append(_format(value, spec or "", conversion))
    return "".join(out)


def _format(value: Any, spec: str, conversion: str | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if conversion:
        value = _FORMATTER.convert_field(value, conversion)
    if spec:
        return format(value, spec)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return str(value)


def number_text(value: float) -> str:
    """``70,000`` for a whole number, ``70,012.50`` from 1 up, six significant digits below
    (a coin at 0.000123 keeps its digits)."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.6g}"
