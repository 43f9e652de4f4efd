"""Numbers as JSON can carry them: NaN and infinities (a profit factor without a loss, a price
not seen yet) become None, the one conversion every view and report uses."""

from __future__ import annotations

import math
from typing import Any


def finite_or_none(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None, inside dicts, lists and
    tuples too (a tuple comes back as a list, as JSON has no tuples)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(item) for item in value]
    return value
